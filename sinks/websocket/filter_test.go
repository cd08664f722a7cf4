package websocket

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestFilterFieldsFollowTheRecords evaluates expressions over every
// field group of every kind, so a renamed or mis-filled field fails here.
func TestFilterFieldsFollowTheRecords(t *testing.T) {
	flows := event.NewBatch(event.Flow)
	flows.Flows = append(flows.Flows, event.FlowRec{
		ID: 0xabc, Event: event.FlowUpdate, Proto: 17, VLAN: 7,
		Client:    event.Endpoint{IP: netip.MustParseAddr("::ffff:10.1.2.3"), Port: 5353, Geo: &event.Geo{Label: "private"}},
		Server:    event.Endpoint{IP: netip.MustParseAddr("2001:db8::1"), Port: 53, Geo: &event.Geo{CountryCode: "NL", Country: "Netherlands", City: "Amsterdam", ASN: 1136, ASOrg: "KPN"}},
		FirstSeen: event.Time(10e9), LastSeen: event.Time(12_500_000_000),
		C2S: event.Counters{Packets: 2, Bytes: 150}, S2C: event.Counters{Packets: 1, Bytes: 350},
		TCPState: event.TCPEstablished, RTT: 1500 * time.Microsecond, Reason: event.ReasonActiveTimeout,
		Tags: []string{"dns", "lab"}, Attrs: map[string]string{"app": "resolver"},
	})
	tcp := event.NewBatch(event.Flow)
	tcp.Flows = append(tcp.Flows, event.FlowRec{Proto: 6, TCPState: event.TCPEstablished, FlagsC2S: event.FlagSYN | event.FlagACK, FlagsS2C: event.FlagSYN | event.FlagACK})
	stats := event.NewBatch(event.IPStat)
	stats.IPStats = append(stats.IPStats, event.IPStatRec{
		IP: netip.MustParseAddr("10.9.8.7"), Start: event.Time(0), End: event.Time(10e9), BytesIn: 10, BytesOut: 20, PacketsIn: 1, PacketsOut: 2,
		Flows: 3, Peers: 4, DstPorts: 5, Geo: &event.Geo{CountryCode: "FR", ASN: 3215},
	})
	alerts := event.NewBatch(event.Alert)
	alerts.Alerts = append(alerts.Alerts, event.AlertRec{
		ID: "a1", Rule: "scan", Severity: "critical", State: event.AlertResolved,
		Subject: "10.9.8.7", Message: "many ports", DedupKey: "scan/10.9.8.7", Labels: map[string]string{"team": "sec"},
	})
	cases := []struct {
		batch *event.Batch
		expr  string
		want  bool
	}{
		{flows, `kind == "flow" && flow.id == "0000000000000abc" && flow.event == "update" && flow.proto == "udp" && flow.proto_num == 17 && flow.vlan == 7`, true},
		{flows, `flow.client_ip == "10.1.2.3" && flow.client_port == 5353 && flow.client_label == "private"`, true},
		{flows, `flow.server_ip == "2001:db8::1" && flow.server_country == "NL" && flow.server_city == "Amsterdam" && flow.server_asn == 1136 && flow.server_as_org == "KPN"`, true},
		{flows, `flow.bytes == 500 && flow.packets == 3 && flow.bytes_c2s == 150 && flow.bytes_s2c == 350 && flow.packets_c2s == 2 && flow.packets_s2c == 1 && flow.duration == 2.5`, true},
		{flows, `flow.first_seen < flow.last_seen && time == flow.last_seen && flow.last_seen.Unix() == 12`, true},
		{flows, `flow.state == "" && flow.flags_c2s == "" && flow.rtt_ms == 1.5 && flow.end_reason == "active_timeout"`, true},
		{flows, `"dns" in flow.tags && flow.attrs.app == "resolver" && flow.client_ip startsWith "10."`, true},
		{flows, `in_cidr(flow.client_ip, "192.168.0.0/16", "10.0.0.0/8") && !in_cidr(flow.server_ip, "10.0.0.0/8") && in_cidr(flow.server_ip, "2001:db8::/32")`, true},
		{flows, `port_in(flow.server_port, 22, "50-60") && port_in(flow.client_port, "80,5353") && !port_in(flow.server_port, 80)`, true},
		{flows, `kind == "alert" || alert.rule == "scan"`, false},
		{flows, `flow.bytes > 1e6`, false},
		{tcp, `flow.state == "ESTABLISHED" && flow.flags_c2s == "...A..S." && flow.flags_s2c == "...A..S."`, true},
		{stats, `kind == "ipstat" && ipstat.ip == "10.9.8.7" && ipstat.bytes_in == 10 && ipstat.bytes_out == 20 && ipstat.bytes == 30 && ipstat.packets == 3`, true},
		{stats, `ipstat.packets_in == 1 && ipstat.packets_out == 2 && ipstat.flows == 3 && ipstat.peers == 4 && ipstat.dst_ports == 5`, true},
		{stats, `ipstat.country == "FR" && ipstat.asn == 3215 && ipstat.interval == 10 && ipstat.start < ipstat.end && in_cidr(ipstat.ip, "10.0.0.0/8")`, true},
		{alerts, `kind == "alert" && alert.id == "a1" && alert.rule == "scan" && alert.severity == "critical" && alert.state == "resolved"`, true},
		{alerts, `alert.subject == "10.9.8.7" && alert.message contains "ports" && alert.labels.team == "sec" && alert.dedup_key == "scan/10.9.8.7"`, true},
		{alerts, `flow.bytes > 0`, false},
	}
	var machine vm.VM
	for _, c := range cases {
		prog, err := compileFilter(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		f := newFrame(c.batch)
		got, err := machine.Run(prog, f.env(0))
		f.release()
		if err != nil || got != c.want {
			t.Errorf("%s on a %s: %v, %v; want %v", c.expr, c.batch.Kind, got, err, c.want)
		}
	}
}

// TestFrameEncodesOnceAsArrayAndEvents checks the shared encoding: the
// whole buffer is a JSON array, each event slice is the contract
// encoding of its record.
func TestFrameEncodesOnceAsArrayAndEvents(t *testing.T) {
	b := flowBatch(0, 5, "")
	f := newFrame(b)
	defer f.release()
	var arr []map[string]any
	if err := json.Unmarshal(f.buf, &arr); err != nil || len(arr) != 5 {
		t.Fatalf("buffer is not an array of 5: %v: %s", err, f.buf)
	}
	for i := range b.Flows {
		if got, want := string(f.event(i)), string(b.Flows[i].AppendJSON(nil)); got != want {
			t.Errorf("event %d = %s, want %s", i, got, want)
		}
	}
	empty := newFrame(event.NewBatch(event.Alert))
	if string(empty.buf) != "[]" || empty.len() != 0 {
		t.Errorf("empty frame %q len %d", empty.buf, empty.len())
	}
	empty.release()
}

func TestFrameHoldsTheBatchUntilReleased(t *testing.T) {
	pool := event.NewPool(event.Flow)
	b := pool.Get()
	b.Flows = append(b.Flows, testFlow(1, ""))
	f := newFrame(b)
	f.retain()  // a client queue
	b.Release() // the pipeline is done with it
	if len(b.Flows) != 1 {
		t.Fatal("the batch was recycled while a frame holds it")
	}
	f.release()
	if len(b.Flows) != 1 {
		t.Fatal("the batch was recycled while a client holds the frame")
	}
	f.release()
	if len(b.Flows) != 0 {
		t.Error("the batch was not given back when the last holder released the frame")
	}
}
