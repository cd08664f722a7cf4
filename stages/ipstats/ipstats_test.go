package ipstats

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// replay is a test source emitting fixed packets in batches of 3.
type replay struct{ pkts []event.PacketRec }

func (r *replay) Run(ctx context.Context, env *pipeline.Env) error {
	for i := 0; i < len(r.pkts); i += 3 {
		b := env.NewBatch(event.Packet)
		b.Packets = append(b.Packets, r.pkts[i:min(i+3, len(r.pkts))]...)
		env.Emit(b)
	}
	return nil
}

// gather is a test sink keeping every ipstat record.
type gather struct {
	mu   sync.Mutex
	recs []event.IPStatRec
}

func (g *gather) Run(ctx context.Context, env *pipeline.Env) error {
	for b := range env.Batches() {
		g.mu.Lock()
		g.recs = append(g.recs, b.IPStats...)
		g.mu.Unlock()
	}
	return nil
}

type none struct{}

// runPipeline runs replay -> ipstats -> gather with the given ipstats
// block and returns the records and the stage's status.
func runPipeline(t *testing.T, pkts []event.PacketRec, statsYAML string) ([]event.IPStatRec, pipeline.ComponentStatus) {
	t.Helper()
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, componentSpec, build)
	pipeline.RegisterIn(r, &spec.Component{Name: "replay", Role: spec.RoleStage, Summary: "test packets", Source: true, Emits: event.KindsOf(event.Packet)},
		func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return &replay{pkts}, nil })
	g := &gather{}
	pipeline.RegisterIn(r, &spec.Component{Name: "gather", Role: spec.RoleSink, Summary: "test sink", Accepts: event.KindsOf(event.IPStat)},
		func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return g, nil })
	yml := "stages:\n  src: {type: replay}\n  stats:\n    type: ipstats\n    inputs: [src]\n" + statsYAML +
		"sinks:\n  out: {type: gather, inputs: [stats]}\n"
	cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
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
	st, _ := p.Status().Component("stats")
	return g.recs, st
}

func TestPipelineEmitsIntervalsAndFlushesAtShutdown(t *testing.T) {
	const a, b = "10.0.0.1", "10.0.0.2"
	pkts := []event.PacketRec{
		udpPkt(1*time.Second, a, 1000, b, 53, 100),
		udpPkt(2*time.Second, b, 53, a, 1000, 200),
		{TS: event.Time(3 * time.Second), WireLen: 60}, // not IP
		udpPkt(6*time.Second, a, 1000, b, 53, 100),
		udpPkt(4*time.Second, a, 1000, b, 53, 100), // late by 1s
		udpPkt(11*time.Second, a, 1000, b, 53, 100),
	}
	recs, st := runPipeline(t, pkts, "    interval: 5s\n")
	// [0,5s): a, b; [5s,10s): a, b; [10s,15s) emitted at shutdown.
	if len(recs) != 6 {
		t.Fatalf("got %d records, want 6: %+v", len(recs), recs)
	}
	type span struct{ start, end time.Duration }
	wantSpans := []span{{0, 5 * time.Second}, {5 * time.Second, 10 * time.Second}, {10 * time.Second, 15 * time.Second}}
	for i, r := range recs {
		w := wantSpans[i/2]
		if time.Duration(r.Start) != w.start || time.Duration(r.End) != w.end {
			t.Errorf("record %d (%s): [%v, %v), want [%v, %v)", i, r.IP, time.Duration(r.Start), time.Duration(r.End), w.start, w.end)
		}
	}
	if r := recs[2]; r.IP.String() != a || r.BytesOut != 200 || r.PacketsOut != 2 {
		t.Errorf("second interval of %s: %+v, want 2 packets and 200 bytes out (one of them late)", a, r)
	}
	if r := recs[4]; r.IP.String() != a || r.BytesOut != 100 {
		t.Errorf("shutdown flush: %+v", r)
	}
	if st.EventsIn != 6 || st.EventsOut != 6 {
		t.Errorf("status: in %d, out %d, want 6 and 6", st.EventsIn, st.EventsOut)
	}
	for name, want := range map[string]uint64{"intervals": 3, "records": 6, "late_packets": 1, "non_ip": 1, "untracked": 0} {
		if got := st.Counters[name]; got != want {
			t.Errorf("counter %s = %d, want %d", name, got, want)
		}
	}
}

func TestPipelineTopAndMaxIPs(t *testing.T) {
	var pkts []event.PacketRec
	for i := 1; i <= 9; i++ {
		pkts = append(pkts, udpPkt(time.Duration(i)*time.Millisecond, "10.0.0.1", 1, fmt.Sprintf("10.0.0.%d", i+1), 2, uint32(100*i)))
	}
	recs, st := runPipeline(t, pkts, "    top: 2\n    max_ips: 5\n")
	if len(recs) != 2 {
		t.Fatalf("got %d records, want top 2", len(recs))
	}
	// 10.0.0.1 plus four destinations are tracked: 10.0.0.5 (400 bytes) is
	// the largest tracked destination.
	if recs[0].IP.String() != "10.0.0.1" || recs[1].IP.String() != "10.0.0.5" || recs[1].BytesIn != 400 {
		t.Errorf("top 2 = %s (%d), %s (%d)", recs[0].IP, recs[0].BytesIn+recs[0].BytesOut, recs[1].IP, recs[1].BytesIn)
	}
	if st.Counters["untracked"] != 5 {
		t.Errorf("untracked = %d, want 5", st.Counters["untracked"])
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"    interval: 0s\n", "stages.stats.interval: interval 0s is too short"},
		{"    top: -1\n", "stages.stats.top: -1 is too small"},
		{"    max_ips: 0\n", "stages.stats.max_ips: 0 is too small"},
		{"    intervall: 5s\n", `did you mean "interval"?`},
	} {
		r := pipeline.NewRegistry()
		pipeline.RegisterIn(r, componentSpec, build)
		pipeline.RegisterIn(r, &spec.Component{Name: "replay", Role: spec.RoleStage, Summary: "test packets", Source: true, Emits: event.KindsOf(event.Packet)},
			func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return &replay{}, nil })
		pipeline.RegisterIn(r, &spec.Component{Name: "gather", Role: spec.RoleSink, Summary: "test sink", Accepts: event.KindsOf(event.IPStat)},
			func(*none, *pipeline.BuildContext) (pipeline.Component, error) { return &gather{}, nil })
		yml := "stages:\n  src: {type: replay}\n  stats:\n    type: ipstats\n    inputs: [src]\n" + tc.yml + "sinks:\n  out: {type: gather, inputs: [stats]}\n"
		cfg, errs := config.Parse("test.yaml", []byte(yml), func(string) (string, bool) { return "", false })
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		_, errs = pipeline.FromConfig(cfg, pipeline.WithRegistry(r))
		if !strings.Contains(errs.Error(), tc.want) {
			t.Errorf("%q: got %q, want it to contain %q", tc.yml, errs.Error(), tc.want)
		}
		if !strings.HasPrefix(errs.Error(), "test.yaml:6:") {
			t.Errorf("%q: error %q does not point at line 6", tc.yml, errs.Error())
		}
	}
}
