package ipstats

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

const ms = time.Millisecond

func TestTCPConversationCountersAreExact(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	const cli, srv = "10.0.0.1", "10.0.0.2"
	addAll(tb,
		tcpPkt(1*ms, cli, 40000, srv, 80, syn, 74),
		tcpPkt(2*ms, cli, 40000, srv, 80, syn, 74), // retransmitted SYN: same flow
		tcpPkt(3*ms, srv, 80, cli, 40000, synAck, 74),
		tcpPkt(4*ms, cli, 40000, srv, 80, ack, 66),
		tcpPkt(5*ms, cli, 40000, srv, 80, pshAck, 500),
		tcpPkt(6*ms, srv, 80, cli, 40000, pshAck, 1500),
		tcpPkt(7*ms, srv, 80, cli, 40000, pshAck, 1500),
		tcpPkt(8*ms, cli, 40000, srv, 80, finAck, 66),
		tcpPkt(9*ms, srv, 80, cli, 40000, finAck, 66),
	)
	if len(c.recs) != 0 {
		t.Fatalf("emitted %d records before the interval ended", len(c.recs))
	}
	tb.finish()
	got := c.byIP(t, 0)
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2: %v", len(got), c.recs)
	}
	check(t, got, cli, want{bytesIn: 74 + 1500 + 1500 + 66, bytesOut: 74 + 74 + 66 + 500 + 66, pktsIn: 4, pktsOut: 5, flows: 1, peers: 1, ports: 1})
	check(t, got, srv, want{bytesIn: 74 + 74 + 66 + 500 + 66, bytesOut: 74 + 1500 + 1500 + 66, pktsIn: 5, pktsOut: 4, flows: 0, peers: 1, ports: 1})
	for _, r := range c.recs {
		if r.Start != 0 || r.End != event.Time(10*time.Second) {
			t.Errorf("%s: interval [%d, %d), want [0, 10s)", r.IP, r.Start, r.End)
		}
	}
}

func TestUDPFlowsAreDirectionlessAndPerTuple(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	const cli, dns = "192.168.1.10", "192.168.1.1"
	addAll(tb,
		udpPkt(1*ms, cli, 5000, dns, 53, 80),
		udpPkt(2*ms, dns, 53, cli, 5000, 120), // the answer is not a flow
		udpPkt(3*ms, cli, 5000, dns, 53, 80),  // same tuple again
		udpPkt(4*ms, cli, 5001, dns, 53, 80),  // a new tuple is a new flow
		udpPkt(5*ms, dns, 53, cli, 5001, 120),
	)
	tb.finish()
	got := c.byIP(t, 0)
	check(t, got, cli, want{bytesIn: 240, bytesOut: 240, pktsIn: 2, pktsOut: 3, flows: 2, peers: 1, ports: 1})
	// The server sent to two ephemeral ports.
	check(t, got, dns, want{bytesIn: 240, bytesOut: 240, pktsIn: 3, pktsOut: 2, flows: 0, peers: 1, ports: 2})
}

func TestICMPFlowPerPairAndNoPorts(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	echo := func(ts time.Duration, src, dst string, typ uint8) event.PacketRec {
		p := pkt(ts, 1, src, 0, dst, 0, 0, 98)
		p.ICMPType = typ
		return p
	}
	addAll(tb, echo(1*ms, "10.1.1.1", "10.1.1.2", 8), echo(2*ms, "10.1.1.2", "10.1.1.1", 0),
		echo(3*ms, "10.1.1.1", "10.1.1.2", 8), echo(4*ms, "10.1.1.2", "10.1.1.1", 0))
	tb.finish()
	got := c.byIP(t, 0)
	check(t, got, "10.1.1.1", want{bytesIn: 196, bytesOut: 196, pktsIn: 2, pktsOut: 2, flows: 1, peers: 1})
	check(t, got, "10.1.1.2", want{bytesIn: 196, bytesOut: 196, pktsIn: 2, pktsOut: 2, flows: 0, peers: 1})
}

func TestPortScanCountsDistinctDstPorts(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	const scanner, target = "203.0.113.7", "198.51.100.20"
	var ts time.Duration
	// Two passes over 200 ports: a retry must not be counted again.
	for pass := 0; pass < 2; pass++ {
		for port := uint16(1); port <= 200; port++ {
			ts += time.Microsecond
			addAll(tb, tcpPkt(ts, scanner, 51000, target, port, syn, 60))
			if port%2 == 0 { // half the ports answer with a reset
				addAll(tb, tcpPkt(ts, target, port, scanner, 51000, event.FlagRST|event.FlagACK, 54))
			}
		}
	}
	tb.finish()
	got := c.byIP(t, 0)
	check(t, got, scanner, want{bytesIn: 200 * 54, bytesOut: 400 * 60, pktsIn: 200, pktsOut: 400, flows: 200, peers: 1, ports: 200})
	check(t, got, target, want{bytesIn: 400 * 60, bytesOut: 200 * 54, pktsIn: 400, pktsOut: 200, flows: 0, peers: 1, ports: 1})
}

