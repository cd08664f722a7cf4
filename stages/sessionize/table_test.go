package sessionize

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func TestClientDetection(t *testing.T) {
	cases := []struct {
		name           string
		first          event.PacketRec
		client, server event.Endpoint
	}{
		{"syn sender is the client",
			tcp(0, "10.0.0.9", 40000, "10.0.0.1", 80, fS),
			endpoint("10.0.0.9", 40000), endpoint("10.0.0.1", 80)},
		{"syn sender is the client even from a low port",
			tcp(0, "10.0.0.1", 80, "10.0.0.9", 40000, fS),
			endpoint("10.0.0.1", 80), endpoint("10.0.0.9", 40000)},
		{"syn-ack receiver is the client",
			tcp(0, "10.0.0.1", 80, "10.0.0.9", 40000, fSA),
			endpoint("10.0.0.9", 40000), endpoint("10.0.0.1", 80)},
		{"syn-ack receiver is the client even on a service port",
			tcp(0, "10.0.0.9", 40000, "10.0.0.1", 443, fSA),
			endpoint("10.0.0.1", 443), endpoint("10.0.0.9", 40000)},
		{"mid-stream from a well-known port: sender is the server",
			tcp(0, "10.0.0.1", 443, "10.0.0.9", 51000, fPA),
			endpoint("10.0.0.9", 51000), endpoint("10.0.0.1", 443)},
		{"mid-stream from a known service port: sender is the server",
			tcp(0, "10.0.0.1", 5432, "10.0.0.9", 51000, fA),
			endpoint("10.0.0.9", 51000), endpoint("10.0.0.1", 5432)},
		{"mid-stream to a well-known port: sender is the client",
			tcp(0, "10.0.0.9", 51000, "10.0.0.1", 443, fPA),
			endpoint("10.0.0.9", 51000), endpoint("10.0.0.1", 443)},
		{"both ports ephemeral: sender is the client",
			tcp(0, "10.0.0.1", 50001, "10.0.0.9", 50002, fA),
			endpoint("10.0.0.1", 50001), endpoint("10.0.0.9", 50002)},
		{"udp reply first: sender is the server",
			udp(0, "192.0.2.53", 53, "10.0.0.9", 33333),
			endpoint("10.0.0.9", 33333), endpoint("192.0.2.53", 53)},
		{"icmp echo reply first: sender is the server",
			icmp(0, "192.0.2.1", "10.0.0.9", 0),
			endpoint("10.0.0.9", 0), endpoint("192.0.2.1", 0)},
		{"icmp echo request first: sender is the client",
			icmp(0, "10.0.0.9", "192.0.2.1", 8),
			endpoint("10.0.0.9", 0), endpoint("192.0.2.1", 0)},
		{"udp both well-known: sender is the client",
			udp(0, "10.0.0.9", 123, "192.0.2.1", 123),
			endpoint("10.0.0.9", 123), endpoint("192.0.2.1", 123)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb, c := newTestTable(DefaultConfig())
			tb.Add(&tc.first)
			tb.Flush(event.ReasonShutdown)
			if len(c.flows) != 1 {
				t.Fatalf("got %d flows, want 1", len(c.flows))
			}
			f := c.flows[0]
			if f.Client != tc.client || f.Server != tc.server {
				t.Errorf("client %v server %v, want client %v server %v", f.Client, f.Server, tc.client, tc.server)
			}
			if f.C2S.Packets+f.S2C.Packets != 1 {
				t.Errorf("packets %d/%d", f.C2S.Packets, f.S2C.Packets)
			}
			wantC2S := tc.first.Src == tc.client.IP && tc.first.SrcPort == tc.client.Port
			if (f.C2S.Packets == 1) != wantC2S {
				t.Errorf("packet counted c2s=%d s2c=%d, sender is client: %v", f.C2S.Packets, f.S2C.Packets, wantC2S)
			}
		})
	}
}

