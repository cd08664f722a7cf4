package jsonl

import (
	"context"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
)

// flowSource emits n copies of a flow in batches of 256.
type flowSource struct {
	n int
	f event.FlowRec
}

func (s *flowSource) Run(ctx context.Context, env *pipeline.Env) error {
	for sent := 0; sent < s.n; {
		b := env.NewBatch(event.Flow)
		for i := 0; i < 256 && sent < s.n; i++ {
			b.Flows = append(b.Flows, s.f)
			sent++
		}
		env.Emit(b)
	}
	return nil
}

// BenchmarkWriteFlows measures the sink end to end, from the source's
// batches to bytes written to /dev/null (so no disk is measured).
func BenchmarkWriteFlows(b *testing.B) {
	p, errs := buildPipeline(b, &flowSource{n: b.N, f: sampleFlows().Flows[0]}, "    path: /dev/null\n    append: true\n")
	if len(errs.Fatal()) > 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st, _ := p.Status().Component("out")
	if st.Counters["lines"] != uint64(b.N) {
		b.Fatalf("wrote %d lines of %d", st.Counters["lines"], b.N)
	}
	b.ReportMetric(float64(st.Counters["bytes"])/float64(b.N), "bytes/line")
}
