package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
)

// result is what a child measured, sent to the parent as JSON.
type result struct {
	ID         string `json:"id"`
	Procs      int    `json:"procs"`
	Packets    uint64 `json:"packets"`
	WallNS     int64  `json:"wall_ns"`
	CPUNS      int64  `json:"cpu_ns"`
	Mallocs    uint64 `json:"mallocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	NumGC      uint32 `json:"num_gc"`
	PeakHeap   uint64 `json:"peak_heap_inuse"`
	// The steady window: from a quarter to nine tenths of the capture.
	SteadyMallocs uint64 `json:"steady_mallocs"`
	SteadyPackets uint64 `json:"steady_packets"`
	OutBytes      int64  `json:"out_bytes,omitempty"`
	// Failed is the list of failed checks against the capture's truth.
	Failed []string `json:"failed,omitempty"`
	// Status is the pipeline's final status, for the record.
	Status pipeline.Status `json:"status"`

	RSS *rssResult `json:"rss,omitempty"`
}

// runChild runs the scenario named by -child and prints its result.
func runChild(o options) error {
	truth, err := gen.ReadTruth(gen.TruthPath(o.file))
	if err != nil {
		return err
	}
	if o.profile != "" {
		stop, err := startProfiles(o.profile, o.child)
		if err != nil {
			return err
		}
		defer stop()
	}
	var r *result
	if o.child == "rss" {
		r, err = runRSS(o.file, truth)
	} else {
		s, ok := findScenario(o.child)
		if !ok {
			return fmt.Errorf("unknown scenario %q", o.child)
		}
		r, err = runScenario(s, o.file, o.out, truth, o.warmup)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// build parses pipeline YAML and builds it with the default registry.
func build(yml, dir string) (*pipeline.Pipeline, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfg, errs := config.Parse(filepath.Join(abs, "bench.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs.Fatal()) > 0 {
		return nil, fmt.Errorf("pipeline config: %v", errs)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, errs := pipeline.FromConfig(cfg, pipeline.WithLogger(log))
	if len(errs.Fatal()) > 0 {
		return nil, fmt.Errorf("build pipeline: %v", errs)
	}
	return p, nil
}

// counter reads a component's named counter from a status.
func counter(st pipeline.Status, comp, name string) uint64 {
	c, _ := st.Component(comp)
	return c.Counters[name]
}

// sample is the pipeline's progress and the heap at one instant.
type sample struct {
	packets   uint64
	mallocs   uint64
	heapInuse uint64
}

// sampler records samples until stopped. Each sample calls Status and
// ReadMemStats; what Status allocates is measured (ReadMemStats around
// it) and left out of the samples' malloc counts and of own, so the
// figures count the pipeline's allocations only.
type sampler struct {
	stop    chan struct{}
	done    chan []sample
	ownDone chan uint64
}

func startSampler(p *pipeline.Pipeline, every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan []sample, 1), ownDone: make(chan uint64, 1)}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		// Room for an hour of samples, so that growing the slice does not
		// count as the pipeline's allocations.
		out := make([]sample, 0, 36000)
		var own uint64
		var before, after runtime.MemStats
		for {
			select {
			case <-s.stop:
				s.done <- out
				s.ownDone <- own
				return
			case <-t.C:
			}
			runtime.ReadMemStats(&before)
			pk := counter(p.Status(), "capture", "packets_read")
			runtime.ReadMemStats(&after)
			own += after.Mallocs - before.Mallocs
			out = append(out, sample{packets: pk, mallocs: after.Mallocs - own, heapInuse: after.HeapInuse})
		}
	}()
	return s
}

// finish stops the sampler and returns its samples and the allocations
// it made itself (the samples slice's growth included).
func (s *sampler) finish() ([]sample, uint64) {
	close(s.stop)
	return <-s.done, <-s.ownDone
}

// warmUp runs the pipeline over the first n frames and stops it, so the
// measured run starts with the file in the page cache, the heap grown and
// the CPU's caches and predictors trained.
func warmUp(yml, dir string, n int) error {
	p, err := build(yml, dir)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-t.C:
			if counter(p.Status(), "capture", "packets_read") >= uint64(n) {
				p.Stop()
				return <-errc
			}
		}
	}
}

// runScenario measures one pipeline over the capture.
func runScenario(s scenario, file, out string, truth *gen.Truth, warm int) (*result, error) {
	yml := pipelineYAML(s, file, out)
	if warm > 0 {
		if err := warmUp(yml, out, warm); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	p, err := build(yml, out)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := cpuTime()
	start := time.Now()
	smp := startSampler(p, 100*time.Millisecond)
	runErr := p.Run(context.Background())
	wall := time.Since(start)
	samples, own := smp.finish() // before m1, so own is all inside m1-m0
	c1 := cpuTime()
	runtime.ReadMemStats(&m1)
	if runErr != nil {
		return nil, fmt.Errorf("run: %w", runErr)
	}
	st := p.Status()
	r := &result{
		ID:         s.id,
		Procs:      runtime.GOMAXPROCS(0),
		Packets:    counter(st, "capture", "packets_read"),
		WallNS:     int64(wall),
		CPUNS:      int64(c1 - c0),
		Mallocs:    m1.Mallocs - m0.Mallocs - own,
		AllocBytes: m1.TotalAlloc - m0.TotalAlloc,
		NumGC:      m1.NumGC - m0.NumGC,
		Status:     st,
	}
	for _, x := range samples {
		r.PeakHeap = max(r.PeakHeap, x.heapInuse)
	}
	r.SteadyMallocs, r.SteadyPackets = steadyWindow(samples, r.Packets)
	if strings.HasPrefix(s.id, "full-jsonl") {
		if fi, err := os.Stat(filepath.Join(out, "flows.jsonl")); err == nil {
			r.OutBytes = fi.Size()
		}
	}
	r.Failed = check(s, st, truth)
	return r, nil
}

// steadyWindow returns the allocations and packets between the samples
// at about 25% and 90% of the run: after the flow table and the pools
// have grown, before the final drain.
func steadyWindow(samples []sample, total uint64) (mallocs, packets uint64) {
	var from, to *sample
	for i := range samples {
		x := &samples[i]
		if from == nil && x.packets >= total/4 {
			from = x
		}
		if x.packets <= total*9/10 {
			to = x
		}
	}
	if from == nil || to == nil || to.packets <= from.packets {
		return 0, 0
	}
	return to.mallocs - from.mallocs, to.packets - from.packets
}

// check compares the pipeline's counts with the capture's truth.
func check(s scenario, st pipeline.Status, truth *gen.Truth) []string {
	var failed []string
	expect := func(what string, got, want uint64) {
		if got != want {
			failed = append(failed, fmt.Sprintf("%s: got %d, want %d", what, got, want))
		}
	}
	expect("capture packets_read", counter(st, "capture", "packets_read"), truth.Packets)
	expect("capture bytes_read", counter(st, "capture", "bytes_read"), truth.Bytes)
	dec, _ := st.Component("decode")
	expect("decode events out", dec.EventsOut, truth.Packets)
	expect("decode errors", dec.Errors, 0)
	if s.sink == nil {
		return failed
	}
	// With the default 300s idle timeout, above every ordinary gap and
	// below every idle gap, each idle flow is seen twice.
	const idle = 300 * time.Second
	if truth.MaxActiveGapNS < int64(idle) && truth.IdleGapMinNS > int64(idle) {
		expect("sessionize flows_started", counter(st, "sessionize", "flows_started"), truth.Flows+truth.IdleGapFlows)
	}
	expect("sessionize flows_ended", counter(st, "sessionize", "flows_ended"), counter(st, "sessionize", "flows_started"))
	expect("sessionize flows_evicted", counter(st, "sessionize", "flows_evicted"), 0)
	sess, _ := st.Component("sessionize")
	ips, _ := st.Component("ipstats")
	out, _ := st.Component("out")
	expect("sink events in", out.EventsIn, sess.EventsOut+ips.EventsOut)
	expect("sink dropped", out.Dropped, 0)
	return failed
}
