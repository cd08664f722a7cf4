package ipstats

import (
	"encoding/binary"
	"math"
	"net/netip"
	"unsafe"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/internal/hugemem"
	"github.com/nfpipe/nfpipe/stages/internal/prefetch"
)

// addr is an address as 16 bytes, IPv4 in its IPv4-mapped IPv6 form. It is
// a cheaper map key than netip.Addr (no zone pointer to hash), and it
// folds an IPv4 address and its IPv4-mapped IPv6 form into one record,
// as the JSON contract renders both the same way.
type addr struct{ hi, lo uint64 }

// addrOf converts an address; a zone is dropped.
func addrOf(a netip.Addr) addr {
	if a.Is4() {
		// The common case: the four bytes stay in a register.
		b := a.As4()
		return addr{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	return addrOf6(a)
}

// addrsOf converts both addresses of a packet in one call: addrOf is too
// large to inline. Two IPv4 addresses, the common case, are converted
// here without calling it: 20.0 -> 18.5 ns per packet on BenchmarkAdd
// flows=64, whose tables are in the first-level cache.
func addrsOf(p *event.PacketRec) (src, dst addr) {
	if p.Src.Is4() && p.Dst.Is4() {
		s, d := p.Src.As4(), p.Dst.As4()
		return addr{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(s[:]))},
			addr{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(d[:]))}
	}
	return addrOf(p.Src), addrOf(p.Dst)
}

// addrOf6 goes through AsSlice rather than As16: copying As16's array
// result reads 16 bytes just written as two 8-byte halves, a store
// forwarding stall that made it more than twice as slow.
func addrOf6(a netip.Addr) addr {
	s := a.AsSlice()
	if len(s) != 16 {
		return addr{} // the zero Addr; callers skip it
	}
	return addr{binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(s[8:16])}
}

// netip converts back, IPv4-mapped addresses to plain IPv4.
func (a addr) netip() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b).Unmap()
}

// ipRec holds one address's counters for the open interval. It is one
// cache line, so a packet touches two lines of the slab.
type ipRec struct {
	ip                                 addr
	bytesIn, bytesOut, pktsIn, pktsOut uint64
	flows                              uint64
	peers, ports                       uint32
}

// noIdx marks an address that is not tracked because the table is full.
const noIdx = math.MaxUint32

// IP protocol numbers the table treats specially.
const (
	protoTCP  = 6
	protoUDP  = 17
	protoDCCP = 33
	protoSCTP = 132
	protoUDPL = 136
)

// hasPorts reports whether a protocol's ports are meaningful.
func hasPorts(p uint8) bool {
	switch p {
	case protoTCP, protoUDP, protoSCTP, protoDCCP, protoUDPL:
		return true
	}
	return false
}

// Bits of flowEntry's flags: which directions of the tuple have been
// seen (their destination port is counted) and which have had a SYN
// counted as a flow start. Forward is from the tuple's lower endpoint.
const (
	seenFwd uint8 = 1 << iota
	seenRev
	synFwd
	synRev
)

// less orders addresses, to give a tuple one orientation.
func (a addr) less(b addr) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// isSYN reports a TCP connection request: SYN without ACK.
func isSYN(p *event.PacketRec) bool {
	return p.Proto == protoTCP && p.TCPFlags&(event.FlagSYN|event.FlagACK) == event.FlagSYN
}

// counts are rare-event counters kept in plain fields on the hot path and
// published to the component's atomic counters once per batch.
type counts struct {
	untracked     uint64 // packet ends not counted: table full
	tuplesDropped uint64 // tuples, pairs or ports not remembered: sets full
	late          uint64 // packets older than the open interval
	nonIP         uint64 // packets without both addresses
	intervals     uint64 // intervals emitted
	records       uint64 // records emitted
}

// output is where finished intervals go; *pipeline.Env implements it.
type output interface {
	NewBatch(k event.Kind) *event.Batch
	Emit(b *event.Batch)
}

