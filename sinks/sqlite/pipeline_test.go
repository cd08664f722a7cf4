package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// captures are real traffic: the recordings between network namespaces
// and a spread of the public corpus (IPv6, QinQ, fragments, tunnels,
// ICMP, long idle gaps, pcapng).
var captures = []string{
	"testdata/real/mixed-eth.pcap",
	"testdata/real/mixed-sll2.pcap",
	"testdata/corpus/valid/zeek_ftp_ipv6.pcap",
	"testdata/corpus/valid/zeek_tcp_reassembly.pcap",
	"testdata/corpus/valid/zeek_http-qinq-0.pcap",
	"testdata/corpus/valid/zeek_dns_long-connection.pcap",
	"testdata/corpus/valid/zeek_icmp_5-pings.pcap",
	"testdata/corpus/valid/zeek_ipv6-fragmented-dns.pcap",
	"testdata/corpus/valid/zeek_tunnels_vxlan-encapsulated-http.pcap",
	"testdata/corpus/valid/zeek_vlan-pcp-dei.pcapng",
	"testdata/corpus/valid/zeek_pppoe-over-qinq.pcap",
}

// pipelineYAML replays a capture into the history sink and, from the same
// stages, into a jsonl file that serves as the reference.
func pipelineYAML(capture, db, jsonl string) string {
	return fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], idle_timeout: 30s}
  stats: {type: ipstats, inputs: [decode], interval: 10s}
sinks:
  history: {type: sqlite, inputs: [sessions, stats], %s, batch_size: 7}
  reference: {type: jsonl, inputs: [sessions, stats], path: %q}
