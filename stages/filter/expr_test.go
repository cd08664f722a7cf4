package filter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func sampleFlow() *event.FlowRec {
	return &event.FlowRec{
		ID: 7, Event: event.FlowEnd, Proto: 6,
		Client:    event.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 51515, Geo: &event.Geo{Label: "private"}},
		Server:    event.Endpoint{IP: netip.MustParseAddr("192.0.2.80"), Port: 443, Geo: &event.Geo{CountryCode: "DE", City: "Berlin", ASN: 64500, ASOrg: "Example"}},
		FirstSeen: event.Time(1_700_000_000_000_000_000), LastSeen: event.Time(1_700_000_012_500_000_000),
		C2S: event.Counters{Packets: 10, Bytes: 1000}, S2C: event.Counters{Packets: 20, Bytes: 2_000_000},
		TCPState: event.TCPClosed, FlagsC2S: event.FlagSYN | event.FlagACK | event.FlagFIN, RTT: 1500 * time.Microsecond,
		Reason: event.ReasonFIN, Tags: []string{"web"}, Attrs: map[string]string{"app": "https"},
	}
}

// eval compiles src and runs it on rec.
func eval(t *testing.T, src string, fill func(*Env)) (any, error) {
	t.Helper()
	p, err := compile(src, Env{}, asAny)
	if err != nil {
		return nil, err
	}
	f := newFilter(nil, false, nil)
	fill(&f.box.env)
	return f.vm.Run(p, f.box.val)
}

func TestExpressionsOverAFlow(t *testing.T) {
	fl := sampleFlow()
	cases := map[string]any{
		`kind`:                                    "flow",
		`flow.proto`:                              "tcp",
		`flow.bytes`:                              2_001_000,
		`flow.bytes > 1e6`:                        true,
		`flow.packets_s2c`:                        20,
		`flow.duration`:                           12.5,
		`flow.rtt_ms`:                             1.5,
		`flow.state`:                              "CLOSED",
		`flow.flags_c2s`:                          "...A..SF",
		`flow.end_reason`:                         "fin",
		`flow.event`:                              "end",
		`"web" in flow.tags`:                      true,
		`flow.attrs["app"]`:                       "https",
		`flow.client_label`:                       "private",
		`flow.server_country`:                     "DE",
		`flow.server_asn == 64500`:                true,
		`flow.client_ip == "10.1.2.3"`:            true,
		`flow.client_ip != "10.1.2.3"`:            false,
		`"10.1.2.3" == flow.client_ip`:            true,
		`flow.client_ip == ip("::ffff:10.1.2.3")`: true,
		`flow.client_ip == flow.server_ip`:        false,
		`flow.client_ip in cidr("10.0.0.0/8")`:    true,
		`flow.server_ip in cidr("10.0.0.0/8")`:    false,
		`in_cidr(flow.server_ip, "10.0.0.0/8", "192.0.2.0/24")`: true,
		`in_cidr(flow.server_ip, cidr("198.51.100.0/24"))`:      false,
		`flow.server_ip in ["198.51.100.1", "192.0.2.80"]`:      true,
		`flow.server_ip in ["198.51.100.0/24"]`:                 false,
		`port_in(flow.server_port, 22, "400-500")`:              true,
		`port_in(flow.server_port, "80,8080")`:                  false,
		`port_in(flow.client_port, "50000-52000")`:              true,
		`ipstat.bytes`: 0,
		`flow.last_seen.Sub(flow.first_seen).Seconds()`: 12.5,
		`time == flow.last_seen`:                        true,
		`flow.server_port in [80, 443]`:                 true,
	}
	for src, want := range cases {
		got, err := eval(t, src, func(e *Env) { e.setFlow(fl) })
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %#v, want %#v", src, got, want)
		}
	}
}

func TestExpressionsOverIPStatAndAlert(t *testing.T) {
	st := &event.IPStatRec{IP: netip.MustParseAddr("198.51.100.7"), Start: 0, End: event.Time(10 * time.Second),
		BytesIn: 100, BytesOut: 900, PacketsIn: 1, PacketsOut: 9, Flows: 3, Peers: 2, DstPorts: 150,
		Geo: &event.Geo{CountryCode: "FR"}}
	for src, want := range map[string]any{
		`kind == "ipstat" && ipstat.dst_ports > 100`: true,
		`ipstat.bytes`:                         1000,
		`ipstat.interval`:                      10.0,
		`ipstat.country`:                       "FR",
		`ipstat.ip in cidr("198.51.100.0/24")`: true,
		`flow.bytes`:                           0,
	} {
		got, err := eval(t, src, func(e *Env) { e.setFlow(sampleFlow()); e.setIPStat(st) })
		if err != nil || got != want {
			t.Errorf("%s = %#v (%v), want %#v", src, got, err, want)
		}
	}
	al := &event.AlertRec{Rule: "scan", Severity: "critical", State: event.AlertFiring, Subject: "10.0.0.1", DedupKey: "scan/10.0.0.1"}
	got, err := eval(t, `kind == "alert" && alert.severity == "critical" && alert.rule == "scan" && flow.proto == ""`, func(e *Env) { e.setFlow(sampleFlow()); e.setAlert(al) })
	if err != nil || got != true {
		t.Errorf("alert: %v %v", got, err)
	}
}