// table aggregates packets into per-IP records for one interval at a
// time. It is used by one goroutine.
//
// A packet costs one lookup in the flow table, keyed by its 5-tuple
// without direction: a tuple's entry holds the slab indexes of both
// addresses and what the tuple has counted (see flowEntry), so every
// packet after a tuple's first in the interval updates its two records
// and nothing else. A tuple's first packet finds or adds both addresses
// in the address index and updates the peer and port sets. All of these
// are open-addressing tables kept from one interval to the next, so
// steady traffic allocates nothing.
type table struct {
	interval  int64 // nanoseconds
	top       int   // 0 = every address
	maxIPs    int
	maxTuples int
	out       output

	open       bool
	start, end int64 // the open interval [start, end)

	seeds seeds
	recs  []ipRec
	index addrIndex // address to slab index
	flows flowTable // 5-tuples seen in the interval
	pairs set64     // lower index << 32 | higher index
	ports set64     // (source index + 1) << 16 | destination port

	order []uint32 // scratch for top-N selection
	cnt   counts

	group [4 * groupSize]prepared       // addBatch's tuples of the packets at hand
	addrs [5 * groupSize]unsafe.Pointer // what addBatch prefetches for a group
}

func newTable(interval int64, top, maxIPs, maxTuples int, out output) *table {
	t := &table{
		interval:  interval,
		top:       top,
		maxIPs:    maxIPs,
		maxTuples: maxTuples,
		out:       out,
		seeds:     randomSeeds(),
		index:     newAddrIndex(),
		flows:     newFlowTable(),
	}
	t.pairs = newSet64(t.seeds[3])
	t.ports = newSet64(t.seeds[4])
	return t
}

// prepared is a packet's tuple, oriented and hashed.
type prepared struct {
	a, b addr   // the lower and the higher endpoint's address
	key  uint64 // protocol, ports and later-fragment mark, as in flowEntry.meta
	h    uint64 // flowHash of the tuple
	rev  bool   // the packet was sent by b

	// Set by addBatch for a tuple whose flow table slot held no entry:
	// likely its first packet, which will look both addresses up.
	novel  bool
	ha, hb uint32 // addrHash of a and b, if novel
}

// groupSize is how many packets addBatch prefetches for at once: enough
// for the processor to have many cache misses in flight, few enough for
// what it fetched to stay in the first-level cache until used.
const groupSize = 32

// addBatch counts packets in order, with the same result as add on each.
// When the tables are larger than the processor's caches, much of a
// packet's cost is waiting for its flow entry and its two records to
// come from memory, and for a tuple's first packet also for its address
// index slots, records and pair and port set slots. addBatch therefore
// works through the packets as a pipeline over groups: while it counts
// group g, what group g+1's first packets need, group g+2's records (or,
// for a tuple without entry, its address index slots) and group g+3's
// flow table slots are already being fetched, so the waits overlap with
// each other and with the counting.
//
// (Loading a group's slots and then its records with plain loads just
// before counting it took ipstats in the one-core nfpipe-bench pipeline
// to 112 ns per packet, a three-group pipeline of prefetches for flow
// slots and records 105.5; BenchmarkBenchCaptureBatch/full 72.7 -> 67.2
// CPU ns, medians. Prefetching for first packets too, one group deeper,
// took the full capture counted in batches with other work between them
// from 92 to 86.5 CPU ns per packet, paired in one process. Both
// together: ipstats in the nfpipe-bench pipeline 98 -> 88.7 ns per
// packet, medians of 8 alternating runs.)
func (t *table) addBatch(ps []event.PacketRec) {
	n := (len(ps) + groupSize - 1) / groupSize
	for g := -3; g < n; g++ {
		if g+3 < n {
			t.fetchSlots(ps, g+3)
		}
		if g+2 >= 0 && g+2 < n {
			t.fetchRecords(ps, g+2)
		}
		if g+1 >= 0 && g+1 < n {
			t.fetchFirsts(ps, g+1)
		}
		if g >= 0 {
			pkts, pre := t.groupOf(ps, g)
			for i := range pkts {
				t.count(&pkts[i], &pre[i])
			}
		}
	}
}

