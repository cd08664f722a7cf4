package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

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

	// Interface is the network interface to capture on live.
	Interface string `yaml:"interface"`
	// Backend is afpacket or pcap.
	Backend string `yaml:"backend"`
	// BPF is a tcpdump filter expression.
	BPF string `yaml:"bpf"`
	// Promiscuous puts the interface in promiscuous mode.
	Promiscuous bool `yaml:"promiscuous"`
	// Snaplen is the most bytes kept of each frame.
	Snaplen int `yaml:"snaplen"`
	// RingSize is the kernel ring of each worker, in bytes.
	RingSize int64 `yaml:"ring_size"`
	// BlockSize is the size of one ring block.
	BlockSize int64 `yaml:"block_size"`
	// BlockTimeout hands a partly filled block over after this long.
	BlockTimeout time.Duration `yaml:"block_timeout"`
	// Workers is the number of capture sockets and threads; 0 means one
	// per CPU.
	Workers int `yaml:"workers"`
	// User is the account to switch to once the sockets are open.
	User string `yaml:"user"`
	// Netns is the network namespace the interface lives in.
	Netns string `yaml:"netns"`
}

// Validate checks that exactly one input is given, file or interface,
// and that live-only settings are not given with a file.
func (c *Config) Validate() error {
	switch {
	case c.File == "" && c.Interface == "":
		return &spec.FieldError{Field: "file", Msg: "no input given; set file: to a pcap or pcapng capture, or interface: to capture live (see nfpipe interfaces)"}
	case c.File != "" && c.Interface != "":
		return &spec.FieldError{Field: "interface", Msg: "give either file: or interface:, not both"}
	}
	if c.File != "" {
		for name, v := range map[string]string{"bpf": c.BPF, "user": c.User, "netns": c.Netns} {
			if v != "" {
				return &spec.FieldError{Field: name, Msg: name + ": applies to live capture (interface:) only; remove it or capture live"}
			}
		}
		return nil
	}
	if c.BlockSize%int64(os.Getpagesize()) != 0 || c.BlockSize < 64<<10 {
		return &spec.FieldError{Field: "block_size", Msg: fmt.Sprintf("must be a multiple of the page size (%d bytes) and at least 64KiB, e.g. 1MiB", os.Getpagesize())}
	}
	if c.RingSize < 2*c.BlockSize {
		return &spec.FieldError{Field: "ring_size", Msg: fmt.Sprintf("must hold at least two blocks of block_size (%d bytes)", c.BlockSize)}
	}
	if c.BlockTimeout < time.Millisecond || c.BlockTimeout > time.Minute {
		return &spec.FieldError{Field: "block_timeout", Msg: "must be between 1ms and 1m"}
	}
	if c.Backend == "pcap" && c.Workers > 1 {
		return &spec.FieldError{Field: "workers", Msg: "the pcap backend reads one socket; use backend: afpacket for several workers"}
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
	Summary:   "Capture packets live from a network interface (AF_PACKET with fanout, or libpcap) with tcpdump filters, or read a pcap or pcapng file (gzip too) at full speed or paced, once or in a loop.",
	Description: `The capture stage is the source of a pipeline: it emits raw frames, in batches, for decode to take apart. Give it exactly one input: interface: to capture live, or file: to read a capture.

Live capture. interface: names the interface (default means the interface of the default route; nfpipe interfaces lists them). The afpacket backend opens one AF_PACKET socket per worker, each with its own TPACKET_V3 ring of ring_size bytes in memory shared with the kernel, and joins them in one fanout group with a symmetric flow hash, so both directions of a connection always reach the same worker; IPv4 fragments are reassembled by the kernel before they are spread (so a fragmented datagram counts as one packet of its full length when workers is above 1). Every batch carries its worker's number as its shard, so with shards: N on decode and sessionize each worker's traffic runs through its own decode and sessionize instance. Packet time is the kernel's receive timestamp, in nanoseconds. VLAN tags the kernel took off are put back into the frames, as tcpdump shows them. The pcap backend opens the interface with libpcap instead, for interfaces an AF_PACKET ring cannot capture: one handle, so one worker and no fanout (workers above 1 are refused); snaplen, promiscuous, ring_size (libpcap's buffer) and block_timeout (libpcap's packet buffer timeout) apply, block_size does not, and libpcap puts the VLAN tags back. It exists only in builds made with -tags pcap, which link libpcap (libpcap-dev to build, libpcap at run time); other builds refuse backend: pcap and say so.

Filters. bpf: takes tcpdump's syntax in full (portrange, vlan, ip6 and tcp, ...). It is compiled by libpcap for the interface (on a handle opened on it, so that vlan tests the tag the kernel moved out of the frame): linked in, in builds with libpcap, else by running tcpdump -ddd (install tcpdump), which prints the same program; it runs in the kernel, so filtered-out packets cost nothing and never fill the ring. A filter that does not compile stops the pipeline from starting with libpcap's message.

Drops are never silent. The kernel's counters of every socket are read every second: packets it handed over, packets it dropped because the ring was full (kernel_drops) and how often the ring froze (kernel_freezes), in total and per worker; a warning is logged when drops grow. With the pcap backend they come from pcap_stats: kernel_packets and kernel_drops mean the same, interface_drops counts what the interface itself dropped (not for a capture in another network namespace, whose interface statistics libpcap cannot read), and libpcap has no freeze count. The pipeline's own queue drops and those of decode and the sinks are counted in their components. All of them are in the status API and the summary printed at exit.

Pause and faults. Pausing the pipeline (stop-monitoring) holds the sockets open behind a filter that accepts nothing, so no packet is kept or dropped while paused, and resuming puts the filter back: nothing is given up, counters continue. An interface that goes down, disappears or is renamed is logged, the stage reports itself degraded, and it reopens the interface of that name with backoff (up to 5 seconds between tries) until it is back; it never stops the pipeline for that.

Privileges. Live capture needs CAP_NET_RAW (root has it): without it the pipeline does not start and the message gives the setcap command that grants it. user: switches to that account once every live capture of the pipeline has opened its sockets, as tcpdump -Z does; an interface that is deleted and recreated later cannot be reopened without the privileges, which is logged.

Files. The format is detected from the first bytes, never from the name: pcap with microsecond or nanosecond timestamps in either byte order, pcapng (several interfaces with their own link types and timestamp resolutions, several sections, either byte order), and either one gzip-compressed. Every frame carries the link type of its own interface; in a pcapng file the interfaces of all sections are numbered in order, so frames of different sections never share an interface number. Simple Packet Blocks carry no timestamp and get the timestamp of the frame before them. A file that cannot be opened, is not a capture or has an unreadable header stops the pipeline from starting, with a message naming the path.

Speed. max reads as fast as downstream takes frames. realtime keeps the spacing of the packets' timestamps, and Nx divides it by N (10x is ten times faster, 0.5x half as fast); frames due within a millisecond of each other go out together. While paused, a paced replay's schedule stops too, so it resumes where it was instead of rushing. Packet time, not wall time, is what every later stage sees, so a replay gives the same flows at any speed.

Loop. With loop: true the file is read again from the start at its end, forever, and every pass is shifted in packet time by the span of the previous one plus one second, so packet time keeps increasing and timeouts downstream behave as on a long live capture. A file without packets is not looped.

End of file. At the end the last partial batch is sent, one summary line is logged (packets, bytes, duration, packets per second) and the stage finishes, so the pipeline drains and exits. A file that is cut short or damaged after its header ends the same way: everything before the damage is delivered, a warning names the file and the error, and read_errors counts it. Records whose captured length exceeds the snapshot length, or the original length, are read and counted rather than dropped; a frame's wire length is raised to its captured length when the file claims less, so a frame's data is never longer than its wire length.

Backpressure. A file source blocks when downstream is full: nothing is dropped, the replay simply waits. Pausing the pipeline (stop-monitoring) holds the replay between batches. On a stop (SIGINT or SIGTERM) the stage stops within one batch, or at once while a paced replay waits, and what it read is delivered.

Progress. At max speed with standard error on a terminal, a progress bar shows bytes read, throughput, packets per second and the time left.`,
	Fields: []*spec.Field{
		spec.String("interface").Opt().Ex("eth0").
			Description("Network interface to capture on live; default is the interface of the default route. Give this or file:."),
		spec.String("file").Opt().Ex("captures/trace.pcapng").
			Description("Capture file to read: pcap or pcapng, optionally gzip-compressed (detected from the content, not the name). A relative path is resolved from the pipeline file's directory. Give this or interface:."),
		spec.String("speed").Default("max").Check(checkSpeed).
			Description("Replay speed: max (as fast as downstream accepts), realtime (the capture's own packet spacing), or a factor such as 10x or 0.5x."),
		spec.Bool("loop").Default("false").
			Description("At the end of the file, start again from the beginning, forever; packet time keeps increasing from pass to pass."),
		spec.Enum("progress", "auto", "always", "never").Default("auto").
			Description("Progress bar on standard error: auto shows it at max speed when standard error is a terminal; always and never force it on or off."),
		spec.Int("batch_size").Default("1024").Range(1, 65536).Adv().
			Description("Most frames per batch sent downstream. Larger batches cost less per frame (the flow stages overlap their table loads within a batch); a paced replay sends smaller ones as frames fall due, and a live capture sends what it has whenever the kernel has nothing more."),
		spec.Enum("backend", "afpacket", "pcap").Default("afpacket").
			Description("Live capture method: afpacket (Linux AF_PACKET, TPACKET_V3 rings, fanout across workers; needs nothing more) or pcap (libpcap, one handle and so one worker, for interfaces AF_PACKET cannot capture; only in builds made with -tags pcap)."),
		spec.String("bpf").Opt().Ex("tcp port 443 or udp port 53").
			Description("Packet filter in tcpdump syntax, run in the kernel: only matching packets are captured. Live capture only."),
		spec.Bool("promiscuous").Default("true").
			Description("Put the interface in promiscuous mode, to see traffic not addressed to this host."),
		spec.Int("snaplen").Default("262144").Range(64, 262144).
			Description("Most bytes kept of each frame; the wire length is always counted in full."),
		spec.Int("workers").Default("0").Range(0, 64).
			Description("Capture sockets and threads, each with its own ring, spread by flow; 0 means one per CPU (one with backend: pcap, which has no fanout). Set shards: to the same number on decode and sessionize."),
		spec.ByteSize("ring_size").Default("32MiB").Adv().
			Description("Kernel ring of each worker, in bytes (libpcap's buffer with backend: pcap): what absorbs bursts while the pipeline is busy. Raise it if kernel_drops grows."),
		spec.ByteSize("block_size").Default("1MiB").Adv().
			Description("Size of one ring block (a multiple of the page size, at least 64KiB); the kernel hands packets over a block at a time. afpacket only: libpcap sizes its own blocks."),
		spec.Duration("block_timeout").Default("10ms").Adv().
			Description("Hand a partly filled block over after this long, so a quiet interface still delivers promptly. With backend: pcap, libpcap's packet buffer timeout, at most 100ms."),
		spec.String("user").Opt().Ex("nobody").
			Description("Switch to this user (and its group) once the capture sockets are open, as tcpdump -Z does."),
		spec.String("netns").Opt().Adv().Ex("blue").
			Description("Network namespace of the interface: a name from ip netns, or a path such as /proc/1234/ns/net."),
	},
	Examples: []spec.Example{
		{Title: "Capture live on eth0, web traffic only", YAML: "interface: eth0\nbpf: tcp port 80 or tcp port 443\n"},
		{Title: "Capture on the default interface with two workers and a bigger ring, then run as nobody", YAML: "interface: default\nworkers: 2\nring_size: 128MiB\nuser: nobody\n"},
		{Title: "Analyse a capture as fast as possible", YAML: "file: captures/trace.pcapng\n"},
		{Title: "Demo: replay the sample in real time, forever", YAML: "file: examples/sample.pcapng\nspeed: realtime\nloop: true\n"},
		{Title: "Replay a compressed capture ten times faster than recorded", YAML: "file: captures/day.pcap.gz\nspeed: 10x\nprogress: never\n"},
	},
	Metrics: []spec.Metric{
		{Name: "packets_read", Doc: "frames read (from the file, or from the kernel rings) and sent downstream"},
		{Name: "bytes_read", Doc: "sum of the frames' original (wire) lengths, the figure byte counters downstream use"},
		{Name: "kernel_packets", Doc: "live: packets that passed the filter and reached a socket, including those then dropped"},
		{Name: "kernel_drops", Doc: "live: packets the kernel dropped because a ring was full (per worker too: kernel_drops_w0, ...)"},
		{Name: "kernel_freezes", Doc: "live, afpacket: times a ring froze because every block was full (per worker too)"},
		{Name: "interface_drops", Doc: "live, pcap: packets the interface itself dropped (libpcap's ps_ifdrop; not counted with netns:)"},
		{Name: "packets_read_w0", Doc: "live: frames read by worker 0 (and so on for every worker)"},
		{Name: "reopens", Doc: "live: times the interface was reopened after it went down, disappeared or was renamed"},
		{Name: "read_errors", Doc: "passes over the file that ended at damage (a cut-short or corrupt file) instead of a clean end"},
		{Name: "caplen_exceeds_snaplen", Doc: "frames longer than the snapshot length their interface declares (read anyway)"},
		{Name: "caplen_exceeds_wirelen", Doc: "frames whose captured length exceeds their stated original length (wire length raised to the captured length)"},
		{Name: "passes", Doc: "passes over the file that reached its end, or its damage (more than one with loop)"},
	},
}

func init() { pipeline.Register(captureSpec, newSource) }

// newSource builds a live source for interface:, else opens the file and
// reads its header, so a wrong path or a file that is not a capture is
// reported before the pipeline starts.
func newSource(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	if cfg.Interface != "" {
		return newLiveSource(cfg, bc)
	}
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
