package ipstats

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// collector is an output that keeps every emitted record. With reuse set
// it hands out one batch over and over, so a test can measure the
// table's own allocations across interval changes.
type collector struct {
	recs    []event.IPStatRec
	batches int
	reuse   bool
	b       *event.Batch
}

func (c *collector) NewBatch(k event.Kind) *event.Batch {
	if c.reuse {
		if c.b == nil {
			c.b = event.NewBatch(k)
		}
		c.b.IPStats = c.b.IPStats[:0]
		return c.b
	}
	return event.NewBatch(k)
}

func (c *collector) Emit(b *event.Batch) {
	c.batches++
	if !c.reuse {
		c.recs = append(c.recs, b.IPStats...)
	}
}

// byIP returns the emitted records of one interval start, by address.
func (c *collector) byIP(t *testing.T, start time.Duration) map[string]event.IPStatRec {
	t.Helper()
	m := map[string]event.IPStatRec{}
	for _, r := range c.recs {
		if r.Start != event.Time(start) {
			continue
		}
		if _, dup := m[r.IP.String()]; dup {
			t.Fatalf("address %s emitted twice for interval %v", r.IP, start)
		}
		m[r.IP.String()] = r
	}
	return m
}

func newTestTable(out output) *table {
	return newTable(int64(10*time.Second), 0, 1_000_000, 1_000_000, out)
}

func pkt(ts time.Duration, proto uint8, src string, sport uint16, dst string, dport uint16, flags uint8, n uint32) event.PacketRec {
	return event.PacketRec{
		TS: event.Time(ts), WireLen: n, CapLen: n, Proto: proto,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sport, DstPort: dport, TCPFlags: flags, IPVer: 4,
	}
}

func tcpPkt(ts time.Duration, src string, sport uint16, dst string, dport uint16, flags uint8, n uint32) event.PacketRec {
	return pkt(ts, protoTCP, src, sport, dst, dport, flags, n)
}

func udpPkt(ts time.Duration, src string, sport uint16, dst string, dport uint16, n uint32) event.PacketRec {
	return pkt(ts, protoUDP, src, sport, dst, dport, 0, n)
}

func addAll(t *table, ps ...event.PacketRec) {
	for i := range ps {
		t.add(&ps[i])
	}
}

// want is the expected counters of one record.
type want struct {
	bytesIn, bytesOut, pktsIn, pktsOut, flows uint64
	peers, ports                              uint32
}

func check(t *testing.T, got map[string]event.IPStatRec, ip string, w want) {
	t.Helper()
	r, ok := got[ip]
	if !ok {
		t.Errorf("%s: no record", ip)
		return
	}
	g := want{r.BytesIn, r.BytesOut, r.PacketsIn, r.PacketsOut, r.Flows, r.Peers, r.DstPorts}
	if g != w {
		t.Errorf("%s:\n got %+v\nwant %+v", ip, g, w)
	}
}

const (
	syn    = event.FlagSYN
	synAck = event.FlagSYN | event.FlagACK
	ack    = event.FlagACK
	pshAck = event.FlagPSH | event.FlagACK
	finAck = event.FlagFIN | event.FlagACK
)