func TestPeersAreDistinctInEitherDirection(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	addAll(tb,
		udpPkt(1*ms, "10.0.0.1", 1000, "10.0.0.2", 53, 100),
		udpPkt(2*ms, "10.0.0.1", 1001, "10.0.0.3", 53, 100),
		udpPkt(3*ms, "10.0.0.4", 1002, "10.0.0.1", 123, 100), // inbound only: still a peer
		udpPkt(4*ms, "10.0.0.2", 53, "10.0.0.1", 1000, 100),
		udpPkt(5*ms, "10.0.0.1", 1003, "10.0.0.2", 53, 100), // same peer, other tuple
		udpPkt(6*ms, "127.0.0.1", 9, "127.0.0.1", 9, 100),   // itself: not a peer
	)
	tb.finish()
	got := c.byIP(t, 0)
	if g := got["10.0.0.1"].Peers; g != 3 {
		t.Errorf("10.0.0.1 peers = %d, want 3", g)
	}
	if g := got["10.0.0.2"].Peers; g != 1 {
		t.Errorf("10.0.0.2 peers = %d, want 1", g)
	}
	check(t, got, "127.0.0.1", want{bytesIn: 100, bytesOut: 100, pktsIn: 1, pktsOut: 1, flows: 1, peers: 0, ports: 1})
}

func TestIntervalsFollowPacketTime(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	const a, b = "10.0.0.1", "10.0.0.2"
	// The first interval is aligned to a multiple of 10s, not to the first
	// packet.
	addAll(tb, udpPkt(1003*time.Second+500*ms, a, 1, b, 2, 100))
	addAll(tb, udpPkt(1009*time.Second+999_999_999, a, 1, b, 2, 100))
	if len(c.recs) != 0 {
		t.Fatalf("emitted before packet time passed the interval: %v", c.recs)
	}
	addAll(tb, udpPkt(1010*time.Second, a, 1, b, 2, 100)) // exactly the boundary: next interval
	if len(c.recs) != 2 {
		t.Fatalf("after the boundary got %d records, want 2", len(c.recs))
	}
	first := c.byIP(t, 1000*time.Second)
	check(t, first, a, want{bytesOut: 200, pktsOut: 2, flows: 1, peers: 1, ports: 1})
	for _, r := range c.recs {
		if r.End != event.Time(1010*time.Second) {
			t.Errorf("end = %v, want 1010s", time.Duration(r.End))
		}
	}
	// A gap: empty intervals are not emitted.
	addAll(tb, udpPkt(1047*time.Second, b, 2, a, 1, 300))
	tb.finish()
	second := c.byIP(t, 1010*time.Second)
	check(t, second, a, want{bytesOut: 100, pktsOut: 1, flows: 1, peers: 1, ports: 1})
	third := c.byIP(t, 1040*time.Second)
	check(t, third, b, want{bytesOut: 300, pktsOut: 1, flows: 1, peers: 1, ports: 1})
	if len(c.recs) != 6 {
		t.Errorf("got %d records over three intervals, want 6", len(c.recs))
	}
	if tb.cnt.intervals != 3 || tb.cnt.records != 6 {
		t.Errorf("intervals=%d records=%d, want 3 and 6", tb.cnt.intervals, tb.cnt.records)
	}
}

func TestLatePacketsAndClockStepBack(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	const a, b = "10.0.0.1", "10.0.0.2"
	addAll(tb,
		udpPkt(20*time.Second+5*ms, a, 1, b, 2, 100),
		udpPkt(19*time.Second+900*ms, a, 1, b, 2, 100), // late: counted in [20s, 30s)
	)
	if tb.cnt.late != 1 || len(c.recs) != 0 {
		t.Fatalf("late=%d emitted=%d, want 1 and 0", tb.cnt.late, len(c.recs))
	}
	addAll(tb, udpPkt(3*time.Second, a, 1, b, 2, 100)) // a step back: closes [20s, 30s)
	if len(c.recs) != 2 {
		t.Fatalf("clock step back emitted %d records, want 2", len(c.recs))
	}
	check(t, c.byIP(t, 20*time.Second), a, want{bytesOut: 200, pktsOut: 2, flows: 1, peers: 1, ports: 1})
	tb.finish()
	check(t, c.byIP(t, 0), a, want{bytesOut: 100, pktsOut: 1, flows: 1, peers: 1, ports: 1})
}