func TestCompileErrorsArePositioned(t *testing.T) {
	cases := []struct {
		src       string
		line, col int
		msg       string
	}{
		{`flow.bytez > 1`, 1, 6, "flow has no field bytez; did you mean flow.bytes?"},
		{`kindd == "flow"`, 1, 1, "unknown name kindd; did you mean kind?"},
		{`in_cidr(flow.bytes, "10.0.0.0/8")`, 1, 14, "in_cidr takes an address first"},
		{"kind == \"flow\" &&\n  flow.bytes > 1e6 && foo", 2, 23, "unknown name foo"},
		{`flow.bytes > "x"`, 1, 12, "mismatched types"},
		{`flow.client_ip in cidr("10.0.0.0/33")`, 1, 24, "invalid network"},
		{`flow.client_ip == "10.0.0.999"`, 1, 19, "invalid address"},
		{`port_in(flow.server_port, "80-70")`, 1, 27, "invalid port range"},
		{`flow.bytes >`, 1, 12, "unexpected token"},
	}
	for _, tc := range cases {
		_, err := compile(tc.src, Env{}, asBool)
		var ee *exprError
		if !errors.As(err, &ee) {
			t.Errorf("%q: error %v is not positioned", tc.src, err)
			continue
		}
		if ee.Line != tc.line || ee.Col != tc.col || !strings.Contains(ee.Msg, tc.msg) {
			t.Errorf("%q: got line %d col %d %q, want %d:%d %q", tc.src, ee.Line, ee.Col, ee.Msg, tc.line, tc.col, tc.msg)
		}
	}
	if _, err := compile(`flow.bytes`, Env{}, asBool); err == nil || !strings.Contains(err.Error(), "bool") {
		t.Errorf("a non-boolean when compiled: %v", err)
	}
}

func TestTemplates(t *testing.T) {
	tp, err := parseTemplate("scan from {{ key }}: {{ value }} ports in {{ window }} ({{ flow.proto }}, {{ threshold * 2 }})")
	if err != nil {
		t.Fatal(err)
	}
	m := &msgEnv{Key: netip.MustParseAddr("10.78.0.3"), Value: 101, Threshold: 100, Window: "1m0s"}
	m.setFlow(sampleFlow())
	if got, want := tp.render(m), "scan from 10.78.0.3: 101 ports in 1m0s (tcp, 200)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for src, want := range map[string]string{
		"a {{ nope }} b":       "unknown name nope at column 6 of the message",
		"ok {{ flow.bytes":     "unclosed {{ at column 4",
		"{{ flow.bytes + }}":   "at column",
		"x {{ rule }} {{ ) }}": "column",
	} {
		_, err := parseTemplate(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

// TestBoxAliasesTheEnvironment checks the trick the stage relies on: the
// VM reads the reused environment in place, so a refill is seen by the
// next evaluation.
func TestBoxAliasesTheEnvironment(t *testing.T) {
	p, err := compile(`flow.bytes`, Env{}, asAny)
	if err != nil {
		t.Fatal(err)
	}
	f := newFilter(nil, false, nil)
	for _, n := range []uint64{5, 70000, 1 << 40} {
		fl := sampleFlow()
		fl.C2S.Bytes, fl.S2C.Bytes = n, 0
		f.box.env.setFlow(fl)
		got, err := f.vm.Run(p, f.box.val)
		if err != nil || got != int(n) {
			t.Errorf("got %v (%v), want %d", got, err, n)
		}
	}
}

func TestEvaluationAllocatesNothing(t *testing.T) {
	fl := sampleFlow()
	for _, src := range []string{
		`kind == "flow" && flow.bytes > 1e9`,
		`flow.client_ip in cidr("10.0.0.0/8") && port_in(flow.server_port, "400-500") && flow.server_ip != "192.0.2.1"`,
		`flow.proto == "tcp" && flow.server_country == "DE" && "web" in flow.tags`,
	} {
		p, err := compile(src, Env{}, asBool)
		if err != nil {
			t.Fatal(err)
		}
		f := newFilter(nil, false, nil)
		if a := testing.AllocsPerRun(1000, func() {
			f.box.env.setFlow(fl)
			if _, err := f.vm.Run(p, f.box.val); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: %v allocations per record", src, a)
		}
	}
}