func TestHandshakeStateAndRTT(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	hs := handshake(0, 40*time.Millisecond)
	want := []event.TCPState{event.TCPSynSent, event.TCPSynReceived, event.TCPEstablished}
	for i := range hs {
		tb.Add(&hs[i])
		if got := only(t, tb).state; got != want[i] {
			t.Fatalf("after packet %d state %v, want %v", i, got, want[i])
		}
	}
	tb.Flush(event.ReasonShutdown)
	f := c.flows[0]
	if f.RTT != 40*time.Millisecond {
		t.Errorf("rtt %v, want 40ms", f.RTT)
	}
	if f.Client != endpoint("10.0.0.9", 40000) {
		t.Errorf("client %v", f.Client)
	}
	if f.C2S != (event.Counters{Packets: 2, Bytes: 200}) || f.S2C != (event.Counters{Packets: 1, Bytes: 100}) {
		t.Errorf("counters c2s %+v s2c %+v", f.C2S, f.S2C)
	}
	if f.FlagsC2S != fS|fA || f.FlagsS2C != fSA {
		t.Errorf("flags c2s %s s2c %s", event.FlagString(f.FlagsC2S), event.FlagString(f.FlagsS2C))
	}
	if f.Reason != event.ReasonShutdown || f.TCPState != event.TCPEstablished {
		t.Errorf("reason %v state %v", f.Reason, f.TCPState)
	}
}

func TestRTTFromRetransmittedSYN(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	addAll(tb,
		seq(tcp(0, "10.0.0.9", 40000, "10.0.0.1", 80, fS), 1000, 0),
		seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fS), 1000, 0),
		seq(tcp(time.Second+10*time.Millisecond, "10.0.0.1", 80, "10.0.0.9", 40000, fSA), 5000, 1001),
		seq(tcp(time.Second+20*time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, fA), 1001, 5001),
	)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 1 || c.flows[0].RTT != 20*time.Millisecond {
		t.Fatalf("flows %+v, want one with rtt 20ms", c.flows)
	}
}

func TestNoRTTWithoutSYN(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	hs := handshake(0, 40*time.Millisecond)[1:] // SYN-ACK first
	addAll(tb, hs...)
	tb.Flush(event.ReasonShutdown)
	f := c.flows[0]
	if f.RTT != 0 || f.TCPState != event.TCPEstablished || f.Client != endpoint("10.0.0.9", 40000) {
		t.Errorf("rtt %v state %v client %v", f.RTT, f.TCPState, f.Client)
	}
}

// TestNoRTTFromLateSYN: the SYN-ACK is seen first and a late copy of the
// client's SYN only afterwards; the flow has no SYN time, so no RTT (it
// used to be measured from time zero).
func TestNoRTTFromLateSYN(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	base := 1700000000 * time.Second
	addAll(tb,
		seq(tcp(base, "10.0.0.1", 80, "10.0.0.9", 40000, fSA), 5000, 1001),
		seq(tcp(base+time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, fS), 1000, 0),
		seq(tcp(base+2*time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, fA), 1001, 5001),
	)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 1 || c.flows[0].RTT != 0 {
		t.Fatalf("flows %+v, want one without rtt", c.flows)
	}
}

