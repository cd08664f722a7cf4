package capture

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// corpus is the shared capture corpus (see its README.md).
const corpus = "../../testdata/corpus"

// indexRow is one line of the corpus INDEX.csv.
type indexRow struct {
	file     string // relative to corpus
	linktype string
	format   string
	packets  int
	category string
	notes    string
}

func (r indexRow) path() string { return filepath.Join(corpus, r.file) }

func loadIndex(t testing.TB) []indexRow {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, "INDEX.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	var rows []indexRow
	for _, rec := range recs[1:] {
		n, err := strconv.Atoi(rec[col["packets"]])
		if err != nil {
			t.Fatalf("INDEX.csv: %s: packets %q", rec[0], rec[col["packets"]])
		}
		rows = append(rows, indexRow{
			file: rec[col["file"]], linktype: rec[col["linktype"]], format: rec[col["format"]],
			packets: n, category: rec[col["category"]], notes: rec[col["notes"]],
		})
	}
	if len(rows) < 200 {
		t.Fatalf("INDEX.csv has only %d rows", len(rows))
	}
	return rows
}

// frameRec is a frame as read, with its own copy of the data.
type frameRec struct {
	TS       event.Time
	WireLen  uint32
	LinkType uint16
	Iface    uint16
	Data     []byte
}

// readResult is everything read from one file by its frame reader.
type readResult struct {
	frames    []frameRec
	overWire  int // frames with more data than wire length (before the source raises it)
	oversized uint64
	err       error // the error that ended the read; io.EOF when clean
}

// readFile reads a whole capture with the frame reader, failing the test
// if it takes longer than a generous per-file limit (a hang).
func readFile(t *testing.T, path string) (readResult, error) {
	t.Helper()
	cf, err := openFile(path)
	if err != nil {
		return readResult{}, err
	}
	defer cf.Close()
	done := make(chan readResult, 1)
	go func() { done <- drain(cf) }()
	select {
	case res := <-done:
		return res, nil
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: reading did not finish (hang)", path)
		return readResult{}, nil
	}
}

func drain(r frameReader) readResult {
	var res readResult
	var f event.Frame
	for {
		data, err := r.next(&f)
		if err != nil {
			res.err = err
			res.oversized = r.oversized()
			return res
		}
		if uint32(len(data)) > f.WireLen {
			res.overWire++
		}
		res.frames = append(res.frames, frameRec{f.TS, f.WireLen, f.LinkType, f.Iface, bytes.Clone(data)})
	}
}

// sinkFrames is a test sink that keeps every raw frame it receives.
type sinkFrames struct {
	mu     sync.Mutex
	frames []frameRec
	onAdd  func(n int) // called after each batch with the total so far
}

func (s *sinkFrames) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		s.mu.Lock()
		for _, f := range b.Frames {
			s.frames = append(s.frames, frameRec{f.TS, f.WireLen, f.LinkType, f.Iface, bytes.Clone(f.Data)})
		}
		n := len(s.frames)
		s.mu.Unlock()
		if s.onAdd != nil {
			s.onAdd(n)
		}
	}
	return nil
}

func (s *sinkFrames) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

func (s *sinkFrames) snapshot() []frameRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]frameRec(nil), s.frames...)
}

type noConfig struct{}

// testRegistry holds the capture stage and a "frames" sink that hands
// its instance to sinks.
func testRegistry(sinks map[string]*sinkFrames) *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, captureSpec, newSource)
	pipeline.RegisterIn(r, &spec.Component{
		Name: "frames", Role: spec.RoleSink, Summary: "keeps raw frames", Accepts: event.KindsOf(event.Raw),
	}, func(_ *noConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		s := &sinkFrames{}
		sinks[bc.Name] = s
		return s, nil
	})
	return r
}

// run is a pipeline under test: capture "cap" feeding sink "out".
type run struct {
	p    *pipeline.Pipeline
	out  *sinkFrames
	logs *pipetest.SyncBuffer
}

// build builds a pipeline from YAML written as if it were in dir.
func build(t *testing.T, dir, yml string) (*run, spec.Errors) {
	t.Helper()
	cfg, errs := config.Parse(filepath.Join(dir, "pipeline.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		return nil, errs
	}
	logs := &pipetest.SyncBuffer{}
	sinks := map[string]*sinkFrames{}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(testRegistry(sinks)),
		pipeline.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if len(errs.Fatal()) > 0 {
		return nil, errs
	}
	return &run{p: p, out: sinks["out"], logs: logs}, nil
}

// pipelineFor is the YAML of capture (with the given extra fields)
// feeding the frames sink.
func pipelineFor(file string, extra ...string) string {
	var b strings.Builder
	b.WriteString("stages:\n  cap:\n    type: capture\n    file: " + strconv.Quote(file) + "\n    progress: never\n")
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	b.WriteString("sinks:\n  out:\n    type: frames\n    inputs: [cap]\n")
	return b.String()
}

// mustBuild builds or fails the test.
func mustBuild(t *testing.T, file string, extra ...string) *run {
	t.Helper()
	r, errs := build(t, ".", pipelineFor(file, extra...))
	if errs != nil {
		t.Fatal(errs)
	}
	return r
}

// runFor runs the pipeline to completion, failing on a hang.
func (r *run) runFor(t *testing.T, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.p.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(limit):
		r.p.Kill()
		t.Fatalf("pipeline did not finish within %v", limit)
	}
}

// counter returns one of the capture stage's counters.
func (r *run) counter(name string) uint64 {
	st, _ := r.p.Status().Component("cap")
	return st.Counters[name]
}

var errTimeout = errors.New("timeout")

// eventually polls cond until it holds or a generous limit passes.
func eventually(cond func() bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// buildIn builds a pipeline from YAML with the given registry.
func buildIn(t *testing.T, reg *pipeline.Registry, yml string) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	cfg, errs := config.Parse("pipeline.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		return nil, errs
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(reg), pipeline.WithLogger(slog.New(slog.NewTextHandler(&pipetest.SyncBuffer{}, nil))))
	if len(errs.Fatal()) > 0 {
		return nil, errs
	}
	return p, nil
}