// groupOf returns the packets of group g and their prepared tuples, which
// rotate through four groups' room.
func (t *table) groupOf(ps []event.PacketRec, g int) ([]event.PacketRec, []prepared) {
	pkts := ps[g*groupSize : min((g+1)*groupSize, len(ps))]
	return pkts, t.group[(g%4)*groupSize:][:len(pkts)]
}

// fetchSlots prepares the tuples of group g and prefetches the first flow
// table slot of each.
func (t *table) fetchSlots(ps []event.PacketRec, g int) {
	pkts, pre := t.groupOf(ps, g)
	addrs := t.addrs[:0]
	slots, mask := t.flows.slots, t.flows.mask
	for i := range pkts {
		t.prepare(&pkts[i], &pre[i])
		addrs = append(addrs, unsafe.Pointer(&slots[pre[i].h&mask]))
	}
	prefetch.Lines(addrs)
}

// fetchRecords prefetches the two records that a current entry in the
// first flow table slot of each prepared tuple of group g points at, or,
// where that slot is empty, the address index slots of both addresses.
// Whether the entry is the packet's tuple does not matter: this only
// loads.
func (t *table) fetchRecords(ps []event.PacketRec, g int) {
	_, pre := t.groupOf(ps, g)
	addrs := t.addrs[:0]
	slots, mask, gen, recs := t.flows.slots, t.flows.mask, t.flows.gen, t.recs
	idx, imask := t.index.slots, t.index.mask
	for i := range pre {
		pr := &pre[i]
		e := &slots[pr.h&mask]
		pr.novel = e.meta>>genShift != gen
		if !pr.novel {
			if int(e.ia) < len(recs) && int(e.ib) < len(recs) {
				addrs = append(addrs, unsafe.Pointer(&recs[e.ia]), unsafe.Pointer(&recs[e.ib]))
			}
			continue
		}
		pr.ha, pr.hb = uint32(t.seeds.addrHash(pr.a)), uint32(t.seeds.addrHash(pr.b))
		addrs = append(addrs, unsafe.Pointer(&idx[pr.ha&imask]), unsafe.Pointer(&idx[pr.hb&imask]))
	}
	prefetch.Lines(addrs)
}

// fetchFirsts prefetches, for each novel tuple of group g whose address
// index slots were prefetched a group earlier, the records those slots
// point at and the pair and port set slots the packet will insert into.
func (t *table) fetchFirsts(ps []event.PacketRec, g int) {
	pkts, pre := t.groupOf(ps, g)
	addrs := t.addrs[:0]
	recs := t.recs
	for i := range pre {
		pr := &pre[i]
		if !pr.novel {
			continue
		}
		ia, ib := t.index.peek(pr.ha, len(recs)), t.index.peek(pr.hb, len(recs))
		if ia != noIdx {
			addrs = append(addrs, unsafe.Pointer(&recs[ia]))
		}
		if ib != noIdx {
			addrs = append(addrs, unsafe.Pointer(&recs[ib]))
		}
		if ia == noIdx || ib == noIdx {
			continue
		}
		if ia != ib {
			addrs = append(addrs, t.pairs.at(uint64(min(ia, ib))<<32|uint64(max(ia, ib))))
		}
		si := ia
		if pr.rev {
			si = ib
		}
		if p := &pkts[i]; hasPorts(p.Proto) {
			addrs = append(addrs, t.ports.at((uint64(si)+1)<<16|uint64(p.DstPort)))
		}
	}
	prefetch.Lines(addrs)
}

// add counts one packet.
func (t *table) add(p *event.PacketRec) {
	var pr prepared
	t.prepare(p, &pr)
	t.count(p, &pr)
}