`, capture, db, jsonl)
}

// ipstatLine is an ipstat record as the jsonl sink wrote it.
type ipstatLine struct {
	IP         string    `json:"ip"`
	Start      time.Time `json:"start"`
	BytesIn    int64     `json:"bytes_in"`
	BytesOut   int64     `json:"bytes_out"`
	PacketsIn  int64     `json:"packets_in"`
	PacketsOut int64     `json:"packets_out"`
	Flows      int64     `json:"flows"`
	Peers      int64     `json:"peers"`
	DstPorts   int64     `json:"dst_ports"`
}

// checkAgainstReference asserts that the database holds exactly the flows
// of the jsonl file, in the same order and with the same JSON, and that
// every rollup row is the sum of the ipstat records of its bucket.
func checkAgainstReference(t *testing.T, s *store.Store, probe string, lines []string) {
	t.Helper()
	ctx := context.Background()
	var wantFlows []string
	var stats []ipstatLine
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, `{"kind":"flow"`):
			if !strings.HasPrefix(l, `{"kind":"flow","event":"end"`) {
				t.Fatalf("reference has a flow update: %s", l)
			}
			wantFlows = append(wantFlows, l)
		case strings.HasPrefix(l, `{"kind":"ipstat"`):
			var r ipstatLine
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			stats = append(stats, r)
		}
	}
	if len(wantFlows) == 0 || len(stats) == 0 {
		t.Fatalf("reference has %d flows and %d ipstats; the capture is not a test", len(wantFlows), len(stats))
	}

	var rows []store.Flow
	if err := s.DB().NewSelect().Model(&rows).Where("probe = ?", probe).Order("id").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rows))
	for i := range rows {
		r := rows[i].Record()
		got[i] = string(r.AppendJSON(nil))
	}
	if !slices.Equal(got, wantFlows) {
		t.Errorf("flows table holds %d flows, reference %d", len(got), len(wantFlows))
		for i := range min(len(got), len(wantFlows)) {
			if got[i] != wantFlows[i] {
				t.Fatalf("first difference at flow %d:\n  db  %s\n  ref %s", i, got[i], wantFlows[i])
			}
		}
	}
	// The query layer finds them all too.
	var found int
	q := store.FlowQuery{Probe: probe, Limit: 500}
	for {
		page, err := s.Flows(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		found += len(page.Flows)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if found != len(wantFlows) {
		t.Errorf("Flows query finds %d flows, want %d", found, len(wantFlows))
	}

	for _, w := range store.DefaultRollups {
		type key struct {
			bucket int64
			ip     string
		}
		want := map[key]store.IPStat{}
		var raw store.IPStat
		for _, r := range stats {
			k := key{store.BucketStart(event.TimeOf(r.Start), w), r.IP}
			x := want[k]
			x.BytesIn += r.BytesIn
			x.BytesOut += r.BytesOut
			x.PacketsIn += r.PacketsIn
			x.PacketsOut += r.PacketsOut
			x.Flows += r.Flows
			x.Peers = max(x.Peers, r.Peers)
			x.DstPorts = max(x.DstPorts, r.DstPorts)
			x.Intervals++
			want[k] = x
			raw.BytesIn += r.BytesIn
			raw.BytesOut += r.BytesOut
			raw.PacketsIn += r.PacketsIn
			raw.PacketsOut += r.PacketsOut
			raw.Flows += r.Flows
		}
		var dbRows []store.IPStat
		if err := s.DB().NewSelect().Model(&dbRows).Where("probe = ? AND res = ?", probe, int64(w/time.Second)).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if len(dbRows) != len(want) {
			t.Errorf("%v: %d rollup rows, want %d", w, len(dbRows), len(want))
		}
		var sum store.IPStat
		for _, r := range dbRows {
			x, ok := want[key{r.Bucket, r.IP}]
			if !ok {
				t.Errorf("%v: unexpected rollup row %s at %d", w, r.IP, r.Bucket)
				continue
			}
			if r.BytesIn != x.BytesIn || r.BytesOut != x.BytesOut || r.PacketsIn != x.PacketsIn || r.PacketsOut != x.PacketsOut ||
				r.Flows != x.Flows || r.Peers != x.Peers || r.DstPorts != x.DstPorts || r.Intervals != x.Intervals {
				t.Errorf("%v: row %s at %d = %+v, want %+v", w, r.IP, r.Bucket, r, x)
			}
			sum.BytesIn += r.BytesIn
			sum.BytesOut += r.BytesOut
			sum.PacketsIn += r.PacketsIn
			sum.PacketsOut += r.PacketsOut
			sum.Flows += r.Flows
		}
		if sum.BytesIn != raw.BytesIn || sum.BytesOut != raw.BytesOut || sum.PacketsIn != raw.PacketsIn || sum.PacketsOut != raw.PacketsOut || sum.Flows != raw.Flows {
			t.Errorf("%v rollups sum to %+v, raw intervals to %+v", w, sum, raw)
		}
	}
	// Every transaction is accounted for.
	if n := count(t, s, "SELECT COALESCE(SUM(flows), 0) FROM batches WHERE probe = ?", probe); n != int64(len(wantFlows)) {
		t.Errorf("batches count %d flows, want %d", n, len(wantFlows))
	}
}

// TestPipelineStoresEveryFlowAndRollup replays real captures through
// capture, decode, sessionize and ipstats into the history sink and a
// jsonl file at once, and checks the database against the file.
func TestPipelineStoresEveryFlowAndRollup(t *testing.T) {
	root := repoRoot(t)
	all := append([]string(nil), captures...)
	// A generated capture adds volume: thousands of flows over a minute
	// of packet time fill several index blocks and rollup buckets.
	all = append(all, generatedCapture(t, gen.Config{Packets: 30000, Flows: 5000, Concurrent: 800, Seed: 7, Spacing: 2 * time.Millisecond}))
	for _, c := range all {
		if !filepath.IsAbs(c) {
			c = filepath.Join(root, c)
		}
		t.Run(filepath.Base(c), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "h.db")
			out := filepath.Join(dir, "ref.jsonl")
			p := runYAML(t, pipelineYAML(c, fmt.Sprintf("path: %q", db), out))
			st, _ := p.Status().Component("history")
			if st.Dropped != 0 || st.Errors != 0 {
				t.Errorf("history dropped %d, errors %d", st.Dropped, st.Errors)
			}
			s := openStore(t, store.Options{Path: db, ReadOnly: true})
			checkAgainstReference(t, s, "", readLines(t, out))
			// The pipeline's own start and stop are in the events table.
			var kinds []string
			if err := s.DB().NewRaw("SELECT kind FROM events ORDER BY time, id").Scan(context.Background(), &kinds); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(kinds, []string{"started", "stopped"}) {
				t.Errorf("events %v, want [started stopped]", kinds)
			}
		})
	}
}

// generatedCapture writes a synthetic capture into the test's directory.
func generatedCapture(t testing.TB, cfg gen.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "generated.pcap")
	if _, err := gen.WriteFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPipelineIntoPostgres runs the same pipeline into PostgreSQL with two
// history sinks of different probes writing one database at once.
func TestPipelineIntoPostgres(t *testing.T) {
	dsn := pgSchemaDSN(t)
	root := repoRoot(t)
	for _, c := range captures[:4] {
		t.Run(filepath.Base(c), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ref.jsonl")
			yml := pipelineYAML(filepath.Join(root, c), fmt.Sprintf("dsn: %q, probe: %q", dsn, "probe-a-"+filepath.Base(c)), out) +
				fmt.Sprintf("  second: {type: sqlite, inputs: [sessions, stats], dsn: %q, probe: %q, batch_size: 13}\n", dsn, "probe-b-"+filepath.Base(c))
			runYAML(t, yml)
			s := openStore(t, store.Options{DSN: dsn, ReadOnly: true})
			lines := readLines(t, out)
			checkAgainstReference(t, s, "probe-a-"+filepath.Base(c), lines)
			checkAgainstReference(t, s, "probe-b-"+filepath.Base(c), lines)
		})
	}
}

// TestPipelineStoresAlerts runs a recording of port scans through the
// filter stage's scan rule: every alert it raises (firing, then
// resolved) is stored with the flow that fired it, and tagged flows keep
// their tags.
func TestPipelineStoresAlerts(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "h.db"), filepath.Join(dir, "ref.jsonl")
	runYAML(t, fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  alerts:
    type: filter
    inputs: [sessions]
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
sinks:
  history: {type: sqlite, inputs: [alerts], path: %q}
  reference: {type: jsonl, inputs: [alerts], path: %q}
`, filepath.Join(repoRoot(t), "stages/filter/testdata/portscan.pcap"), db, out))
	s := openStore(t, store.Options{Path: db, ReadOnly: true})
	var want []string
	tagged := 0
	for _, l := range readLines(t, out) {
		if strings.HasPrefix(l, `{"kind":"alert"`) {
			want = append(want, l)
		}
		if strings.HasPrefix(l, `{"kind":"flow"`) && strings.Contains(l, `"tags":["scanner"]`) {
			tagged++
		}
	}
	if len(want) == 0 || tagged == 0 {
		t.Fatalf("the reference has %d alerts and %d tagged flows; the rule did not fire", len(want), tagged)
	}
	t.Logf("%d alerts, %d tagged flows", len(want), tagged)
	page, err := s.Alerts(context.Background(), store.AlertQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Alerts) != len(want) {
		t.Fatalf("%d alerts stored, want %d", len(page.Alerts), len(want))
	}
	for i, a := range page.Alerts {
		// Newest first in the store, oldest first in the file.
		var ref struct {
			ID, Rule, Severity, State, Subject, Message string
			DedupeKey                                   string          `json:"dedupe_key"`
			Time                                        time.Time       `json:"time"`
			Flow                                        json.RawMessage `json:"flow"`
		}
		if err := json.Unmarshal([]byte(want[len(want)-1-i]), &ref); err != nil {
			t.Fatal(err)
		}
		if a.AlertID != ref.ID || a.Rule != ref.Rule || a.Severity != ref.Severity || a.State != ref.State ||
			a.Subject != ref.Subject || a.Message != ref.Message || a.DedupeKey != ref.DedupeKey || a.Time != ref.Time.UnixNano() {
			t.Errorf("alert %d: stored %+v, reference %s", i, a, want[len(want)-1-i])
		}
		if len(ref.Flow) > 0 && a.Record != string(ref.Flow) {
			t.Errorf("alert %d: stored record %s, reference %s", i, a.Record, ref.Flow)
		}
	}
	if n := count(t, s, "SELECT COUNT(*) FROM flows WHERE tags = ?", `["scanner"]`); n != int64(tagged) {
		t.Errorf("%d tagged flows stored, want %d", n, tagged)
	}
}