func TestFINCloseWithLinger(t *testing.T) {
	tb, c := newTestTable(DefaultConfig()) // close_linger 5s
	addAll(tb, handshake(0, 10*time.Millisecond)...)
	steps := []struct {
		p    event.PacketRec
		want event.TCPState
	}{
		{seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fPA), 1001, 5001), event.TCPEstablished},
		{seq(tcp(2*time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fFA), 1101, 5001), event.TCPFinWait},
		{seq(tcp(2*time.Second+time.Millisecond, "10.0.0.1", 80, "10.0.0.9", 40000, fA), 5001, 1102), event.TCPFinWait},
		{seq(tcp(3*time.Second, "10.0.0.1", 80, "10.0.0.9", 40000, fFA), 5001, 1102), event.TCPClosing},
		{seq(tcp(3*time.Second+time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, fA), 1102, 5002), event.TCPClosed},
		// a trailing ACK retransmission inside the linger is counted
		{seq(tcp(4*time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fA), 1102, 5002), event.TCPClosed},
	}
	for i, s := range steps {
		tb.Add(&s.p)
		if got := only(t, tb).state; got != s.want {
			t.Fatalf("step %d: state %v, want %v", i, got, s.want)
		}
	}
	if len(c.flows) != 0 {
		t.Fatalf("flow ended before its linger: %+v", c.flows)
	}
	// Packet time moves on (another flow's packet): the linger of 5s
	// after the last packet at 4s ends the flow at 9s, not before.
	other := udp(8*time.Second+900*time.Millisecond, "10.0.0.5", 5000, "10.0.0.6", 53)
	tb.Add(&other)
	if len(c.ends()) != 0 {
		t.Fatal("flow ended before last+linger")
	}
	tb.Expire(at(9 * time.Second))
	ends := c.ends()
	if len(ends) != 1 {
		t.Fatalf("got %d ends, want 1", len(ends))
	}
	f := ends[0]
	if f.Reason != event.ReasonFIN || f.TCPState != event.TCPClosed {
		t.Errorf("reason %v state %v, want fin CLOSED", f.Reason, f.TCPState)
	}
	if f.C2S.Packets != 6 || f.S2C.Packets != 3 {
		t.Errorf("packets c2s %d s2c %d, want 6 and 3", f.C2S.Packets, f.S2C.Packets)
	}
	if f.LastSeen != at(4*time.Second) {
		t.Errorf("last seen %v", f.LastSeen.Std())
	}
}

func TestClosingLingersWithoutFinalACK(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	addAll(tb, handshake(0, 0)...)
	addAll(tb,
		seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fFA), 1001, 5001),
		seq(tcp(time.Second, "10.0.0.1", 80, "10.0.0.9", 40000, fFA), 5001, 1002),
	)
	if s := only(t, tb).state; s != event.TCPClosing {
		t.Fatalf("state %v, want CLOSING", s)
	}
	tb.Expire(at(6 * time.Second))
	if e := c.ends(); len(e) != 1 || e[0].Reason != event.ReasonFIN || e[0].TCPState != event.TCPClosing {
		t.Fatalf("ends %+v, want one fin in CLOSING", e)
	}
}

func TestHalfClosedFlowEndsIdle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 60 * time.Second
	tb, c := newTestTable(cfg)
	addAll(tb, handshake(0, 0)...)
	addAll(tb, seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fFA), 1001, 5001))
	tb.Expire(at(30 * time.Second)) // far past close_linger: a half close does not linger
	if len(c.flows) != 0 {
		t.Fatalf("half-closed flow ended early: %+v", c.flows)
	}
	tb.Expire(at(61 * time.Second))
	if e := c.ends(); len(e) != 1 || e[0].Reason != event.ReasonIdle || e[0].TCPState != event.TCPFinWait {
		t.Fatalf("ends %+v, want one idle in FIN_WAIT", e)
	}
}

func TestRSTWithLinger(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	addAll(tb, handshake(0, 0)...)
	addAll(tb,
		tcp(time.Second, "10.0.0.1", 80, "10.0.0.9", 40000, fRA),
		tcp(2*time.Second, "10.0.0.1", 80, "10.0.0.9", 40000, fR),  // retransmitted
		tcp(2*time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fPA), // data in flight
	)
	if s := only(t, tb).state; s != event.TCPReset {
		t.Fatalf("state %v, want RESET", s)
	}
	tb.Expire(at(6*time.Second + time.Millisecond))
	if len(c.flows) != 0 {
		t.Fatal("reset flow ended before last+linger")
	}
	tb.Expire(at(7 * time.Second))
	e := c.ends()
	if len(e) != 1 || e[0].Reason != event.ReasonRST || e[0].TCPState != event.TCPReset {
		t.Fatalf("ends %+v, want one rst", e)
	}
	if e[0].S2C.Packets != 3 || e[0].C2S.Packets != 3 || e[0].FlagsS2C&fR == 0 {
		t.Errorf("c2s %d s2c %d flags %s", e[0].C2S.Packets, e[0].S2C.Packets, event.FlagString(e[0].FlagsS2C))
	}
}