// prepare orients and hashes the tuple of packet p.
func (t *table) prepare(p *event.PacketRec, pr *prepared) {
	src, dst := addrsOf(p)
	a, b, pa, pb := src, dst, p.SrcPort, p.DstPort
	pr.rev = b.less(a) || a == b && pb < pa
	if pr.rev {
		a, b, pa, pb = b, a, pb, pa
	}
	pr.a, pr.b = a, b
	pr.key = uint64(p.Proto)<<32 | uint64(pa)<<16 | uint64(pb)
	if p.Frag&event.FragLater != 0 {
		// A later fragment has no ports of its own; keep it apart from a
		// real packet with ports 0.
		pr.key |= fragBit
	}
	pr.h = t.seeds.flowHash(a, b, pr.key)
}

// count counts packet p, whose tuple is prepared.
func (t *table) count(p *event.PacketRec, pr *prepared) {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		t.cnt.nonIP++
		return
	}
	if ts := int64(p.TS); ts >= t.end || ts < t.start || !t.open {
		t.place(ts)
	}
	e, found := t.flows.find(t.recs, pr.h, pr.a, pr.b, pr.key|t.flows.gen<<genShift)
	var si, di uint32
	if found {
		si, di = e.ia, e.ib
		seen, syn := seenFwd, synFwd
		if pr.rev {
			si, di = di, si
			seen, syn = seenRev, synRev
		}
		if f := e.flags(); (f&seen == 0 || f&syn == 0 && isSYN(p)) && pr.key&fragBit == 0 {
			t.relate(e, pr.rev, si, p)
		}
	} else {
		si, di = t.first(e, pr, p)
	}
	w := uint64(p.WireLen)
	if si != noIdx {
		r := &t.recs[si]
		r.bytesOut += w
		r.pktsOut++
	} else {
		t.cnt.untracked++
	}
	if di != noIdx {
		r := &t.recs[di]
		r.bytesIn += w
		r.pktsIn++
	} else {
		t.cnt.untracked++
	}
}

// first handles a packet whose tuple has no entry, which belongs in the
// empty slot e: the first packet of the tuple in the interval, or one of
// a tuple that cannot be stored (an address is not tracked, or the table
// holds max_tuples). It finds (or adds) both addresses, adds the entry
// and counts the tuple as a peer pair and, unless it is TCP (whose flows
// are SYNs), as a flow of its sender. It returns the slab indexes of the
// packet's source and destination.
func (t *table) first(e *flowEntry, pr *prepared, p *event.PacketRec) (si, di uint32) {
	// The source first: records are emitted in the order first seen.
	if pr.rev {
		si, di = t.slot(pr.b), t.slot(pr.a)
	} else {
		si, di = t.slot(pr.a), t.slot(pr.b)
	}
	if si == noIdx || di == noIdx {
		return si, di
	}
	frag := pr.key&fragBit != 0
	if t.flows.n >= t.maxTuples {
		// The tuple cannot be remembered: count what the other sets can
		// still deduplicate; a UDP flow start is lost, a TCP SYN counts
		// even if retransmitted.
		t.pair(si, di)
		if !frag {
			t.cnt.tuplesDropped++
			t.port(si, p)
			if isSYN(p) {
				t.recs[si].flows++
			}
		}
		return si, di
	}
	ia, ib := si, di
	if pr.rev {
		ia, ib = di, si
	}
	e = t.flows.add(e, flowEntry{meta: pr.key | t.flows.gen<<genShift, ia: ia, ib: ib}, t.recs, &t.seeds)
	t.pair(si, di)
	if !frag {
		if p.Proto != protoTCP {
			t.recs[si].flows++
		}
		t.relate(e, pr.rev, si, p)
	}
	return si, di
}

