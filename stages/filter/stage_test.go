package filter

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func TestActionsAndOutputs(t *testing.T) {
	mdns := tcpFlow("10.0.0.5", "224.0.0.251", 5353, 1, 100)
	mdns.Proto = 17
	web := tcpFlow("10.0.0.6", "192.0.2.10", 443, 2, 5000)
	web.Tags = []string{"seen"}
	big := tcpFlow("10.0.0.7", "192.0.2.11", 80, 3, 2_000_000)
	lab := tcpFlow("192.0.2.200", "10.0.0.8", 8080, 4, 10)
	other := tcpFlow("10.0.0.9", "198.51.100.1", 25, 5, 10)
	res := runFilter(t, `
    rules:
      - name: no_mdns
        when: 'kind == "flow" && flow.server_port == 5353'
        drop: true
      - name: big
        when: 'flow.bytes > 1e6'
        tag: [big, transfer]
      - name: tagged_again
        when: '"big" in flow.tags'
        tag: [big, seen_big]
        route: true
      - name: lab
        when: 'flow.client_ip in cidr("192.0.2.0/24") || port_in(flow.server_port, "8000-8999")'
        route: true
        keep: true
      - name: only_lab
        when: 'flow.server_port == 8080'
        drop: true
      - name: web
        when: 'flow.server_port == 443'
        tag: [web]
`, flows(mdns, web, big, lab, other))
	var ports []uint16
	for _, f := range res.out.flows {
		ports = append(ports, f.Server.Port)
	}
	if !slices.Equal(ports, []uint16{443, 80, 8080, 25}) {
		t.Errorf("kept ports %v", ports)
	}
	if len(res.rejected.flows) != 1 || res.rejected.flows[0].Server.Port != 5353 {
		t.Errorf("rejected %+v", res.rejected.flows)
	}
	var routed []uint16
	for _, f := range res.matched.flows {
		routed = append(routed, f.Server.Port)
	}
	if !slices.Equal(routed, []uint16{80, 8080}) {
		t.Errorf("routed %v", routed)
	}
	tags := map[uint16][]string{}
	for _, f := range res.out.flows {
		tags[f.Server.Port] = f.Tags
	}
	if !slices.Equal(tags[80], []string{"big", "transfer", "seen_big"}) || !slices.Equal(tags[443], []string{"seen", "web"}) || tags[25] != nil {
		t.Errorf("tags %v", tags)
	}
	c := res.status.Counters
	if c["dropped"] != 1 || c["routed"] != 2 || c["tagged"] != 2 || c["matched.no_mdns"] != 1 || c["matched.lab"] != 1 || c["matched.only_lab"] != 0 {
		t.Errorf("counters %v", c)
	}
	if len(res.alerts.alerts) != 0 || len(res.alerts.flows) != 0 {
		t.Error("the alerts output carried something")
	}
}

func TestDefaultDrop(t *testing.T) {
	res := runFilter(t, `
    default: drop
    rules:
      - name: https
        when: 'flow.server_port == 443'
        keep: true
`, flows(tcpFlow("10.0.0.1", "192.0.2.1", 443, 1, 1), tcpFlow("10.0.0.1", "192.0.2.1", 80, 1, 1)))
	if len(res.out.flows) != 1 || res.out.flows[0].Server.Port != 443 || len(res.rejected.flows) != 1 {
		t.Errorf("kept %d, rejected %d", len(res.out.flows), len(res.rejected.flows))
	}
}