func TestNewSYNOnClosedTupleStartsNewFlow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		close  []event.PacketRec
		reason event.EndReason
	}{
		{"after fin", []event.PacketRec{
			seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fFA), 1001, 5001),
			seq(tcp(time.Second, "10.0.0.1", 80, "10.0.0.9", 40000, fFA), 5001, 1002),
			seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fA), 1002, 5002),
		}, event.ReasonFIN},
		{"after rst", []event.PacketRec{tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fR)}, event.ReasonRST},
		{"after one fin", []event.PacketRec{
			seq(tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fFA), 1001, 5001),
		}, event.ReasonFIN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, c := newTestTable(DefaultConfig())
			addAll(tb, handshake(0, 0)...)
			addAll(tb, tc.close...)
			addAll(tb, handshake(2*time.Second, 0)...)
			e := c.ends()
			if len(e) != 1 || e[0].Reason != tc.reason || e[0].Packets() != uint64(3+len(tc.close)) {
				t.Fatalf("ends %+v, want the old flow ended with %v", e, tc.reason)
			}
			n := only(t, tb)
			if n.state != event.TCPEstablished || n.pkts[c2s] != 2 || n.pkts[s2c] != 1 {
				t.Errorf("new flow state %v packets %v", n.state, n.pkts)
			}
			if n.id == e[0].ID {
				t.Error("new flow has the old flow's id")
			}
			if s := tb.Stats(); s.Started != 2 || s.Ended != 1 || s.Active != 1 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestSYNRetransmissionIsSameFlow(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	addAll(tb,
		tcp(0, "10.0.0.9", 40000, "10.0.0.1", 80, fS),
		tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fS),
		tcp(3*time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fS),
	)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 1 || c.flows[0].C2S.Packets != 3 || c.flows[0].TCPState != event.TCPSynSent {
		t.Fatalf("flows %+v", c.flows)
	}
}

func TestIdleExpiryFollowsPacketTime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 300 * time.Second
	tb, c := newTestTable(cfg)
	a := udp(0, "10.0.0.9", 5000, "10.0.0.1", 53)
	tb.Add(&a)
	b := udp(299*time.Second, "10.0.0.8", 5000, "10.0.0.1", 53)
	tb.Add(&b)
	if len(c.flows) != 0 {
		t.Fatalf("flow expired before idle_timeout: %+v", c.flows)
	}
	b.TS = at(300 * time.Second)
	tb.Add(&b)
	e := c.ends()
	if len(e) != 1 || e[0].Reason != event.ReasonIdle || e[0].Client.IP != a.Src || e[0].LastSeen != at(0) {
		t.Fatalf("ends %+v, want the first flow idle", e)
	}
	if tb.Len() != 1 {
		t.Errorf("len %d", tb.Len())
	}
}

func TestIdleFlowRestartsOnItsOwnPacket(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 10 * time.Second
	tb, c := newTestTable(cfg)
	p := udp(0, "10.0.0.9", 5000, "10.0.0.1", 53)
	tb.Add(&p)
	// The same tuple after its idle timeout is a new flow, even though
	// the check step has not run Expire in between.
	tb.nextCheck = at(time.Hour)
	p.TS = at(10 * time.Second)
	tb.Add(&p)
	if e := c.ends(); len(e) != 1 || e[0].Reason != event.ReasonIdle || e[0].Packets() != 1 {
		t.Fatalf("ends %+v", e)
	}
	if tb.Len() != 1 || tb.Stats().Started != 2 {
		t.Errorf("stats %+v", tb.Stats())
	}
}