// TestPipelineRetentionByPacketTime replays a minute of generated traffic
// with retention limits shorter than that: when the sink stops, flows and
// fine rollups older than their limit, counted back from the newest packet
// time, are gone and everything newer is there.
func TestPipelineRetentionByPacketTime(t *testing.T) {
	dir := t.TempDir()
	capture := generatedCapture(t, gen.Config{Packets: 30000, Flows: 5000, Concurrent: 800, Seed: 11, Spacing: 2 * time.Millisecond})
	db, out := filepath.Join(dir, "h.db"), filepath.Join(dir, "ref.jsonl")
	runYAML(t, fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], idle_timeout: 5s, close_linger: 100ms}
  stats: {type: ipstats, inputs: [decode], interval: 10s}
sinks:
  history:
    type: sqlite
    inputs: [sessions, stats]
    path: %q
    rollups: [10s, 1m]
    retention: {flows: 20s, ip_stats_10s: 30s, ip_stats_1m: forever}
  reference: {type: jsonl, inputs: [sessions, stats], path: %q}
`, capture, db, out))
	var lastSeen []time.Time
	var newest time.Time
	var stats []ipstatLine
	for _, l := range readLines(t, out) {
		switch {
		case strings.HasPrefix(l, `{"kind":"flow"`):
			var f struct {
				LastSeen time.Time `json:"last_seen"`
			}
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatal(err)
			}
			lastSeen = append(lastSeen, f.LastSeen)
			if f.LastSeen.After(newest) {
				newest = f.LastSeen
			}
		case strings.HasPrefix(l, `{"kind":"ipstat"`):
			var r ipstatLine
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			stats = append(stats, r)
			if r.Start.After(newest) {
				newest = r.Start
			}
		}
	}
	cut := newest.Add(-20 * time.Second)
	var keep int64
	for _, ls := range lastSeen {
		if !ls.Before(cut) {
			keep++
		}
	}
	if keep == 0 || keep == int64(len(lastSeen)) {
		t.Fatalf("%d of %d flows are newer than the limit: not a retention test", keep, len(lastSeen))
	}
	s := openStore(t, store.Options{Path: db, ReadOnly: true})
	if n := count(t, s, "SELECT COUNT(*) FROM flows"); n != keep {
		t.Errorf("%d flows kept, want the %d that ended in the last 20s of packet time", n, keep)
	}
	if n := count(t, s, "SELECT COUNT(*) FROM flows WHERE last_seen < ?", cut.UnixNano()); n != 0 {
		t.Errorf("%d flows older than the limit remain", n)
	}
	statCut := newest.Add(-30 * time.Second).UnixNano()
	if n := count(t, s, "SELECT COUNT(*) FROM ip_stats WHERE res = 10 AND bucket < ?", statCut); n != 0 {
		t.Errorf("%d 10s buckets older than 30s remain", n)
	}
	if n := count(t, s, "SELECT COUNT(*) FROM ip_stats WHERE res = 10"); n == 0 {
		t.Error("every 10s bucket was pruned")
	}
	// The minute level is kept for ever: it still sums to every interval.
	var raw, got int64
	for _, r := range stats {
		raw += r.BytesIn + r.BytesOut
	}
	if err := s.DB().NewRaw("SELECT SUM(bytes_in + bytes_out) FROM ip_stats WHERE res = 60").Scan(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	if got != raw {
		t.Errorf("minute rollups hold %d bytes after pruning, want all %d", got, raw)
	}
}