// TestSimpleAlertLifecycle checks one alert per key however many records
// match, repeats after repeat_interval, and resolved after resolve_after.
func TestSimpleAlertLifecycle(t *testing.T) {
	var in []*event.Batch
	// The same 5-tuple reported as an update every 30s for 3 minutes,
	// a second big flow, then unrelated traffic 10 minutes later.
	for s := 0.0; s <= 180; s += 30 {
		f := tcpFlow("10.0.0.1", "192.0.2.1", 443, s, 2e9)
		f.Event = event.FlowUpdate
		in = append(in, flows(f))
	}
	in = append(in, flows(tcpFlow("10.0.0.2", "192.0.2.2", 443, 200, 3e9)))
	in = append(in, flows(tcpFlow("10.0.0.3", "192.0.2.3", 80, 800, 10)))
	res := runFilter(t, `
    rules:
      - name: big_transfer
        when: 'flow.bytes > 1e9'
        alert:
          severity: critical
          message: '{{ flow.client_ip }} moved {{ flow.bytes }} bytes to {{ flow.server_ip }}:{{ flow.server_port }}'
          repeat_interval: 2m
          resolve_after: 5m
`, in...)
	var got []string
	for _, a := range res.alerts.alerts {
		got = append(got, fmt.Sprintf("%s %s %s %v", a.State, a.DedupKey, a.Message, (a.Time-t0)/1e9))
	}
	want := []string{
		"firing big_transfer/tcp 10.0.0.1:40000 -> 192.0.2.1:443 10.0.0.1 moved 2000000074 bytes to 192.0.2.1:443 0",
		"firing big_transfer/tcp 10.0.0.1:40000 -> 192.0.2.1:443 10.0.0.1 moved 2000000074 bytes to 192.0.2.1:443 120",
		"firing big_transfer/tcp 10.0.0.2:40000 -> 192.0.2.2:443 10.0.0.2 moved 3000000074 bytes to 192.0.2.2:443 200",
		"resolved big_transfer/tcp 10.0.0.1:40000 -> 192.0.2.1:443 10.0.0.1 moved 2000000074 bytes to 192.0.2.1:443 800",
		"resolved big_transfer/tcp 10.0.0.2:40000 -> 192.0.2.2:443 10.0.0.2 moved 3000000074 bytes to 192.0.2.2:443 800",
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ids := map[string]bool{}
	for _, a := range res.alerts.alerts {
		if ids[a.ID] {
			t.Errorf("duplicate id %s", a.ID)
		}
		ids[a.ID] = true
		if a.Severity != "critical" || a.Rule != "big_transfer" {
			t.Errorf("alert %+v", a)
		}
		if (a.State == event.AlertFiring) != (a.Flow != nil) {
			t.Errorf("%s alert with flow %v", a.State, a.Flow)
		}
	}
	// The default output has every flow and the same alerts.
	if len(res.out.flows) != 9 || len(res.out.alerts) != len(want) {
		t.Errorf("default output: %d flows, %d alerts", len(res.out.flows), len(res.out.alerts))
	}
	c := res.status.Counters
	if c["alerts_firing"] != 2 || c["alerts_repeated"] != 1 || c["alerts_resolved"] != 2 {
		t.Errorf("counters %v", c)
	}
}

func scanBatch(src string, firstPort, n int, sec float64) *event.Batch {
	b := event.NewBatch(event.Flow)
	for i := 0; i < n; i++ {
		b.Flows = append(b.Flows, tcpFlow(src, "10.9.9.9", uint16(firstPort+i), sec+float64(i)*0.01, 60))
	}
	return b
}

const portScanRule = `
    rules:
      - name: port_scan
        when: 'kind == "flow" && flow.proto == "tcp"'
        for: 60s
        key: flow.client_ip
        aggregate: distinct
        value: flow.server_port
        threshold: 100
        tag: [scanner]
        alert:
          severity: critical
          message: 'port scan from {{ key }}: {{ value }} ports in {{ window }}'
`

func TestWindowedAlertOnePerSource(t *testing.T) {
	res := runFilter(t, portScanRule,
		scanBatch("10.0.0.1", 1, 300, 10),   // a scanner
		scanBatch("10.0.0.2", 1000, 60, 11), // below the threshold
		scanBatch("10.0.0.1", 1, 300, 20),   // the same scan again: no new alert
		scanBatch("2001:db8::3", 5000, 150, 30),
		scanBatch("10.0.0.2", 2000, 60, 80),                // 120 ports, but the first 60 left the window
		flows(tcpFlow("10.0.0.4", "10.9.9.9", 80, 200, 1)), // time passes
	)
	var got []string
	for _, a := range res.alerts.alerts {
		got = append(got, fmt.Sprintf("%s %s %s %s", a.State, a.Subject, a.Labels["value"], a.Message))
	}
	want := []string{
		"firing 10.0.0.1 101 port scan from 10.0.0.1: 101 ports in 1m0s",
		"firing 2001:db8::3 101 port scan from 2001:db8::3: 101 ports in 1m0s",
		"resolved 10.0.0.1 0 port scan from 10.0.0.1: 101 ports in 1m0s",
		"resolved 2001:db8::3 0 port scan from 2001:db8::3: 101 ports in 1m0s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	scanners := 0
	for _, f := range res.out.flows {
		if slices.Contains(f.Tags, "scanner") {
			scanners++
			if f.Client.IP == netip.MustParseAddr("10.0.0.2") {
				t.Fatal("a source below the threshold was tagged")
			}
		}
	}
	// Tagged from the 101st port on: 200 + 300 + 50.
	if scanners != 550 {
		t.Errorf("%d flows tagged scanner, want 550", scanners)
	}
	if res.status.Gauges["keys"] != 1 {
		t.Errorf("keys gauge %d: expired keys are not forgotten", res.status.Gauges["keys"])
	}
}

// TestClocksPerKind: an ipstat record stamped later than the flows must
// not make them late, since flows and ipstats come from different stages.
func TestClocksPerKind(t *testing.T) {
	st := event.NewBatch(event.IPStat)
	st.IPStats = append(st.IPStats, event.IPStatRec{IP: netip.MustParseAddr("10.0.0.1"), Start: at(590), End: at(600)})
	res := runFilter(t, portScanRule, st, scanBatch("10.0.0.1", 1, 150, 10))
	if len(res.alerts.alerts) != 1 || res.status.Counters["late_records"] != 0 {
		t.Errorf("alerts %d, late %d", len(res.alerts.alerts), res.status.Counters["late_records"])
	}
}

// TestLateFlowsCountInTheOldestSlice: flows reported long after their
// last packet (ended by an idle timeout) still add up.
func TestLateFlowsCountInTheOldestSlice(t *testing.T) {
	res := runFilter(t, portScanRule,
		flows(tcpFlow("10.0.0.7", "10.9.9.9", 80, 400, 1)),
		scanBatch("10.0.0.1", 1, 150, 10))
	if len(res.alerts.alerts) != 1 || res.status.Counters["late_records"] != 150 {
		t.Errorf("alerts %d, late %d", len(res.alerts.alerts), res.status.Counters["late_records"])
	}
}

func TestSumOverIPStats(t *testing.T) {
	var in []*event.Batch
	for i := 0; i < 40; i++ { // 10s intervals; 100 MB each for .1, 1 kB for .2
		b := event.NewBatch(event.IPStat)
		for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
			n := uint64(1000)
			if ip == "198.51.100.1" {
				n = 100e6
			}
			b.IPStats = append(b.IPStats, event.IPStatRec{IP: netip.MustParseAddr(ip), Start: at(float64(10 * i)), End: at(float64(10*i + 10)), BytesOut: n})
		}
		in = append(in, b)
	}
	res := runFilter(t, `
    rules:
      - name: heavy
        when: 'kind == "ipstat"'
        for: 5m
        key: ipstat.ip
        aggregate: sum
        value: ipstat.bytes
        threshold: 1e9
        alert: {message: '{{ key }} moved {{ value }} bytes in {{ window }}'}
`, in...)
	if len(res.alerts.alerts) != 1 {
		t.Fatalf("alerts %+v", res.alerts.alerts)
	}
	a := res.alerts.alerts[0]
	// The 11th interval makes 1.1e9 > 1e9.
	if a.Subject != "198.51.100.1" || a.Severity != "warning" || a.Message != "198.51.100.1 moved 1100000000 bytes in 5m0s" || a.Time != at(110) || a.IPStat == nil {
		t.Errorf("alert %+v", a)
	}
}

func TestEvalErrorsAreCounted(t *testing.T) {
	f := tcpFlow("10.0.0.1", "192.0.2.1", 443, 1, 1)
	res := runFilter(t, `
    rules:
      - name: bad_index
        when: 'flow.tags[3] == "x"'
        drop: true
`, flows(f, f))
	if res.status.Counters["eval_errors"] != 2 || len(res.out.flows) != 2 {
		t.Errorf("counters %v, kept %d", res.status.Counters, len(res.out.flows))
	}
}