func TestTopNIsSortedByBytes(t *testing.T) {
	for _, top := range []int{1, 3, 10, 50} {
		t.Run(fmt.Sprint(top), func(t *testing.T) {
			c := &collector{}
			tb := newTable(int64(10*time.Second), top, 1000, 1000, c)
			// 20 sources sending i*10 bytes to one sink; sources 7 and 8
			// tie (bytes 75), the earlier one ranks first.
			for i := 1; i <= 20; i++ {
				n := uint32(i * 10)
				if i == 7 || i == 8 {
					n = 75
				}
				addAll(tb, udpPkt(time.Duration(i)*ms, fmt.Sprintf("10.0.0.%d", i), 1, "10.9.9.9", 2, n))
			}
			tb.finish()
			wantLen := min(top, 21)
			if len(c.recs) != wantLen {
				t.Fatalf("got %d records, want %d", len(c.recs), wantLen)
			}
			if c.recs[0].IP.String() != "10.9.9.9" {
				t.Errorf("first is %s, want the sink 10.9.9.9", c.recs[0].IP)
			}
			for i := 1; i < len(c.recs); i++ {
				prev, cur := c.recs[i-1], c.recs[i]
				if prev.BytesIn+prev.BytesOut < cur.BytesIn+cur.BytesOut {
					t.Errorf("not sorted at %d: %s then %s", i, prev.IP, cur.IP)
				}
			}
			if top >= 15 {
				// 20*10 ... 9*10, then the tie 75, 75 in first-seen order.
				var order []string
				for _, r := range c.recs[13:15] {
					order = append(order, r.IP.String())
				}
				if fmt.Sprint(order) != "[10.0.0.7 10.0.0.8]" {
					t.Errorf("tie order %v, want [10.0.0.7 10.0.0.8]", order)
				}
			}
		})
	}
}

func TestMaxIPsBoundsTheTable(t *testing.T) {
	c := &collector{}
	tb := newTable(int64(10*time.Second), 0, 3, 1000, c)
	// 10.0.0.1 talks to five servers; only three addresses fit.
	for i := 1; i <= 5; i++ {
		addAll(tb, udpPkt(time.Duration(i)*ms, "10.0.0.1", 1000, fmt.Sprintf("10.0.1.%d", i), 53, 100))
	}
	if len(tb.recs) != 3 || tb.index.n != 3 {
		t.Fatalf("tracked %d records, %d index entries, want 3", len(tb.recs), tb.index.n)
	}
	if tb.cnt.untracked != 3 {
		t.Errorf("untracked = %d, want 3 (the destinations of packets 3 to 5)", tb.cnt.untracked)
	}
	tb.finish()
	got := c.byIP(t, 0)
	if len(got) != 3 {
		t.Fatalf("emitted %d records, want 3", len(got))
	}
	// Every packet still counts for the tracked source; flows, peers and
	// ports only where both ends are tracked.
	check(t, got, "10.0.0.1", want{bytesOut: 500, pktsOut: 5, flows: 2, peers: 2, ports: 1})
	// The next interval starts empty and tracks new addresses again.
	addAll(tb, udpPkt(11*time.Second, "10.0.0.1", 1000, "10.0.1.5", 53, 100))
	tb.finish()
	check(t, c.byIP(t, 10*time.Second), "10.0.1.5", want{bytesIn: 100, pktsIn: 1, peers: 1})
}

func TestMaxTuplesBoundsTheSets(t *testing.T) {
	c := &collector{}
	tb := newTable(int64(10*time.Second), 0, 1000, 10, c)
	for port := uint16(1); port <= 100; port++ {
		addAll(tb, tcpPkt(time.Duration(port)*ms, "10.0.0.1", 40000, "10.0.0.2", port, syn, 60))
	}
	if tb.flows.n > 10 || tb.ports.n > 10 || tb.pairs.n > 10 {
		t.Fatalf("sets grew past max_tuples: tuples=%d ports=%d pairs=%d", tb.flows.n, tb.ports.n, tb.pairs.n)
	}
	if tb.cnt.tuplesDropped == 0 {
		t.Error("tuples_dropped not counted")
	}
	tb.finish()
	// A TCP SYN still counts as a flow when its tuple cannot be
	// remembered; dst_ports stops at what the port set holds.
	check(t, c.byIP(t, 0), "10.0.0.1", want{bytesOut: 6000, pktsOut: 100, flows: 100, peers: 1, ports: 10})
}

func TestIPv4MappedSharesTheIPv4Record(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	addAll(tb,
		udpPkt(1*ms, "10.0.0.1", 1, "10.0.0.2", 2, 100),
		udpPkt(2*ms, "::ffff:10.0.0.1", 1, "::ffff:10.0.0.2", 2, 100),
		udpPkt(3*ms, "2001:db8::1", 1, "2001:db8::2", 2, 100),
	)
	tb.finish()
	got := c.byIP(t, 0)
	if len(got) != 4 {
		t.Fatalf("got records for %v, want 4 addresses", c.recs)
	}
	check(t, got, "10.0.0.1", want{bytesOut: 200, pktsOut: 2, flows: 1, peers: 1, ports: 1})
	check(t, got, "2001:db8::2", want{bytesIn: 100, pktsIn: 1, peers: 1})
	for _, r := range c.recs {
		if r.IP.Is4In6() {
			t.Errorf("emitted a mapped address %s", r.IP)
		}
	}
}