// relate counts, for a packet from record si on the tuple of entry e,
// what the tuple has not counted yet in its direction: the destination
// port, and a SYN as a flow start.
func (t *table) relate(e *flowEntry, rev bool, si uint32, p *event.PacketRec) {
	seen, syn := seenFwd, synFwd
	if rev {
		seen, syn = seenRev, synRev
	}
	f := e.flags()
	nf := f
	if f&seen == 0 {
		nf |= seen
		t.port(si, p)
	}
	if isSYN(p) && f&syn == 0 {
		nf |= syn
		t.recs[si].flows++
	}
	e.setFlags(nf)
}

// place opens the interval of a packet whose time is outside the open
// one. A packet slightly older than the open interval (out of order
// across workers) is counted in it; one older by more than an interval
// means the clock stepped back (a looped replay), and starts afresh.
func (t *table) place(ts int64) {
	switch {
	case !t.open:
	case ts >= t.end:
		t.finish()
	case ts < t.start-t.interval:
		t.finish()
	default:
		t.cnt.late++
		return
	}
	start := floorDiv(ts, t.interval) * t.interval
	t.start, t.end, t.open = start, start+t.interval, true
	if t.end < start { // overflow near the end of time
		t.end = math.MaxInt64
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// slot returns the slab index of an address, adding it if there is room.
func (t *table) slot(a addr) uint32 {
	h := uint32(t.seeds.addrHash(a))
	i, s := t.index.find(t.recs, a, h)
	if i != noIdx {
		return i
	}
	if len(t.recs) >= t.maxIPs {
		return noIdx
	}
	i = uint32(len(t.recs))
	if len(t.recs) == cap(t.recs) {
		t.growRecs()
	}
	t.recs = append(t.recs, ipRec{ip: a})
	t.index.add(s, h, i)
	return i
}

// growRecs doubles the records' capacity. Large slabs of records are
// mapped on populated huge pages (see package hugemem): growing them by
// append faulted in a fresh 4 KB page every 64 addresses, at 17-19 us a
// fault on this machine kind.
func (t *table) growRecs() {
	old := t.recs
	t.recs = hugemem.Make[ipRec](max(2*cap(old), 1024))[:len(old)]
	copy(t.recs, old)
	hugemem.Free(old[:cap(old)])
}

// pair counts a peer for both ends the first time they talk in the
// interval. Traffic to itself is not a peer.
func (t *table) pair(a, b uint32) {
	if a == b {
		return
	}
	if a > b {
		a, b = b, a
	}
	added, there := t.pairs.insert(uint64(a)<<32|uint64(b), t.maxTuples)
	if added {
		t.recs[a].peers++
		t.recs[b].peers++
	} else if !there {
		t.cnt.tuplesDropped++
	}
}

// port counts the packet's destination port for its source the first time
// the source sends to it in the interval.
func (t *table) port(si uint32, p *event.PacketRec) {
	if !hasPorts(p.Proto) {
		return
	}
	added, there := t.ports.insert((uint64(si)+1)<<16|uint64(p.DstPort), t.maxTuples)
	if added {
		t.recs[si].ports++
	} else if !there {
		t.cnt.tuplesDropped++
	}
}

// release frees the tables' memory; the table must not be used after.
func (t *table) release() {
	hugemem.Free(t.flows.slots)
	hugemem.Free(t.index.slots)
	hugemem.Free(t.pairs.slots)
	hugemem.Free(t.ports.slots)
	hugemem.Free(t.recs[:cap(t.recs)])
	t.flows.slots, t.index.slots, t.pairs.slots, t.ports.slots, t.recs = nil, nil, nil, nil, nil
}

// finish emits the open interval and resets the state for the next one.
// The tables are cleared (the flow table by moving to the next
// generation), not reallocated, so the next interval reuses their memory.
func (t *table) finish() {
	if !t.open {
		return
	}
	t.emit()
	t.recs = t.recs[:0]
	t.index.reset()
	t.pairs.reset()
	t.ports.reset()
	t.flows.next()
	t.open = false
}
