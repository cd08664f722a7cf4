package plugin

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// countSink counts flows and notes when the first and the last batch
// arrived, so that throughput excludes starting the plugin.
type countSink struct {
	n           atomic.Uint64
	first, last time.Time
	firstLen    int
}

func (c *countSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		now := time.Now()
		if c.first.IsZero() {
			c.first, c.firstLen = now, b.Len()
		}
		c.last = now
		c.n.Add(uint64(b.Len()))
	}
	return nil
}

// benchPipeline streams b.N flows in batches of 500 through the given
// stage block (none: straight to the sink) and reports flows/s.
func benchPipeline(b *testing.B, stage string) {
	sink := &countSink{}
	r := testRegistry(map[string]*collector{})
	pipeline.RegisterIn(r, &spec.Component{Name: "count", Role: spec.RoleSink, Summary: "counts", Accepts: event.AllKinds()},
		func(_ *noConfig, _ *pipeline.BuildContext) (pipeline.Component, error) { return sink, nil })
	input := "gen"
	yml := fmt.Sprintf("stages:\n  gen: {type: flowgen, count: %d, batch: 500}\n", b.N)
	if stage != "" {
		yml += "  p: " + stage + "\n"
		input = "p"
	}
	yml += "sinks:\n  out: {type: count, inputs: [" + input + "]}\n"
	p := load(b, yml, pipeline.WithRegistry(r))
	b.ResetTimer()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := sink.n.Load(); got != uint64(b.N) {
		b.Fatalf("%d flows arrived, want %d", got, b.N)
	}
	if d := sink.last.Sub(sink.first); d > 0 && b.N > 10*sink.firstLen {
		b.ReportMetric(float64(b.N-sink.firstLen)/d.Seconds(), "flows/s")
	}
}

// BenchmarkNoPlugin is the baseline: the same source and sink without a
// plugin stage.
func BenchmarkNoPlugin(b *testing.B) { benchPipeline(b, "") }

// BenchmarkPluginNoop sends every flow through a plugin that changes
// nothing (it answers "unchanged").
func BenchmarkPluginNoop(b *testing.B) {
	benchPipeline(b, "{type: plugin, inputs: [gen], command: ["+plugins(b)+"/testplugin]}")
}

// BenchmarkPluginTagging tags every flow, so every record travels back.
func BenchmarkPluginTagging(b *testing.B) {
	benchPipeline(b, "{type: plugin, inputs: [gen], command: ["+plugins(b)+"/testplugin], config: {tag: seen}}")
}
