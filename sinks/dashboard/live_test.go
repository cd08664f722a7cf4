package dashboard

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func flowRec(id uint64, client, server string, sport, dport uint16, c2s, s2c uint64, ev event.FlowEvent, last time.Duration) event.FlowRec {
	t0 := event.TimeOf(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	return event.FlowRec{
		ID: id, Event: ev, Proto: 6,
		Client:    event.Endpoint{IP: netip.MustParseAddr(client), Port: sport},
		Server:    event.Endpoint{IP: netip.MustParseAddr(server), Port: dport},
		FirstSeen: t0, LastSeen: t0 + event.Time(last),
		C2S: event.Counters{Packets: c2s / 100, Bytes: c2s}, S2C: event.Counters{Packets: s2c / 100, Bytes: s2c},
	}
}

// Updates carry running totals: only the growth counts, so a flow
// reported three times is counted once.
func TestUpdatesAreCountedOnce(t *testing.T) {
	v := newLiveView(100, 100)
	v.addFlows([]event.FlowRec{flowRec(1, "10.0.0.1", "192.0.2.1", 5000, 443, 1000, 5000, event.FlowUpdate, time.Second)})
	v.addFlows([]event.FlowRec{flowRec(1, "10.0.0.1", "192.0.2.1", 5000, 443, 3000, 9000, event.FlowUpdate, 2*time.Second)})
	v.addFlows([]event.FlowRec{flowRec(1, "10.0.0.1", "192.0.2.1", 5000, 443, 3500, 9500, event.FlowEnd, 3*time.Second)})
	active, seen, ended, bytes, _, _ := v.counts()
	if active != 0 || seen != 1 || ended != 1 || bytes != 13000 {
		t.Errorf("active %d seen %d ended %d bytes %d; want 0 1 1 13000", active, seen, ended, bytes)
	}
	c, ok := v.ipRow(netip.MustParseAddr("10.0.0.1"))
	if !ok || c.BytesOut != 3500 || c.BytesIn != 9500 || c.Flows != 1 || c.Started != 1 {
		t.Errorf("client row %+v", c)
	}
	s, _ := v.ipRow(netip.MustParseAddr("192.0.2.1"))
	if s.BytesOut != 9500 || s.BytesIn != 3500 || s.Flows != 1 || s.Started != 0 {
		t.Errorf("server row %+v", s)
	}
	if p := v.protoMix()["tcp"]; p.Bytes != 13000 || p.Flows != 1 {
		t.Errorf("proto mix %+v", p)
	}
	if rows := v.ipStats(5); len(rows) != 2 || rows[0].Bytes != 13000 {
		t.Errorf("last 5 minutes: %+v", rows)
	}
}

func TestLiveViewIsBounded(t *testing.T) {
	v := newLiveView(100, 100)
	for i := uint64(1); i <= 1000; i++ {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String()
		v.addFlows([]event.FlowRec{flowRec(i, ip, "192.0.2.1", 1000, 80, 100, 100, event.FlowUpdate, time.Duration(i)*time.Millisecond)})
	}
	if len(v.flows) != 100 || v.flowsEvicted.Load() != 900 {
		t.Errorf("%d flows kept, %d evicted; want 100 and 900", len(v.flows), v.flowsEvicted.Load())
	}
	if active, _, _, _, _, _ := v.counts(); active != 100 {
		t.Errorf("active %d after eviction, want 100", active)
	}
	// The most recently updated survive.
	if _, ok := v.flows[1000]; !ok {
		t.Error("the newest flow was evicted")
	}
	if _, ok := v.flows[1]; ok {
		t.Error("the oldest flow was kept")
	}
	if len(v.ips) > 100 || v.ipsEvicted.Load() == 0 {
		t.Errorf("%d addresses kept, %d evicted", len(v.ips), v.ipsEvicted.Load())
	}
	// The list is consistent after all the moves.
	n := 0
	for e := v.head; e != nil; e = e.next {
		n++
		if e.next != nil && e.next.prev != e {
			t.Fatal("broken links")
		}
	}
	if n != 100 || v.tail.next != nil {
		t.Errorf("list has %d entries", n)
	}
}

// A cursor walks rows with equal sort keys exactly once each.
func TestCursorPagesThroughTies(t *testing.T) {
	v := newLiveView(1000, 1000)
	var recs []event.FlowRec
	for i := uint64(1); i <= 50; i++ {
		recs = append(recs, flowRec(i, "10.0.0.1", "192.0.2.1", uint16(1000+i), 80, 100*(i%3), 0, event.FlowUpdate, time.Second))
	}
	v.addFlows(recs)
	for _, desc := range []bool{true, false} {
		seen := map[uint64]bool{}
		q := flowQuery{Port: -1, Proto: -1, Sort: "bytes", Desc: desc, Limit: 7}
		for pages := 0; pages < 20; pages++ {
			p := v.sessions(&q)
			for _, f := range p.Rows {
				if seen[f.ID] {
					t.Fatalf("flow %d twice", f.ID)
				}
				seen[f.ID] = true
			}
			if p.Next == nil {
				break
			}
			q.After = p.Next
		}
		if len(seen) != 50 {
			t.Errorf("desc=%v: %d flows seen, want 50", desc, len(seen))
		}
	}
}

func TestGeoAggregates(t *testing.T) {
	v := newLiveView(100, 100)
	de := &event.Geo{CountryCode: "DE", Country: "Germany", City: "Berlin", Lat: 52.52, Lon: 13.40}
	f := flowRec(1, "10.0.0.1", "192.0.2.1", 5000, 443, 1000, 1000, event.FlowUpdate, time.Second)
	f.Client.Geo = &event.Geo{Label: "private"}
	f.Server.Geo = de
	v.addFlows([]event.FlowRec{f})
	f2 := f
	f2.C2S.Bytes, f2.S2C.Bytes = 1500, 1500
	v.addFlows([]event.FlowRec{f2})
	countries, points, labelled := v.geoSnapshot()
	if len(countries) != 1 || countries[0].Code != "DE" || countries[0].Bytes != 3000 || countries[0].Flows != 1 {
		t.Errorf("countries %+v", countries)
	}
	if len(points) != 1 || points[0].Lat != 52.5 || points[0].Lon != 13.4 || points[0].City != "Berlin" {
		t.Errorf("points %+v", points)
	}
	if labelled != 1 {
		t.Errorf("labelled %d", labelled)
	}
	// The view keeps its own copy of the geo record.
	de.City = "changed"
	if v.flows[1].rec.Server.Geo.City != "Berlin" {
		t.Error("the live view shares geo records with its input")
	}
}

func TestAddFlowDoesNotAllocateForUpdates(t *testing.T) {
	v := newLiveView(1000, 1000)
	f := flowRec(1, "10.0.0.1", "192.0.2.1", 5000, 443, 1000, 1000, event.FlowUpdate, time.Second)
	f.Server.Geo = &event.Geo{CountryCode: "DE", Lat: 1, Lon: 1}
	v.addFlows([]event.FlowRec{f})
	recs := []event.FlowRec{f}
	allocs := testing.AllocsPerRun(1000, func() {
		recs[0].C2S.Bytes += 100
		recs[0].LastSeen += event.Time(time.Millisecond)
		v.addFlows(recs)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per update of a known flow", allocs)
	}
}

func BenchmarkAddFlows(b *testing.B) {
	v := newLiveView(20000, 50000)
	recs := make([]event.FlowRec, 256)
	for i := range recs {
		ip := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}).String()
		recs[i] = flowRec(uint64(i+1), ip, "192.0.2.1", 1000, 80, 100, 100, event.FlowUpdate, time.Second)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range recs {
			recs[j].C2S.Bytes += 10
			recs[j].LastSeen += event.Time(time.Millisecond)
		}
		v.addFlows(recs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/flow")
}
