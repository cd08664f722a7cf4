package filter

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// feed emits the batches it was given, in order.
type feed struct{ batches []*event.Batch }

func (s *feed) Run(ctx context.Context, env *pipeline.Env) error {
	for _, in := range s.batches {
		b := env.NewBatch(in.Kind)
		b.Flows = append(b.Flows, in.Flows...)
		b.IPStats = append(b.IPStats, in.IPStats...)
		b.Alerts = append(b.Alerts, in.Alerts...)
		env.Emit(b)
	}
	return nil
}

// collect keeps copies of what reaches a sink.
type collect struct {
	mu      sync.Mutex
	flows   []event.FlowRec
	ipstats []event.IPStatRec
	alerts  []event.AlertRec
}

func (c *collect) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		c.mu.Lock()
		c.flows = append(c.flows, b.Flows...)
		c.ipstats = append(c.ipstats, b.IPStats...)
		c.alerts = append(c.alerts, b.Alerts...)
		c.mu.Unlock()
	}
	return nil
}

type noConfig struct{}

// run builds "src -> f (filter with the given rules YAML) -> sinks" where
// the sinks read f (out), f.alerts, f.matched and f.rejected, runs it over
// the batches and returns the sinks and the filter's status.
type runResult struct {
	out, alerts, matched, rejected *collect
	status                         pipeline.ComponentStatus
}

func runFilter(t *testing.T, filterYAML string, batches ...*event.Batch) runResult {
	t.Helper()
	res := runResult{out: &collect{}, alerts: &collect{}, matched: &collect{}, rejected: &collect{}}
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, newStage)
	pipeline.RegisterIn(r, &spec.Component{Name: "feed", Role: spec.RoleStage, Summary: "test source", Source: true,
		Emits: event.KindsOf(event.Flow, event.IPStat, event.Alert)},
		func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) {
			return &feed{batches: batches}, nil
		})
	for name, c := range map[string]*collect{"c_out": res.out, "c_alerts": res.alerts, "c_matched": res.matched, "c_rejected": res.rejected} {
		pipeline.RegisterIn(r, &spec.Component{Name: name, Role: spec.RoleSink, Summary: "test sink",
			Accepts: event.KindsOf(event.Flow, event.IPStat, event.Alert)},
			func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) { return c, nil })
	}
	yml := `
stages:
  src: {type: feed}
  f:
    type: filter
    inputs: [src]
` + filterYAML + `
sinks:
  out: {type: c_out, inputs: [f]}
  alerts: {type: c_alerts, inputs: [f.alerts]}
  matched: {type: c_matched, inputs: [f.matched]}
  rejected: {type: c_rejected, inputs: [f.rejected]}
`
	p, errs := buildPipeline(t, yml, r)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	res.status, _ = p.Status().Component("f")
	return res
}

func buildPipeline(t *testing.T, yml string, r *pipeline.Registry) (*pipeline.Pipeline, spec.Errors) {
	t.Helper()
	cfg, errs := config.Parse(filepath.Join(t.TempDir(), "p.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		return nil, errs
	}
	opts := []pipeline.Option{pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if r != nil {
		opts = append(opts, pipeline.WithRegistry(r))
	}
	return pipeline.FromConfig(cfg, opts...)
}

// t0 is the packet time the synthetic records start at.
const t0 = event.Time(1_700_000_000_000_000_000)

func at(sec float64) event.Time { return t0 + event.Time(sec*float64(time.Second)) }

// tcpFlow is an ended TCP flow from client to server:port whose last
// packet was at sec.
func tcpFlow(client, server string, port uint16, sec float64, bytes uint64) event.FlowRec {
	return event.FlowRec{
		Event: event.FlowEnd, Proto: 6, Reason: event.ReasonRST, TCPState: event.TCPReset,
		Client:    event.Endpoint{IP: netip.MustParseAddr(client), Port: 40000},
		Server:    event.Endpoint{IP: netip.MustParseAddr(server), Port: port},
		FirstSeen: at(sec) - event.Time(time.Millisecond), LastSeen: at(sec),
		C2S: event.Counters{Packets: 1, Bytes: 74}, S2C: event.Counters{Packets: 1, Bytes: bytes},
	}
}

func flows(fs ...event.FlowRec) *event.Batch {
	b := event.NewBatch(event.Flow)
	b.Flows = fs
	return b
}
