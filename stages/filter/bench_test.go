package filter

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func benchFilter(b *testing.B, rules ...RuleConfig) *filter {
	b.Helper()
	cfg := &Config{Rules: rules}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if r.Aggregate == "" {
			r.Aggregate = "count"
		}
		r.MaxKeys, r.MaxValues = 100000, 100000
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	return newFilter(cfg.compiled, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// benchFlows returns n flows from 256 sources to varying ports, one
// millisecond of packet time apart.
func benchFlows(n int) []event.FlowRec {
	fs := make([]event.FlowRec, n)
	for i := range fs {
		fs[i] = tcpFlow("10.0.0.1", "192.0.2.1", uint16(1+i%1000), float64(i)/1000, uint64(i))
		fs[i].Client.IP = netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
	}
	return fs
}

// evalLoop runs the per-record work of the stage over fs b.N times in
// total and reports rule evaluations per second.
func evalLoop(b *testing.B, f *filter, fs []event.FlowRec) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := &fs[i%len(fs)]
		// Packet time keeps moving forward across passes over fs.
		t := rec.LastSeen + event.Time(i/len(fs))*event.Time(len(fs))*event.Time(time.Millisecond)
		f.advance(event.Flow, t)
		f.box.env.setFlow(rec)
		f.evaluate(&recRef{kind: event.Flow, t: t, flow: rec})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

// BenchmarkRuleSimple is one plain rule over flows (filling the
// environment included): the target is 1,000,000 evaluations per second
// per core.
func BenchmarkRuleSimple(b *testing.B) {
	f := benchFilter(b, RuleConfig{Name: "big", When: `kind == "flow" && flow.bytes > 1e9`, Drop: true})
	evalLoop(b, f, benchFlows(4096))
}

// BenchmarkRuleHelpers is a plain rule using the address and port helpers.
func BenchmarkRuleHelpers(b *testing.B) {
	f := benchFilter(b, RuleConfig{Name: "lab", When: `flow.client_ip in cidr("192.168.0.0/16") || (port_in(flow.server_port, "8000-8999", 22) && flow.server_ip != "192.0.2.99")`, Route: true})
	evalLoop(b, f, benchFlows(4096))
}

// BenchmarkRuleWindowed is the port scan rule: per source, distinct
// destination ports over 60s, with 256 sources each touching 1000 ports.
func BenchmarkRuleWindowed(b *testing.B) {
	f := benchFilter(b, RuleConfig{Name: "scan", When: `kind == "flow" && flow.proto == "tcp"`, For: time.Minute,
		Key: "flow.client_ip", Aggregate: "distinct", Value: "flow.server_port", Threshold: 1e6, Tag: []string{"scanner"}})
	evalLoop(b, f, benchFlows(1<<16))
}

// BenchmarkRuleWindowedSum sums bytes per source over 5 minutes.
func BenchmarkRuleWindowedSum(b *testing.B) {
	f := benchFilter(b, RuleConfig{Name: "heavy", When: `kind == "flow"`, For: 5 * time.Minute,
		Key: "flow.client_ip", Aggregate: "sum", Value: "flow.bytes", Threshold: 1e18, Tag: []string{"heavy"}})
	evalLoop(b, f, benchFlows(1<<16))
}

func TestWindowedEvaluationAllocatesNothing(t *testing.T) {
	cfg := &Config{Rules: []RuleConfig{{Name: "scan", When: `kind == "flow"`, For: time.Minute, Key: "flow.client_ip",
		Aggregate: "distinct", Value: "flow.server_port", Threshold: 1e6, Tag: []string{"x"}, MaxKeys: 1000, MaxValues: 1000}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f := newFilter(cfg.compiled, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	fs := benchFlows(4096)
	// Warm up: every key and value exists.
	for i := range fs {
		f.advance(event.Flow, fs[i].LastSeen)
		f.box.env.setFlow(&fs[i])
		f.evaluate(&recRef{kind: event.Flow, t: fs[i].LastSeen, flow: &fs[i]})
	}
	i := 0
	if a := testing.AllocsPerRun(2000, func() {
		rec := &fs[i%len(fs)]
		f.box.env.setFlow(rec)
		f.evaluate(&recRef{kind: event.Flow, t: f.now[event.Flow], flow: rec})
		i++
	}); a != 0 {
		t.Errorf("%v allocations per record", a)
	}
}
