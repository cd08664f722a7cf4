package pipeline_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// overheadSource emits n packets in batches of 256 filled by copying one
// record, so that the engine's own cost per batch is most of what is
// measured.
type overheadSource struct{ n int }

func (s *overheadSource) Run(ctx context.Context, env *pipeline.Env) error {
	rec := event.PacketRec{WireLen: 100}
	for sent := 0; sent < s.n; {
		b := env.NewBatch(event.Packet)
		k := min(256, s.n-sent)
		for range k {
			b.Packets = append(b.Packets, rec)
		}
		sent += k
		env.Emit(b)
	}
	return nil
}

// overheadSink counts packets.
type overheadSink struct{ got int }

func (s *overheadSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		s.got += len(b.Packets)
	}
	return nil
}

// BenchmarkEngineOverhead runs source → pass → sink over b.N packets in
// batches of 256: two queue hand-offs, two pooled batches and the
// Batches bookkeeping per batch, and a copy of each record. One op is one
// packet. Sub-benchmarks run at GOMAXPROCS 1 and 2.
func BenchmarkEngineOverhead(b *testing.B) {
	for _, procs := range []int{1, 2} {
		b.Run("procs="+itoa(procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			src := &overheadSource{n: b.N}
			sink := &overheadSink{}
			r := pipeline.NewRegistry()
			pipeline.RegisterIn(r, &spec.Component{Name: "src", Role: spec.RoleStage, Summary: "source", Source: true, Emits: event.KindsOf(event.Packet)},
				func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return src, nil })
			pipeline.RegisterIn(r, &spec.Component{Name: "pass", Role: spec.RoleStage, Summary: "copy", Accepts: event.KindsOf(event.Packet), Passthrough: true},
				func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return passthrough{}, nil })
			pipeline.RegisterIn(r, &spec.Component{Name: "count", Role: spec.RoleSink, Summary: "sink", Accepts: event.KindsOf(event.Packet)},
				func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return sink, nil })
			cfg, errs := config.Parse("bench.yaml", []byte("stages:\n  s: {type: src}\n  p: {type: pass, inputs: [s]}\nsinks:\n  c: {type: count, inputs: [p]}\n"),
				func(string) (string, bool) { return "", false })
			if len(errs) > 0 {
				b.Fatal(errs)
			}
			p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
			if len(errs.Fatal()) > 0 {
				b.Fatal(errs)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := p.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if sink.got != b.N {
				b.Fatalf("sink got %d packets, want %d", sink.got, b.N)
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}