func TestActiveTimeoutUpdates(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ActiveTimeout = 30 * time.Second
	tb, c := newTestTable(cfg)
	for s := 0; s <= 100; s++ {
		p := udp(time.Duration(s)*time.Second, "10.0.0.9", 5000, "10.0.0.1", 53)
		tb.Add(&p)
	}
	tb.Flush(event.ReasonShutdown)
	ups := c.updates()
	if len(ups) != 3 {
		t.Fatalf("got %d updates, want 3 (at 30s, 60s, 90s): %+v", len(ups), ups)
	}
	end := c.ends()[0]
	for i, u := range ups {
		if u.Reason != event.ReasonActiveTimeout || u.ID != end.ID {
			t.Errorf("update %d: reason %v id %x (end id %x)", i, u.Reason, u.ID, end.ID)
		}
		// reports run before the packet that triggered them is counted
		if want := uint64(30 * (i + 1)); u.C2S.Packets != want {
			t.Errorf("update %d: %d packets, want %d", i, u.C2S.Packets, want)
		}
	}
	if end.C2S.Packets != 101 || end.Reason != event.ReasonShutdown {
		t.Errorf("end %+v", end)
	}
}

func TestUpdateIntervalOnlyForChangedFlows(t *testing.T) {
	cfg := DefaultConfig()
	cfg.UpdateInterval = 10 * time.Second
	tb, c := newTestTable(cfg)
	quiet := udp(0, "10.0.0.7", 5000, "10.0.0.1", 53)
	tb.Add(&quiet)
	for s := 0; s <= 35; s++ {
		p := udp(time.Duration(s)*time.Second, "10.0.0.9", 5000, "10.0.0.1", 53)
		tb.Add(&p)
	}
	var busy, still int
	for _, u := range c.updates() {
		if u.Reason != event.ReasonNone {
			t.Errorf("update with reason %v", u.Reason)
		}
		if u.Client.IP == quiet.Src {
			still++
		} else {
			busy++
		}
	}
	if busy != 3 || still != 1 {
		t.Errorf("updates: busy flow %d (want 3), quiet flow %d (want 1)", busy, still)
	}
}

func TestActiveTimeoutWithUpdateInterval(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ActiveTimeout = 30 * time.Second
	cfg.UpdateInterval = 10 * time.Second
	tb, c := newTestTable(cfg)
	for s := 0; s <= 65; s++ {
		p := udp(time.Duration(s)*time.Second, "10.0.0.9", 5000, "10.0.0.1", 53)
		tb.Add(&p)
	}
	var reasons []event.EndReason
	for _, u := range c.updates() {
		reasons = append(reasons, u.Reason)
	}
	a, n := event.ReasonActiveTimeout, event.ReasonNone
	want := []event.EndReason{n, n, a, n, n, a}
	if len(reasons) != len(want) {
		t.Fatalf("reasons %v, want %v", reasons, want)
	}
	for i := range want {
		if reasons[i] != want[i] {
			t.Fatalf("reasons %v, want %v", reasons, want)
		}
	}
}

func TestMaxSessionsEvictsLRU(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSessions = 2
	tb, c := newTestTable(cfg)
	addAll(tb,
		udp(0, "10.0.0.1", 5000, "10.0.0.100", 53),
		udp(time.Second, "10.0.0.2", 5000, "10.0.0.100", 53),
		udp(2*time.Second, "10.0.0.1", 5000, "10.0.0.100", 53), // refresh 10.0.0.1
		udp(3*time.Second, "10.0.0.3", 5000, "10.0.0.100", 53), // evicts 10.0.0.2
	)
	e := c.ends()
	if len(e) != 1 || e[0].Reason != event.ReasonEvicted || e[0].Client.IP != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("ends %+v, want 10.0.0.2 evicted", e)
	}
	if s := tb.Stats(); s.Evicted != 1 || s.Active != 2 || s.Started != 3 || s.Ended != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxSessionsEndsLingeringFlowFirst(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSessions = 2
	tb, c := newTestTable(cfg)
	addAll(tb, udp(0, "10.0.0.2", 5000, "10.0.0.100", 53))
	addAll(tb, handshake(time.Millisecond, 0)...)
	addAll(tb, tcp(2*time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, fR))
	addAll(tb, udp(3*time.Millisecond, "10.0.0.3", 5000, "10.0.0.100", 53))
	e := c.ends()
	if len(e) != 1 || e[0].Reason != event.ReasonRST || e[0].Proto != 6 {
		t.Fatalf("ends %+v, want the reset tcp flow", e)
	}
	if s := tb.Stats(); s.Evicted != 0 {
		t.Errorf("evicted %d, want 0", s.Evicted)
	}
}

