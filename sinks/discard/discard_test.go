package discard

import (
	"context"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// source emits n events of each of its kinds, in batches of 100.
type source struct{ n int }

func (s source) Run(ctx context.Context, env *pipeline.Env) error {
	for _, k := range []event.Kind{event.Packet, event.Flow, event.IPStat, event.Alert} {
		for sent := 0; sent < s.n; {
			b := env.NewBatch(k)
			for i := 0; i < 100 && sent < s.n; i++ {
				switch k {
				case event.Packet:
					b.Packets = append(b.Packets, event.PacketRec{})
				case event.Flow:
					b.Flows = append(b.Flows, event.FlowRec{})
				case event.IPStat:
					b.IPStats = append(b.IPStats, event.IPStatRec{})
				case event.Alert:
					b.Alerts = append(b.Alerts, event.AlertRec{})
				}
				sent++
			}
			env.Emit(b)
		}
	}
	return nil
}

type none struct{}

func TestCountsEveryKindAndDrops(t *testing.T) {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, build)
	pipeline.RegisterIn(r, &spec.Component{Name: "src", Role: spec.RoleStage, Summary: "test events", Source: true, Emits: event.AllKinds()},
		func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return source{n: 1234}, nil })
	cfg, errs := config.Parse("test.yaml", []byte("stages:\n  src: {type: src}\nsinks:\n  null: {type: discard, inputs: [src]}\n"), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Status().Component("null")
	if st.EventsIn != 4*1234 {
		t.Errorf("events in = %d, want %d", st.EventsIn, 4*1234)
	}
	for _, k := range []string{"packet", "flow", "ipstat", "alert"} {
		if st.Counters[k] != 1234 {
			t.Errorf("counter %s = %d, want 1234", k, st.Counters[k])
		}
	}
	if st.Errors != 0 || st.Health != pipeline.Stopped {
		t.Errorf("errors %d, health %q", st.Errors, st.Health)
	}
}

func TestRejectsRawAndFields(t *testing.T) {
	if componentSpec.Accepts.Has(event.Raw) {
		t.Error("discard must not accept raw frames")
	}
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, build)
	pipeline.RegisterIn(r, &spec.Component{Name: "src", Role: spec.RoleStage, Summary: "test events", Source: true, Emits: event.AllKinds()},
		func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return source{}, nil })
	cfg, errs := config.Parse("test.yaml", []byte("stages:\n  src: {type: src}\nsinks:\n  null: {type: discard, inputs: [src], path: x}\n"), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, errs = pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
	if len(errs.Fatal()) == 0 {
		t.Fatal("an unknown field was accepted")
	}
	if got := errs.Error(); got != `test.yaml:4:40: sinks.null: unknown field "path"; this component takes no fields` {
		t.Errorf("got %q", got)
	}
}
