package capture

import (
	"os"
	"path/filepath"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the decoded configuration of a capture stage; Spec documents
// each field.
type Config struct {
	// File is the capture file to read.
	File string `yaml:"file"`
	// Speed is max, realtime or a factor such as 10x.
	Speed string `yaml:"speed"`
	// Loop replays the file again from the start at its end.
	Loop bool `yaml:"loop"`
	// Progress is auto, always or never.
	Progress string `yaml:"progress"`
	// BatchSize is the most frames per emitted batch.
	BatchSize int `yaml:"batch_size"`
}

// Validate checks that exactly one input is given. Today the only input
// is file; live inputs (interface:) will be counted here as well.
func (c *Config) Validate() error {
	if c.File == "" {
		return &spec.FieldError{Field: "file", Msg: "no input given; set file: to a pcap or pcapng capture"}
	}
	return nil
}

// captureSpec is the capture stage's spec: the single source of its fields,
// defaults and docs.
var captureSpec = &spec.Component{
	Name:      "capture",
	Role:      spec.RoleStage,
	Source:    true,
	Stability: spec.Beta,
	Emits:     event.KindsOf(event.Raw),
	Summary:   "Read packets from a pcap or pcapng file (gzip too), at full speed or paced by their timestamps, once or in a loop.",
	Description: `The capture stage is the source of a pipeline: it emits raw frames, in batches, for decode to take apart.

Files. The format is detected from the first bytes, never from the name: pcap with microsecond or nanosecond timestamps in either byte order, pcapng (several interfaces with their own link types and timestamp resolutions, several sections, either byte order), and either one gzip-compressed. Every frame carries the link type of its own interface; in a pcapng file the interfaces of all sections are numbered in order, so frames of different sections never share an interface number. Simple Packet Blocks carry no timestamp and get the timestamp of the frame before them. A file that cannot be opened, is not a capture or has an unreadable header stops the pipeline from starting, with a message naming the path.

Speed. max reads as fast as downstream takes frames. realtime keeps the spacing of the packets' timestamps, and Nx divides it by N (10x is ten times faster, 0.5x half as fast); frames due within a millisecond of each other go out together. While paused, a paced replay's schedule stops too, so it resumes where it was instead of rushing. Packet time, not wall time, is what every later stage sees, so a replay gives the same flows at any speed.

Loop. With loop: true the file is read again from the start at its end, forever, and every pass is shifted in packet time by the span of the previous one plus one second, so packet time keeps increasing and timeouts downstream behave as on a long live capture. A file without packets is not looped.

End of file. At the end the last partial batch is sent, one summary line is logged (packets, bytes, duration, packets per second) and the stage finishes, so the pipeline drains and exits. A file that is cut short or damaged after its header ends the same way: everything before the damage is delivered, a warning names the file and the error, and read_errors counts it. Records whose captured length exceeds the snapshot length, or the original length, are read and counted rather than dropped; a frame's wire length is raised to its captured length when the file claims less, so a frame's data is never longer than its wire length.

Backpressure. A file source blocks when downstream is full: nothing is dropped, the replay simply waits. Pausing the pipeline (stop-monitoring) holds the replay between batches. On a stop (SIGINT or SIGTERM) the stage stops within one batch, or at once while a paced replay waits, and what it read is delivered.

Progress. At max speed with standard error on a terminal, a progress bar shows bytes read, throughput, packets per second and the time left.`,
	Fields: []*spec.Field{
		spec.String("file").Ex("captures/trace.pcapng").
			Description("Capture file to read: pcap or pcapng, optionally gzip-compressed (detected from the content, not the name). A relative path is resolved from the pipeline file's directory."),
		spec.String("speed").Default("max").Check(checkSpeed).
			Description("Replay speed: max (as fast as downstream accepts), realtime (the capture's own packet spacing), or a factor such as 10x or 0.5x."),
		spec.Bool("loop").Default("false").
			Description("At the end of the file, start again from the beginning, forever; packet time keeps increasing from pass to pass."),
		spec.Enum("progress", "auto", "always", "never").Default("auto").
			Description("Progress bar on standard error: auto shows it at max speed when standard error is a terminal; always and never force it on or off."),
		spec.Int("batch_size").Default("256").Range(1, 65536).Adv().
			Description("Most frames per batch sent downstream. Larger batches cost less per frame; a paced replay sends smaller ones as frames fall due."),
	},
	Examples: []spec.Example{
		{Title: "Analyse a capture as fast as possible", YAML: "file: captures/trace.pcapng\n"},
		{Title: "Demo: replay the sample in real time, forever", YAML: "file: examples/sample.pcapng\nspeed: realtime\nloop: true\n"},
		{Title: "Replay a compressed capture ten times faster than recorded", YAML: "file: captures/day.pcap.gz\nspeed: 10x\nprogress: never\n"},
	},
	Metrics: []spec.Metric{
		{Name: "packets_read", Doc: "frames read from the file and sent downstream"},
		{Name: "bytes_read", Doc: "sum of the frames' original (wire) lengths, the figure byte counters downstream use"},
		{Name: "read_errors", Doc: "passes over the file that ended at damage (a cut-short or corrupt file) instead of a clean end"},
		{Name: "caplen_exceeds_snaplen", Doc: "frames longer than the snapshot length their interface declares (read anyway)"},
		{Name: "caplen_exceeds_wirelen", Doc: "frames whose captured length exceeds their stated original length (wire length raised to the captured length)"},
		{Name: "passes", Doc: "passes over the file that reached its end, or its damage (more than one with loop)"},
	},
}

func init() { pipeline.Register(captureSpec, newSource) }

// newSource opens the file and reads its header, so a wrong path or a
// file that is not a capture is reported before the pipeline starts.
func newSource(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	speed, err := parseSpeed(cfg.Speed)
	if err != nil {
		return nil, err
	}
	path := cfg.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(bc.Dir, path)
	}
	cf, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &source{
		path:      path,
		speed:     speed,
		loop:      cfg.Loop,
		progress:  cfg.Progress,
		batchSize: cfg.BatchSize,
		stderr:    os.Stderr,
		first:     cf,
	}, nil
}