func TestNonIPAndFragments(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	first := udpPkt(1*ms, "10.0.0.1", 5353, "10.0.0.2", 53, 1514)
	first.Frag = event.FragFirst
	later := udpPkt(2*ms, "10.0.0.1", 0, "10.0.0.2", 0, 600)
	later.Frag = event.FragLater
	laterRev := udpPkt(3*ms, "10.0.0.2", 0, "10.0.0.1", 0, 600)
	laterRev.Frag = event.FragLater
	arp := event.PacketRec{TS: event.Time(4 * ms), WireLen: 42}
	addAll(tb, first, later, laterRev, arp)
	tb.finish()
	got := c.byIP(t, 0)
	// Later fragments count bytes and peers but start no flow and have no
	// port.
	check(t, got, "10.0.0.1", want{bytesIn: 600, bytesOut: 2114, pktsIn: 1, pktsOut: 2, flows: 1, peers: 1, ports: 1})
	check(t, got, "10.0.0.2", want{bytesIn: 2114, bytesOut: 600, pktsIn: 2, pktsOut: 1, flows: 0, peers: 1, ports: 0})
	if tb.cnt.nonIP != 1 {
		t.Errorf("non_ip = %d, want 1", tb.cnt.nonIP)
	}
}

func TestSYNAfterCacheHitAndNewInterval(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	const cli, srv = "10.0.0.1", "10.0.0.2"
	// Data first (a connection open before the capture) puts the tuple in
	// the cache; a SYN on it later is a new connection and counts.
	addAll(tb,
		tcpPkt(1*ms, cli, 40000, srv, 80, pshAck, 100),
		tcpPkt(2*ms, cli, 40000, srv, 80, syn, 60),
		tcpPkt(3*ms, cli, 40000, srv, 80, syn, 60),
		tcpPkt(11*time.Second, cli, 40000, srv, 80, syn, 60), // next interval counts again
	)
	tb.finish()
	check(t, c.byIP(t, 0), cli, want{bytesOut: 220, pktsOut: 3, flows: 1, peers: 1, ports: 1})
	check(t, c.byIP(t, 10*time.Second), cli, want{bytesOut: 60, pktsOut: 1, flows: 1, peers: 1, ports: 1})
}

func TestWeakSeedsDoNotChangeCounts(t *testing.T) {
	// The same traffic through a table whose hash seeds are all 1 and
	// through one with random seeds must give identical records: the
	// hashes only place entries.
	traffic := syntheticTraffic(3000, 40000, 1)
	run := func(weak bool) []event.IPStatRec {
		c := &collector{}
		tb := newTestTable(c)
		if weak {
			tb.seeds = seeds{1, 1, 1, 1, 1, 1}
			tb.pairs.seed, tb.ports.seed = 1, 1
		}
		for i := range traffic {
			tb.add(&traffic[i])
		}
		tb.finish()
		return c.recs
	}
	a, b := run(false), run(true)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("got %d and %d records", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("record %d differs:\n random seeds %+v\n   weak seeds %+v", i, a[i], b[i])
		}
	}
}

func TestGenerationWrapClearsTheFlowTable(t *testing.T) {
	c := &collector{}
	tb := newTestTable(c)
	tb.flows.gen = genLimit - 1
	addAll(tb, udpPkt(1*ms, "10.0.0.1", 1, "10.0.0.2", 2, 100))
	tb.finish()
	if tb.flows.gen != 1 {
		t.Fatalf("gen = %d after wrap, want 1", tb.flows.gen)
	}
	for i := range tb.flows.slots {
		if tb.flows.slots[i] != (flowEntry{}) {
			t.Fatal("flow table not cleared on generation wrap")
		}
	}
	addAll(tb, udpPkt(11*time.Second, "10.0.0.1", 1, "10.0.0.2", 2, 100))
	tb.finish()
	check(t, c.byIP(t, 10*time.Second), "10.0.0.1", want{bytesOut: 100, pktsOut: 1, flows: 1, peers: 1, ports: 1})
}

func TestAddrRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "10.1.2.3", "255.255.255.255", "::", "::1", "2001:db8::ff", "fe80::1"} {
		a := netip.MustParseAddr(s)
		if got := addrOf(a).netip(); got != a {
			t.Errorf("%s round-trips to %s", a, got)
		}
	}
}
