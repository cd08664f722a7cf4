package ipstats

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// refTable is the stage's semantics written plainly with maps, as the
// description states them, to check the table against.
type refTable struct {
	interval          int64
	maxIPs, maxTuples int
	open              bool
	start, end        int64
	recs              map[addr]*event.IPStatRec
	order             []addr
	tuples            map[refTuple]uint8
	pairs             map[[2]addr]bool
	ports             map[refPort]bool
	out               []event.IPStatRec
}

type refTuple struct {
	a, b   addr
	pa, pb uint16
	proto  uint8
	frag   bool
}

type refPort struct {
	src  addr
	port uint16
}

func newRef(interval time.Duration, maxIPs, maxTuples int) *refTable {
	r := &refTable{interval: int64(interval), maxIPs: maxIPs, maxTuples: maxTuples}
	r.reset()
	return r
}

func (r *refTable) reset() {
	r.recs, r.order = map[addr]*event.IPStatRec{}, nil
	r.tuples, r.pairs, r.ports = map[refTuple]uint8{}, map[[2]addr]bool{}, map[refPort]bool{}
}

func (r *refTable) finish() {
	if !r.open {
		return
	}
	for _, a := range r.order {
		rec := *r.recs[a]
		rec.IP, rec.Start, rec.End = a.netip(), event.Time(r.start), event.Time(r.end)
		r.out = append(r.out, rec)
	}
	r.reset()
	r.open = false
}

// track returns the record of a, adding it if there is room.
func (r *refTable) track(a addr) *event.IPStatRec {
	if rec := r.recs[a]; rec != nil {
		return rec
	}
	if len(r.recs) >= r.maxIPs {
		return nil
	}
	rec := &event.IPStatRec{}
	r.recs[a] = rec
	r.order = append(r.order, a)
	return rec
}

func (r *refTable) add(p *event.PacketRec) {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return
	}
	ts := int64(p.TS)
	if !r.open || ts >= r.end || ts < r.start-r.interval {
		r.finish()
		r.start = floorDiv(ts, r.interval) * r.interval
		r.end, r.open = r.start+r.interval, true
	}
	src, dst := addrOf(p.Src), addrOf(p.Dst)
	s, d := r.track(src), r.track(dst)
	if s != nil {
		s.BytesOut += uint64(p.WireLen)
		s.PacketsOut++
	}
	if d != nil {
		d.BytesIn += uint64(p.WireLen)
		d.PacketsIn++
	}
	if s == nil || d == nil {
		return
	}
	pair := func() {
		if src == dst {
			return
		}
		k := [2]addr{src, dst}
		if dst.less(src) {
			k = [2]addr{dst, src}
		}
		if !r.pairs[k] && len(r.pairs) < r.maxTuples {
			r.pairs[k] = true
			s.Peers++
			d.Peers++
		}
	}
	port := func() {
		k := refPort{src, p.DstPort}
		if hasPorts(p.Proto) && !r.ports[k] && len(r.ports) < r.maxTuples {
			r.ports[k] = true
			s.DstPorts++
		}
	}
	tk := refTuple{a: src, b: dst, pa: p.SrcPort, pb: p.DstPort, proto: p.Proto, frag: p.Frag&event.FragLater != 0}
	seen, syn := seenFwd, synFwd
	if dst.less(src) || src == dst && p.DstPort < p.SrcPort {
		tk.a, tk.b, tk.pa, tk.pb = dst, src, p.DstPort, p.SrcPort
		seen, syn = seenRev, synRev
	}
	flags, known := r.tuples[tk]
	if tk.frag {
		if !known {
			pair()
			if len(r.tuples) < r.maxTuples {
				r.tuples[tk] = 0
			}
		}
		return
	}
	if !known && len(r.tuples) >= r.maxTuples {
		pair()
		port()
		if isSYN(p) {
			s.Flows++
		}
		return
	}
	if !known {
		pair()
		if p.Proto != protoTCP {
			s.Flows++
		}
	}
	if flags&seen == 0 {
		flags |= seen
		port()
	}
	if isSYN(p) && flags&syn == 0 {
		flags |= syn
		s.Flows++
	}
	r.tuples[tk] = flags
}

// mixedTraffic is synthetic traffic with IPv6, IPv4-mapped and ICMP
// packets, later fragments and traffic to itself mixed in, spread over
// several 10 ms intervals.
func mixedTraffic(flows, packets int, seed uint64) []event.PacketRec {
	ps := syntheticTraffic(flows, packets, seed)
	v6 := func(a netip.Addr) netip.Addr {
		b4 := a.As4()
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: b4[0], 13: b4[1], 14: b4[2], 15: b4[3]})
	}
	for i := range ps {
		p := &ps[i]
		p.TS /= 2
		switch {
		case p.SrcPort%7 == 0 || p.DstPort%7 == 0:
			p.Src, p.Dst, p.IPVer = v6(p.Src), v6(p.Dst), 6
		case p.SrcPort%11 == 0 || p.DstPort%11 == 0:
			p.Src = netip.AddrFrom16(p.Src.As16())
		case p.SrcPort%13 == 0 || p.DstPort%13 == 0:
			p.Proto, p.SrcPort, p.DstPort, p.TCPFlags = 1, 0, 0, 0
		}
		if i%53 == 0 {
			p.Frag = event.FragLater
		}
		if i%97 == 0 {
			p.Dst = p.Src
		}
	}
	return ps
}

// TestMatchesReference runs mixed traffic through the table (packet by
// packet and in batches) and through refTable, with room for everything
// and with too little room for addresses or tuples, and requires the same
// records.
func TestMatchesReference(t *testing.T) {
	traffic := mixedTraffic(5000, 120000, 4)
	for _, lim := range []struct{ ips, tuples int }{{1_000_000, 1_000_000}, {700, 1_000_000}, {1_000_000, 900}} {
		t.Run(fmt.Sprintf("max_ips=%d,max_tuples=%d", lim.ips, lim.tuples), func(t *testing.T) {
			ref := newRef(10*ms, lim.ips, lim.tuples)
			for i := range traffic {
				ref.add(&traffic[i])
			}
			ref.finish()
			for _, batch := range []bool{false, true} {
				c := &collector{}
				tb := newTable(int64(10*ms), 0, lim.ips, lim.tuples, c)
				if batch {
					// Batches of odd sizes, as a stage could receive them.
					for i := 0; i < len(traffic); i += 300 {
						tb.addBatch(traffic[i:min(i+300, len(traffic))])
					}
				} else {
					for i := range traffic {
						tb.add(&traffic[i])
					}
				}
				tb.finish()
				if tb.cnt.intervals < 5 {
					t.Fatalf("only %d intervals", tb.cnt.intervals)
				}
				if len(c.recs) != len(ref.out) {
					t.Fatalf("batch %v: %d records, reference %d", batch, len(c.recs), len(ref.out))
				}
				for i, w := range ref.out {
					if c.recs[i] != w {
						t.Fatalf("batch %v: record %d:\n got %+v\nwant %+v", batch, i, c.recs[i], w)
					}
				}
			}
		})
	}
}
