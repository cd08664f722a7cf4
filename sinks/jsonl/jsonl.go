package jsonl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the jsonl sink's configuration; see the spec for each field.
type Config struct {
	Path          string        `yaml:"path"`
	Append        bool          `yaml:"append"`
	Kinds         []string      `yaml:"kinds"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Validate checks what the field types cannot.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Path) == "" {
		return &spec.FieldError{Field: "path", Msg: `path is empty; set a file path, or "-" for standard output`}
	}
	return nil
}

// writable are the kinds the sink can encode.
var writable = event.AllKinds()

func kindNames() []string {
	var names []string
	for _, k := range writable.List() {
		names = append(names, k.String())
	}
	return names
}

// parseKinds turns the kinds list into a set; an empty list is every
// writable kind.
func parseKinds(list []string) (event.Kinds, error) {
	if len(list) == 0 {
		return writable, nil
	}
	var set event.Kinds
	for _, name := range list {
		k, ok := event.ParseKind(name)
		if !ok || !writable.Has(k) {
			msg := fmt.Sprintf("unknown kind %q", name)
			if s := spec.Suggest(name, kindNames()); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return 0, fmt.Errorf("%s (use %s)", msg, strings.Join(kindNames(), ", "))
		}
		set |= event.KindsOf(k)
	}
	return set, nil
}

// componentSpec is the single description of the sink.
var componentSpec = &spec.Component{
	Name:      "jsonl",
	Role:      spec.RoleSink,
	Summary:   "Writes events as JSON lines to a file or standard output.",
	Stability: spec.Beta,
	Accepts:   writable,
	Description: `
Each event is written as one JSON object and a newline, in the same encoding
every nfpipe API uses (the JSON contract of the event package): flows,
ipstats, alerts and packet summaries, each with a "kind" field. Events of
kinds not listed in kinds are skipped and counted.

Lines go through a 256 KiB buffer that is flushed at least every
flush_interval, so tail -f and log shippers see events promptly without one
write per event; flush_interval: 0 flushes after every batch. When the
input ends (the pipeline stops or a replay finishes) the buffer is flushed,
the file is synced to disk and closed.

The file and its parent directories are created when the pipeline is built,
so a path that cannot be written fails validation, not the running
pipeline. It is truncated when the pipeline starts unless append is set. A
path of "-" writes to standard output.

A write error never stops the pipeline: it is counted in errors, logged
once per distinct error, marks the sink degraded, and the lines in the
buffer are dropped; later batches are written again as soon as writing
works. The sink writes as fast as the file takes the data; a slow disk
applies backpressure to its inputs.`,
	Fields: []*spec.Field{
		spec.String("path").Ex("data/events.jsonl").Description(`File to write, created with its parent directories; relative to the pipeline file's directory; "-" is standard output.`),
		spec.Bool("append").Default("false").Description("Append to an existing file instead of truncating it at start."),
		spec.List("kinds").Opt().Ex("[flow, alert]").Check(func(v any) error {
			_, err := parseKinds(v.([]string))
			return err
		}).Description("Kinds of events to write (packet, flow, ipstat, alert); empty writes every kind received."),
		spec.Duration("flush_interval").Default("1s").Description("Longest time a line waits in the buffer before it is written; 0 flushes after every batch."),
	},
	Examples: []spec.Example{
		{Title: "Flows and alerts to a file", YAML: "inputs: [sessions, alerts]\npath: data/events.jsonl\nkinds: [flow, alert]\n"},
		{Title: "Per-IP statistics to standard output, for jq", YAML: "inputs: [stats]\npath: \"-\"\nflush_interval: 0s\n"},
	},
	Metrics: []spec.Metric{
		{Name: "lines", Doc: "events encoded and handed to the buffered writer"},
		{Name: "bytes", Doc: "bytes of JSON handed to the buffered writer"},
		{Name: "skipped", Doc: "events of kinds not listed in kinds"},
		{Name: "flushes", Doc: "buffer flushes that wrote data"},
	},
}

func init() { pipeline.Register(componentSpec, build) }

// jsonl is the sink. The file is opened by the constructor and owned by
// Run from then on; Close releases it if Run never ran.
type jsonl struct {
	path   string // as resolved, for messages
	stdout bool
	file   *os.File // nil for standard output
	out    io.Writer
	append bool
	kinds  event.Kinds
	flush  time.Duration

	closeOnce sync.Once
	closeErr  error
}

var (
	_ pipeline.Component = (*jsonl)(nil)
	_ io.Closer          = (*jsonl)(nil)
)

func build(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	kinds, err := parseKinds(cfg.Kinds)
	if err != nil {
		return nil, err
	}
	s := &jsonl{append: cfg.Append, kinds: kinds, flush: cfg.FlushInterval}
	if cfg.Path == "-" {
		s.path, s.stdout, s.out = "standard output", true, os.Stdout
		return s, nil
	}
	s.path = cfg.Path
	if !filepath.IsAbs(s.path) && bc.Dir != "" {
		s.path = filepath.Join(bc.Dir, s.path)
	}
	f, err := openOutput(s.path, cfg.Append)
	if err != nil {
		return nil, err
	}
	s.file, s.out = f, f
	return s, nil
}

// openOutput creates the file and its directories, without truncating:
// the constructor must not destroy data if the pipeline then fails to
// build. Run truncates.
func openOutput(path string, appendMode bool) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the directory of %q: %w; choose a writable path", path, unwrapPath(err))
	}
	flags := os.O_WRONLY | os.O_CREATE
	if appendMode {
		flags |= os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open %q for writing: %w; choose a writable path", path, unwrapPath(err))
	}
	return f, nil
}

// unwrapPath drops the *os.PathError wrapper, whose message repeats the
// path the caller already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Close closes the file if Run did not; it is safe to call more than
// once.
func (s *jsonl) Close() error {
	s.closeOnce.Do(func() {
		if s.file != nil {
			s.closeErr = s.file.Close()
		}
	})
	return s.closeErr
}
