package store

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func TestFlowRowsRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		recs := synthFlows(5000, time.Unix(1700000000, 0), 7)
		// Edge values the contract allows: high ports (a signed smallint
		// column would overflow), a flow id with the top bit set, IPv6,
		// a non-TCP flow, attributes needing escapes.
		recs[0].Client.Port, recs[0].Server.Port = 65535, 40000
		recs[0].ID = 1<<64 - 1
		recs[1].Client.IP = netip.MustParseAddr("2001:db8::1")
		recs[1].Server.IP = netip.MustParseAddr("2001:db8::2")
		recs[2].Proto, recs[2].TCPState, recs[2].Reason = 58, event.TCPNone, event.ReasonNone
		recs[3].Attrs = map[string]string{"a\n": "\u2028<&>"}
		writeFlows(t, s, recs, 1000)
		var got []Flow
		if err := s.DB().NewSelect().Model(&got).Order("id").Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("stored %d rows, want %d", len(got), len(recs))
		}
		for i := range got {
			r := got[i].Record()
			if a, b := string(r.AppendJSON(nil)), string(recs[i].AppendJSON(nil)); a != b {
				t.Fatalf("row %d does not round-trip:\n got %s\nwant %s", i, a, b)
			}
		}
	})
}

// matches is the reference implementation of a FlowQuery.
func matches(f *event.FlowRec, q FlowQuery) bool {
	if !q.Since.IsZero() && int64(f.LastSeen) < q.Since.UnixNano() {
		return false
	}
	if !q.Until.IsZero() && int64(f.LastSeen) >= q.Until.UnixNano() {
		return false
	}
	if q.IP != "" && f.Client.IP.String() != q.IP && f.Server.IP.String() != q.IP {
		return false
	}
	if q.Port != 0 && int(f.Client.Port) != q.Port && int(f.Server.Port) != q.Port {
		return false
	}
	if q.Proto != "" && event.ProtoName(f.Proto) != q.Proto {
		return false
	}
	if q.State != "" && (f.Proto != 6 || !strings.EqualFold(f.TCPState.String(), q.State)) {
		return false
	}
	return true
}

// allPages follows the cursor to the end and returns the flow ids.
func allPages(t *testing.T, s *Store, q FlowQuery) []uint64 {
	t.Helper()
	var ids []uint64
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("pagination does not end")
		}
		p, err := s.Flows(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Flows) > limitOf(q.Limit) {
			t.Fatalf("page of %d rows, limit %d", len(p.Flows), limitOf(q.Limit))
		}
		for _, f := range p.Flows {
			ids = append(ids, uint64(f.FlowID))
		}
		if p.Next == "" {
			return ids
		}
		if len(p.Flows) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		q.Cursor = p.Next
	}
}

func TestFlowQueriesMatchReference(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		base := time.Unix(1700000000, 0).UTC()
		recs := synthFlows(12000, base, 3)
		// Odd transaction sizes leave blocks that span transactions and
		// filters that lag behind their block.
		writeFlows(t, s, recs[:777], 777)
		writeFlows(t, s, recs[777:], 3001)
		busy := recs[0].Server.IP.String() // the Zipf head: in every block
		rare := recs[9876].Client.IP.String()
		queries := []FlowQuery{
			{},
			{Limit: 1000},
			{IP: busy, Limit: 50},
			{IP: rare, Limit: 7},
			{IP: "10.99.99.99"},
			{Port: 22, Limit: 333},
			{Port: int(recs[100].Client.Port)},
			{Proto: "udp", State: "", Since: base.Add(3 * time.Second), Until: base.Add(9 * time.Second)},
			{Proto: "tcp", State: "reset", Limit: 500},
			{IP: busy, Port: 443, Since: base.Add(5 * time.Second), Until: base.Add(15 * time.Second)},
			{Since: base.Add(11 * time.Second)},
			{Until: base.Add(1 * time.Second), Limit: 10},
		}
		for _, q := range queries {
			var want []uint64
			for i := len(recs) - 1; i >= 0; i-- { // newest first
				if matches(&recs[i], q) {
					want = append(want, recs[i].ID)
				}
			}
			got := allPages(t, s, q)
			if !slices.Equal(got, want) {
				t.Errorf("%+v: got %d flows, want %d (first got %v, want %v)", q, len(got), len(want), head(got), head(want))
			}
		}
	})
}

func head(ids []uint64) []uint64 { return ids[:min(3, len(ids))] }

func TestFlowQueryRejectsBadInput(t *testing.T) {
	s := sqliteOpener(t)(t, "")
	for _, q := range []FlowQuery{{IP: "10.0.0"}, {Proto: "tcpx"}, {State: "OPEN"}, {Port: 70000}, {Cursor: "x"}} {
		if _, err := s.Flows(context.Background(), q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: error %v, want ErrBadQuery", q, err)
		}
	}
}

// TestSkipIndexSkips checks that a query for an absent address reads the
// block filters, not the rows: it must find nothing without scanning, which
// shows as no block passing the filter.
func TestSkipIndexSkips(t *testing.T) {
	s := sqliteOpener(t)(t, "")
	recs := synthFlows(3*blockRows, time.Unix(1700000000, 0), 5)
	writeFlows(t, s, recs, blockRows)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, err := (&FlowQuery{IP: "10.200.200.200"}).filter()
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := s.candidateBlocks(context.Background(), &f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("%d blocks, want 3", len(blocks))
	}
	for i, b := range blocks {
		if _, _, ok, err := s.scanRange(context.Background(), &f, blocks, i); err != nil || ok {
			t.Errorf("block %d would be scanned for an absent address (err %v)", b.ID, err)
		}
	}
	// And a present one is found in its block (blocks come newest first).
	f.ip = recs[blockRows+5].Client.IP.String()
	if _, _, ok, _ := s.scanRange(context.Background(), &f, blocks, 1); !ok {
		t.Error("the block holding the address was skipped")
	}
}

// TestLostBlockRowIsRebuilt deletes the index row of the block being
// filled, as a careless manual cleanup would: the next write indexes the
// block again and no flow becomes invisible.
func TestLostBlockRowIsRebuilt(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		recs := synthFlows(300, time.Unix(1700000000, 0), 12)
		writeFlows(t, s, recs[:100], 100)
		if _, err := s.DB().Exec("DELETE FROM flow_blocks"); err != nil {
			t.Fatal(err)
		}
		writeFlows(t, s, recs[100:], 100)
		if got := len(allPages(t, s, FlowQuery{Limit: 1000})); got != 300 {
			t.Errorf("%d of 300 flows found after the index row was lost", got)
		}
		ip := recs[50].Server.IP.String()
		found := false
		for _, id := range allPages(t, s, FlowQuery{IP: ip}) {
			found = found || id == recs[50].ID
		}
		if !found {
			t.Error("a flow of the lost row's block is not found by address")
		}
	})
}
