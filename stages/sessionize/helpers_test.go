package sessionize

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TCP flag shorthands for the tests.
const (
	fS  = event.FlagSYN
	fSA = event.FlagSYN | event.FlagACK
	fA  = event.FlagACK
	fPA = event.FlagPSH | event.FlagACK
	fFA = event.FlagFIN | event.FlagACK
	fR  = event.FlagRST
	fRA = event.FlagRST | event.FlagACK
)

// collector keeps every reported flow.
type collector struct{ flows []event.FlowRec }

func (c *collector) emit(f *event.FlowRec) { c.flows = append(c.flows, *f) }

// ends returns the FlowEnd records.
func (c *collector) ends() []event.FlowRec {
	var out []event.FlowRec
	for _, f := range c.flows {
		if f.Event == event.FlowEnd {
			out = append(out, f)
		}
	}
	return out
}

// updates returns the FlowUpdate records.
func (c *collector) updates() []event.FlowRec {
	var out []event.FlowRec
	for _, f := range c.flows {
		if f.Event == event.FlowUpdate {
			out = append(out, f)
		}
	}
	return out
}

// newTestTable returns a table reporting into a collector.
func newTestTable(cfg Config) (*Table, *collector) {
	c := &collector{}
	return NewTable(cfg, c.emit), c
}

// at is a packet time t after a fixed epoch.
func at(t time.Duration) event.Time {
	return event.Time(1_700_000_000*time.Second + t)
}

// tcp builds a 100-byte TCP packet sent at time t.
func tcp(t time.Duration, src string, sport uint16, dst string, dport uint16, flags uint8) event.PacketRec {
	return event.PacketRec{
		TS: at(t), WireLen: 100, CapLen: 100,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: 6, SrcPort: sport, DstPort: dport, TCPFlags: flags,
	}
}

// udp builds a 100-byte UDP packet sent at time t.
func udp(t time.Duration, src string, sport uint16, dst string, dport uint16) event.PacketRec {
	p := tcp(t, src, sport, dst, dport, 0)
	p.Proto = 17
	return p
}

// icmp builds a 98-byte ICMP packet of the given type.
func icmp(t time.Duration, src, dst string, typ uint8) event.PacketRec {
	p := tcp(t, src, 0, dst, 0, 0)
	p.Proto, p.ICMPType, p.WireLen = 1, typ, 98
	return p
}

// seq sets the sequence and acknowledgement numbers.
func seq(p event.PacketRec, s, a uint32) event.PacketRec {
	p.Seq, p.Ack = s, a
	return p
}

func addAll(t *Table, ps ...event.PacketRec) {
	for i := range ps {
		t.Add(&ps[i])
	}
}

// handshake returns a complete three-way handshake from the client
// 10.0.0.9:40000 to the server 10.0.0.1:80 starting at t0, with the
// client's ACK rtt after the SYN.
func handshake(t0, rtt time.Duration) []event.PacketRec {
	return []event.PacketRec{
		seq(tcp(t0, "10.0.0.9", 40000, "10.0.0.1", 80, fS), 1000, 0),
		seq(tcp(t0+rtt/2, "10.0.0.1", 80, "10.0.0.9", 40000, fSA), 5000, 1001),
		seq(tcp(t0+rtt, "10.0.0.9", 40000, "10.0.0.1", 80, fA), 1001, 5001),
	}
}

// only returns the single flow of a table, failing otherwise.
func only(t *testing.T, tb *Table) *entry {
	t.Helper()
	if tb.index.n != 1 || tb.lru.head+tb.closing.head == 0 {
		t.Fatalf("table has %d flows, want 1", tb.index.n)
	}
	if tb.lru.head != 0 {
		return tb.slab.at(tb.lru.head)
	}
	return tb.slab.at(tb.closing.head)
}

func endpoint(s string, port uint16) event.Endpoint {
	return event.Endpoint{IP: netip.MustParseAddr(s), Port: port}
}
