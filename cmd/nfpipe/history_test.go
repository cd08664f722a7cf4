package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// historyBase is the newest packet time of the test history: a capture
// from long ago, so relative ranges must count from the data, not now.
var historyBase = time.Date(2011, 6, 1, 12, 0, 0, 0, time.UTC)

// fillHistory writes a small known history: 10.0.0.1 talks most, to
// 192.0.2.80 over HTTPS, 10.0.0.2 resolves names over UDP; one flow is
// two hours old.
func fillHistory(t *testing.T, path string) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mk := func(i int, client, server string, cport, sport uint16, proto uint8, bytes uint64, ago time.Duration) event.FlowRec {
		end := historyBase.Add(-ago)
		f := event.FlowRec{
			ID: uint64(0xabc000 + i), Event: event.FlowEnd, Proto: proto,
			Client:    event.Endpoint{IP: netip.MustParseAddr(client), Port: cport},
			Server:    event.Endpoint{IP: netip.MustParseAddr(server), Port: sport},
			FirstSeen: event.TimeOf(end.Add(-1500 * time.Millisecond)), LastSeen: event.TimeOf(end),
			C2S: event.Counters{Packets: 10, Bytes: bytes / 4}, S2C: event.Counters{Packets: 20, Bytes: bytes - bytes/4},
			Reason: event.ReasonIdle,
		}
		if proto == 6 {
			f.TCPState, f.Reason = event.TCPClosed, event.ReasonFIN
		}
		return f
	}
	recs := []event.FlowRec{
		mk(1, "10.0.0.1", "192.0.2.80", 50001, 443, 6, 5_000_000, 10*time.Minute),
		mk(2, "10.0.0.1", "192.0.2.80", 50002, 443, 6, 3_000_000, 5*time.Minute),
		mk(3, "10.0.0.2", "192.0.2.53", 40000, 53, 17, 300, 3*time.Minute),
		mk(4, "10.0.0.2", "192.0.2.53", 40001, 53, 17, 310, time.Minute),
		mk(5, "2001:db8::5", "2001:db8::443", 55555, 443, 6, 900, 0),
		mk(6, "10.0.0.9", "192.0.2.80", 50003, 443, 6, 99_000_000, 2*time.Hour),
	}
	rows := &store.Rows{}
	for i := range recs {
		rows.Flows = append(rows.Flows, store.FlowFromRecord("", &recs[i]))
	}
	if err := s.Write(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

// execCmd runs nfpipe top (or flows) with args and returns its standard
// output, standard error and error.
func execCmd(t *testing.T, top bool, args ...string) (string, string, error) {
	t.Helper()
	cmd := newFlowsCmd()
	if top {
		cmd = newTopCmd()
	}
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestTopCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	fillHistory(t, db)
	out, _, err := execCmd(t, true, "--db", db, "--since", "1h")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The header names the range the newest record ends, not the clock.
	if !strings.HasPrefix(lines[0], "Top 10 by bytes, 2011-06-01 11:00:00 – 12:00:00 UTC (1h), from flows") {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) != 2+6 { // header, columns, 6 addresses (10.0.0.9 is older)
		t.Fatalf("top printed %d lines:\n%s", len(lines), out)
	}
	first := strings.Fields(lines[2])
	if first[0] != "1" || first[1] != "10.0.0.1" || first[2] != "7.6" || first[3] != "MiB" {
		t.Errorf("first talker line %q, want 10.0.0.1 with 7.6 MiB", lines[2])
	}
	if strings.Contains(out, "10.0.0.9") {
		t.Error("a flow older than the range was counted")
	}

	out, _, err = execCmd(t, true, "--db", db, "--since", "3h", "--by", "flows", "--limit", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		By      string         `json:"by"`
		Source  string         `json:"source"`
		Talkers []store.Talker `json:"talkers"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if js.By != "flows" || js.Source != "flows" || len(js.Talkers) != 2 || js.Talkers[0].Flows != 2 || js.Talkers[1].Flows != 2 {
		t.Errorf("top --by flows --json: %+v", js)
	}

	if _, _, err := execCmd(t, true, "--db", db, "--by", "octets"); err == nil || !strings.Contains(err.Error(), "use bytes, packets or flows") {
		t.Errorf("--by octets: %v", err)
	}
	if _, _, err := execCmd(t, true, "--db", db, "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("--since yesterday: %v", err)
	}
	if _, _, err := execCmd(t, true, "--db", filepath.Join(t.TempDir(), "none.db")); err == nil || !strings.Contains(err.Error(), "no database at") {
		t.Errorf("missing database: %v", err)
	}
}

func TestFlowsCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	fillHistory(t, db)
	out, _, err := execCmd(t, false, "--db", db, "--ip", "10.0.0.2", "--since", "1h")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "2 flows, 2011-06-01 11:00:00 – 12:00:00 UTC") {
		t.Fatalf("flows --ip:\n%s", out)
	}
	for _, want := range []string{"LAST SEEN (UTC)", "PROTO", "CLIENT", "SERVER", "BYTES", "STATE"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("no %s column in %q", want, lines[1])
		}
	}
	// Newest first: the flow that ended a minute before the end.
	if !strings.Contains(lines[2], "2011-06-01 11:59:00.000") || !strings.Contains(lines[2], "10.0.0.2:40001") ||
		!strings.Contains(lines[2], "192.0.2.53:53") || !strings.Contains(lines[2], "310 B") || !strings.Contains(lines[2], "udp") {
		t.Errorf("first row %q", lines[2])
	}

	// Filters combine; IPv6 is printed in brackets; JSON lines keep the
	// contract.
	out, _, err = execCmd(t, false, "--db", db, "--port", "443", "--proto", "tcp", "--state", "closed", "--since", "1h", "--json")
	if err != nil {
		t.Fatal(err)
	}
	jl := strings.Split(strings.TrimSpace(out), "\n")
	if len(jl) != 3 {
		t.Fatalf("--port 443 --json gave %d lines:\n%s", len(jl), out)
	}
	var f struct {
		Kind   string `json:"kind"`
		Server struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"server"`
	}
	if err := json.Unmarshal([]byte(jl[0]), &f); err != nil || f.Kind != "flow" || f.Server.IP != "2001:db8::443" || f.Server.Port != 443 {
		t.Errorf("first JSON line %s (%v)", jl[0], err)
	}
	out, _, _ = execCmd(t, false, "--db", db, "--ip", "2001:db8::5")
	if !strings.Contains(out, "[2001:db8::5]:55555") {
		t.Errorf("IPv6 endpoint not bracketed:\n%s", out)
	}

	// Paging: the cursor printed on stderr continues the list.
	out, errOut, err := execCmd(t, false, "--db", db, "--since", "1d", "--limit", "4")
	if err != nil || strings.Count(out, "\n") != 2+4 {
		t.Fatalf("page 1 (%v):\n%s", err, out)
	}
	var cursor string
	if _, err := fmt.Sscanf(errOut, "more flows match: add --cursor %s", &cursor); err != nil {
		t.Fatalf("no cursor hint in %q", errOut)
	}
	// Flows come in the order they were stored, newest first: the old
	// flow of 10.0.0.9 was stored last.
	if !strings.Contains(out, "10.0.0.9") {
		t.Errorf("page 1 misses the flow stored last:\n%s", out)
	}
	out, errOut, err = execCmd(t, false, "--db", db, "--since", "1d", "--limit", "4", "--cursor", cursor)
	if err != nil || !strings.HasPrefix(out, "2 flows") || !strings.Contains(out, "10.0.0.1:50001") || !strings.Contains(out, "10.0.0.1:50002") || errOut != "" {
		t.Errorf("page 2 (%v, %q):\n%s", err, errOut, out)
	}

	if _, _, err := execCmd(t, false, "--db", db, "--ip", "10.0.0"); err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("--ip 10.0.0: %v", err)
	}
	if _, _, err := execCmd(t, false, "--db", db, "--since", "2011-06-01 12:00", "--until", "2011-06-01 11:00"); err == nil {
		t.Error("since after until was accepted")
	}
}

// TestFlowsCommandProbeColumn shows which probe wrote each flow when the
// history holds several.
func TestFlowsCommandProbeColumn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	s, err := store.Open(context.Background(), store.Options{Path: db, Probe: "edge-7"})
	if err != nil {
		t.Fatal(err)
	}
	f := event.FlowRec{ID: 1, Event: event.FlowEnd, Proto: 17, Client: event.Endpoint{IP: netip.MustParseAddr("10.1.1.1"), Port: 1},
		Server: event.Endpoint{IP: netip.MustParseAddr("10.1.1.2"), Port: 2}, FirstSeen: event.TimeOf(historyBase), LastSeen: event.TimeOf(historyBase)}
	if err := s.Write(context.Background(), &store.Rows{Flows: []store.Flow{store.FlowFromRecord("", &f)}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	out, _, err := execCmd(t, false, "--db", db)
	if err != nil || !strings.Contains(out, "PROBE") || !strings.Contains(out, "edge-7") {
		t.Errorf("probe column missing (%v):\n%s", err, out)
	}
	out, _, _ = execCmd(t, false, "--db", db, "--probe", "other")
	if !strings.HasPrefix(out, "0 flows") {
		t.Errorf("--probe other:\n%s", out)
	}
}