func TestShutdownFlush(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	addAll(tb, handshake(0, 0)...)
	addAll(tb, tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fR))
	addAll(tb, udp(time.Second, "10.0.0.9", 5000, "10.0.0.1", 53))
	addAll(tb, udp(time.Second, "10.0.0.9", 5001, "10.0.0.1", 53))
	tb.Flush(event.ReasonShutdown)
	reasons := map[event.EndReason]int{}
	for _, f := range c.flows {
		if f.Event != event.FlowEnd {
			t.Errorf("flush emitted %v", f.Event)
		}
		reasons[f.Reason]++
	}
	if reasons[event.ReasonShutdown] != 2 || reasons[event.ReasonRST] != 1 || len(c.flows) != 3 {
		t.Errorf("reasons %v", reasons)
	}
	if s := tb.Stats(); s.Active != 0 || s.Ended != 3 || tb.Len() != 0 || tb.index.n != 0 {
		t.Errorf("after flush: %+v", s)
	}
}

func TestVLANSeparatesFlows(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	a := udp(0, "10.0.0.9", 5000, "10.0.0.1", 53)
	b := a
	b.VLAN = 10
	r := udp(0, "10.0.0.1", 53, "10.0.0.9", 5000)
	r.VLAN = 10
	addAll(tb, a, b, r)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 2 {
		t.Fatalf("got %d flows, want 2", len(c.flows))
	}
	for _, f := range c.flows {
		want := uint64(1)
		if f.VLAN == 10 {
			want = 2
		}
		if f.Packets() != want {
			t.Errorf("vlan %d: %d packets, want %d", f.VLAN, f.Packets(), want)
		}
	}
}

func TestIPv6(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	addAll(tb,
		tcp(0, "2001:db8::2", 50000, "2001:db8::1", 443, fS),
		tcp(time.Millisecond, "2001:db8::1", 443, "2001:db8::2", 50000, fSA),
		tcp(2*time.Millisecond, "2001:db8::2", 50000, "2001:db8::1", 443, fA),
		// the IPv4-mapped form of an address is a different IPv6 endpoint
		udp(0, "::ffff:10.0.0.1", 53, "::ffff:10.0.0.2", 5353),
		udp(0, "10.0.0.1", 53, "10.0.0.2", 5353),
	)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 3 {
		t.Fatalf("got %d flows, want 3", len(c.flows))
	}
	byIP := map[netip.Addr]event.FlowRec{}
	for _, f := range c.flows {
		byIP[f.Client.IP] = f
	}
	f := byIP[netip.MustParseAddr("2001:db8::2")]
	if f.Server != endpoint("2001:db8::1", 443) || f.RTT != 2*time.Millisecond || f.Packets() != 3 {
		t.Errorf("ipv6 flow %+v", f)
	}
	if _, ok := byIP[netip.MustParseAddr("::ffff:10.0.0.1")]; !ok {
		t.Errorf("ipv4-mapped flow lost its form: %+v", c.flows)
	}
	if _, ok := byIP[netip.MustParseAddr("10.0.0.1")]; !ok {
		t.Errorf("ipv4 flow missing: %+v", c.flows)
	}
}

