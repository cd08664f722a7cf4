package sessionize_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	"github.com/nfpipe/nfpipe/stages/sessionize"
)

// udpSource emits one UDP packet for each of Flows flows in each of
// Rounds input batches; with Wait it holds every batch after the first
// until the sink has seen a flow, to prove flows are emitted while the
// input is still open.
type udpSource struct {
	cfg  *udpSourceConfig
	seen <-chan struct{}
}

type udpSourceConfig struct {
	Flows  int  `yaml:"flows"`
	Rounds int  `yaml:"rounds"`
	Wait   bool `yaml:"wait"`
}

func (s *udpSource) Run(ctx context.Context, env *pipeline.Env) error {
	for r := 0; r < s.cfg.Rounds; r++ {
		if r > 0 && s.cfg.Wait {
			select {
			case <-s.seen:
			case <-ctx.Done():
				return nil
			}
		}
		b := env.NewBatch(event.Packet)
		for i := 0; i < s.cfg.Flows; i++ {
			b.Packets = append(b.Packets, event.PacketRec{
				TS: event.Time(1_700_000_000_000_000_000 + r*1000 + i), WireLen: 60,
				Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("192.0.2.1"),
				Proto: 17, SrcPort: 40000, DstPort: 53,
			})
		}
		env.Emit(b)
	}
	return nil
}

// batchSink records every flow and the size of every batch.
type batchSink struct {
	mu      sync.Mutex
	flows   []event.FlowRec
	batches []int
	once    sync.Once
	seen    chan struct{}
}

func (s *batchSink) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		s.mu.Lock()
		s.flows = append(s.flows, b.Flows...)
		s.batches = append(s.batches, len(b.Flows))
		s.mu.Unlock()
		s.once.Do(func() { close(s.seen) })
	}
	return nil
}

type emptyConfig struct{}

// stageRegistry holds sessionize and the two test components.
func stageRegistry(sink *batchSink) *pipeline.Registry {
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, sessionize.Spec, sessionize.New)
	pipeline.RegisterIn(r, &spec.Component{
		Name: "udp_source", Role: spec.RoleStage, Summary: "test packets", Source: true, Emits: event.KindsOf(event.Packet),
		Fields: []*spec.Field{
			spec.Int("flows").Description("flows per batch"),
			spec.Int("rounds").Default("1").Description("batches"),
			spec.Bool("wait").Default("false").Description("wait for the first flow after the first batch"),
		},
	}, func(c *udpSourceConfig, bc *pipeline.BuildContext) (pipeline.Component, error) {
		return &udpSource{cfg: c, seen: sink.seen}, nil
	})
	pipeline.RegisterIn(r, &spec.Component{
		Name: "batches", Role: spec.RoleSink, Summary: "test sink", Accepts: event.KindsOf(event.Flow),
	}, func(*emptyConfig, *pipeline.BuildContext) (pipeline.Component, error) { return sink, nil })
	return r
}

func parse(t *testing.T, yml string, r *pipeline.Registry) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return pipeline.FromConfig(cfg, pipeline.WithRegistry(r), pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
}

func runStage(t *testing.T, yml string) (*batchSink, pipeline.ComponentStatus) {
	t.Helper()
	sink := &batchSink{seen: make(chan struct{})}
	p, errs := parse(t, yml, stageRegistry(sink))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := p.Status().Component("ses")
	return sink, st
}

func TestStageEndsEveryFlowOnShutdown(t *testing.T) {
	sink, st := runStage(t, `
stages:
  src: {type: udp_source, flows: 1000, rounds: 2}
  ses: {type: sessionize, inputs: [src]}
sinks:
  out: {type: batches, inputs: [ses]}
`)
	if len(sink.flows) != 1000 {
		t.Fatalf("got %d flows, want 1000", len(sink.flows))
	}
	ids := map[uint64]bool{}
	for _, f := range sink.flows {
		if f.Event != event.FlowEnd || f.Reason != event.ReasonShutdown || f.C2S.Packets != 2 || f.C2S.Bytes != 120 {
			t.Fatalf("flow %+v, want an end with reason shutdown and 2 packets", f)
		}
		ids[f.ID] = true
	}
	if len(ids) != 1000 {
		t.Errorf("%d distinct ids for 1000 flows", len(ids))
	}
	for _, n := range sink.batches {
		if n > 256 {
			t.Errorf("batch of %d flows, want at most 256", n)
		}
	}
	c := st.Counters
	if c["flows_started"] != 1000 || c["flows_ended"] != 1000 || c["flows_evicted"] != 0 || st.Gauges["active_flows"] != 0 {
		t.Errorf("counters %v gauges %v", c, st.Gauges)
	}
	if st.EventsIn != 2000 || st.EventsOut != 1000 {
		t.Errorf("events in %d out %d", st.EventsIn, st.EventsOut)
	}
}

func TestStageEmitsEvictedFlowsBeforeInputEnds(t *testing.T) {
	// The source sends its second batch only after the sink has seen a
	// flow: the 90 flows evicted while the first batch is folded in must
	// leave at the end of that batch, not at shutdown.
	sink, st := runStage(t, `
stages:
  src: {type: udp_source, flows: 100, rounds: 2, wait: true}
  ses: {type: sessionize, inputs: [src], max_sessions: 10}
sinks:
  out: {type: batches, inputs: [ses]}
`)
	if sink.batches[0] != 90 {
		t.Errorf("first batch has %d flows, want the 90 evicted", sink.batches[0])
	}
	var evicted int
	for _, f := range sink.flows {
		if f.Reason == event.ReasonEvicted {
			evicted++
		}
	}
	if evicted != 190 || len(sink.flows) != 200 {
		t.Errorf("%d flows, %d evicted; want 200 and 190", len(sink.flows), evicted)
	}
	if st.Counters["flows_evicted"] != 190 {
		t.Errorf("flows_evicted %d", st.Counters["flows_evicted"])
	}
}

func TestStageConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		field, value, want string
	}{
		{"idle_timeout", "0s", "stages.ses.idle_timeout: must be positive"},
		{"active_timeout", "500ms", "stages.ses.active_timeout: must be 0 (off) or at least 1s"},
		{"max_sessions", "0", "stages.ses.max_sessions"},
		{"idle_timout", "10s", `did you mean "idle_timeout"`},
	} {
		t.Run(tc.field, func(t *testing.T) {
			sink := &batchSink{seen: make(chan struct{})}
			_, errs := parse(t, `
stages:
  src: {type: udp_source, flows: 1}
  ses: {type: sessionize, inputs: [src], `+tc.field+`: `+tc.value+`}
sinks:
  out: {type: batches, inputs: [ses]}
`, stageRegistry(sink))
			if !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("errors %q, want one containing %q", errs.Error(), tc.want)
			}
		})
	}
}