func TestFlowIDStableAndDeterministic(t *testing.T) {
	run := func() []event.FlowRec {
		cfg := DefaultConfig()
		cfg.UpdateInterval = time.Second
		tb, c := newTestTable(cfg)
		for s := 0; s < 5; s++ {
			addAll(tb, udp(time.Duration(s)*time.Second, "10.0.0.9", 5000, "10.0.0.1", 53))
			addAll(tb, udp(time.Duration(s)*time.Second, "10.0.0.1", 53, "10.0.0.9", 5000))
		}
		tb.Flush(event.ReasonShutdown)
		return c.flows
	}
	a, b := run(), run()
	if len(a) < 3 {
		t.Fatalf("got %d records, want updates and an end", len(a))
	}
	for i := range a {
		if a[i].ID == 0 || a[i].ID != a[0].ID || b[i].ID != a[i].ID {
			t.Fatalf("ids differ: %x vs %x vs %x", a[i].ID, a[0].ID, b[i].ID)
		}
	}
	// A different first-seen time is a different flow id.
	var k flowKey
	k.set(&event.PacketRec{Src: netip.MustParseAddr("10.0.0.9"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: 17})
	if flowID(&k, 1) == flowID(&k, 2) {
		t.Error("flow id ignores first-seen time")
	}
}

func TestFragmentsCountedInTheirFlow(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	hs := handshake(0, 0)
	first := seq(tcp(time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, fPA), 1001, 5001)
	first.Frag, first.FragID, first.WireLen = event.FragFirst, 77, 1514
	// A later fragment as decode reports it: the first fragment's ports,
	// no TCP flags.
	later := tcp(time.Millisecond, "10.0.0.9", 40000, "10.0.0.1", 80, 0)
	later.Frag, later.FragID, later.WireLen = event.FragLater, 77, 600
	later.Seq, later.Ack = 0xdead, 0xbeef
	addAll(tb, hs...)
	addAll(tb, first, later)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 1 {
		t.Fatalf("got %d flows, want 1: %+v", len(c.flows), c.flows)
	}
	f := c.flows[0]
	if f.C2S != (event.Counters{Packets: 4, Bytes: 2314}) || f.TCPState != event.TCPEstablished || f.FlagsC2S != fS|fPA {
		t.Errorf("c2s %+v state %v flags %s", f.C2S, f.TCPState, event.FlagString(f.FlagsC2S))
	}
}

func TestPacketsWithoutAddressSkipped(t *testing.T) {
	tb, c := newTestTable(DefaultConfig())
	p := event.PacketRec{TS: at(0), WireLen: 60}
	tb.Add(&p)
	tb.Flush(event.ReasonShutdown)
	if len(c.flows) != 0 || tb.Stats().NoAddress != 1 {
		t.Errorf("flows %v stats %+v", c.flows, tb.Stats())
	}
}

func TestSlotsAreReused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSessions = 100
	tb, _ := newTestTable(cfg)
	for i := 0; i < 10000; i++ {
		p := udp(time.Duration(i)*time.Millisecond, "10.0.0.9", uint16(1024+i), "10.0.0.1", 53)
		tb.Add(&p)
	}
	if tb.slab.used > 101 || tb.Len() != 100 || tb.index.n != 100 {
		t.Errorf("slab used %d, len %d, index %d", tb.slab.used, tb.Len(), tb.index.n)
	}
	if s := tb.Stats(); s.Evicted != 9900 {
		t.Errorf("evicted %d, want 9900", s.Evicted)
	}
}

func TestHugeTimeoutsNeverOverflow(t *testing.T) {
	cfg := Config{IdleTimeout: 100000 * 24 * time.Hour, CloseLinger: 100000 * 24 * time.Hour,
		ActiveTimeout: 100000 * 24 * time.Hour, UpdateInterval: 100000 * 24 * time.Hour}
	tb, c := newTestTable(cfg)
	addAll(tb, handshake(0, 0)...)
	addAll(tb, tcp(time.Second, "10.0.0.9", 40000, "10.0.0.1", 80, fR))
	addAll(tb, udp(0, "10.0.0.9", 5000, "10.0.0.1", 53), udp(80*365*24*time.Hour, "10.0.0.9", 5000, "10.0.0.1", 53))
	if len(c.flows) != 0 || tb.Len() != 2 {
		t.Fatalf("flows ended under timeouts of 100000 days: %+v", c.flows)
	}
}

func TestBusyFlowDoesNotHoldBackExpiry(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout = 5 * time.Second
	tb, c := newTestTable(cfg)
	busy := udp(0, "10.0.0.9", 5000, "10.0.0.1", 53)
	quiet := udp(time.Millisecond, "10.0.0.8", 5000, "10.0.0.1", 53)
	tb.Add(&busy)
	tb.Add(&quiet) // queued behind the busy flow
	var endedAt event.Time
	for ms := 10; ms <= 20_000; ms += 10 {
		busy.TS = at(time.Duration(ms) * time.Millisecond)
		tb.Add(&busy)
		if endedAt == 0 && len(c.ends()) > 0 {
			endedAt = busy.TS
		}
	}
	e := c.ends()
	if len(e) != 1 || e[0].Client.IP != quiet.Src || e[0].Reason != event.ReasonIdle {
		t.Fatalf("ends %+v, want only the quiet flow, idle", e)
	}
	// due at 5.001s; the busy flow's lazy LRU moves and the check step
	// may each delay it by up to a quarter second and a second
	if late := time.Duration(endedAt - at(5001*time.Millisecond)); late < 0 || late > 1250*time.Millisecond {
		t.Errorf("quiet flow ended %v after its idle timeout", late)
	}
	if tb.Len() != 1 {
		t.Errorf("len %d", tb.Len())
	}
}

// TestAddBatchSameAsAdd feeds the same traffic, with new flows, closes,
// resets, reports, idle expiry and evictions, through Add and AddBatch
// and expects the same records in the same order.
func TestAddBatchSameAsAdd(t *testing.T) {
	reasons := map[event.EndReason]bool{}
	updates := 0
	for _, cfg := range []Config{
		{IdleTimeout: 2 * time.Millisecond, UpdateInterval: time.Millisecond, CloseLinger: time.Millisecond, MaxSessions: 100_000},
		{IdleTimeout: time.Hour, ActiveTimeout: time.Second, CloseLinger: time.Millisecond, MaxSessions: 4000},
	} {
		one, c1 := newTestTable(cfg)
		batch, c2 := newTestTable(cfg)
		g := newTraffic(5000, 4)
		g.step = 20_000 // 50,000 packets per second of packet time
		ps := make([]event.PacketRec, 50_000)
		flags := []uint8{fS, fSA, fA, fPA, fFA, fR, fA, fPA}
		for i := range ps {
			g.packet(&ps[i])
			ps[i].TCPFlags = flags[i%len(flags)]
		}
		for i := range ps {
			one.Add(&ps[i])
		}
		for i := 0; i < len(ps); i += 1000 {
			batch.AddBatch(ps[i : i+1000])
		}
		one.Flush(event.ReasonShutdown)
		batch.Flush(event.ReasonShutdown)
		if len(c1.flows) != len(c2.flows) {
			t.Fatalf("Add reported %d records, AddBatch %d", len(c1.flows), len(c2.flows))
		}
		for i := range c1.flows {
			a, b := c1.flows[i].AppendJSON(nil), c2.flows[i].AppendJSON(nil)
			if string(a) != string(b) {
				t.Fatalf("record %d differs:\n Add:      %s\n AddBatch: %s", i, a, b)
			}
		}
		for _, f := range c1.ends() {
			reasons[f.Reason] = true
		}
		updates += len(c1.updates())
	}
	for _, r := range []event.EndReason{event.ReasonIdle, event.ReasonFIN, event.ReasonRST, event.ReasonEvicted, event.ReasonShutdown} {
		if !reasons[r] {
			t.Errorf("no flow ended with %v: the traffic does not cover it", r)
		}
	}
	if updates == 0 {
		t.Error("no interim reports: the traffic does not cover them")
	}
}
