package ipstats

import (
	"encoding/binary"
	"math"
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
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
// large to inline.
func addrsOf(p *event.PacketRec) (src, dst addr) {
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

// Bits of the value stored per tuple: which directions have been seen
// (their destination port is counted) and which have had a SYN counted as
// a flow start.
const (
	seenFwd uint8 = 1 << iota
	seenRev
	synFwd
	synRev
)

// tupleKey is a direction-less 5-tuple within an interval: the slab
// indexes of both ends, lower first, and protocol and ports in the same
// order. Using slab indexes keeps the key at 16 bytes.
type tupleKey struct{ ends, ports uint64 }

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
type table struct {
	interval  int64 // nanoseconds
	top       int   // 0 = every address
	maxIPs    int
	maxTuples int
	out       output

	open       bool
	start, end int64  // the open interval [start, end)
	gen        uint64 // interval generation, stamped into cache entries

	recs   []ipRec
	index  map[addr]uint32
	tuples map[tupleKey]uint8
	pairs  map[uint64]struct{} // lower index << 32 | higher index
	ports  map[uint64]struct{} // source index << 16 | destination port
	cache  *flowCache
	addrs  *addrCache

	order []uint32 // scratch for top-N selection
	cnt   counts
}

func newTable(interval int64, top, maxIPs, maxTuples int, out output) *table {
	return &table{
		interval:  interval,
		top:       top,
		maxIPs:    maxIPs,
		maxTuples: maxTuples,
		out:       out,
		gen:       1,
		index:     map[addr]uint32{},
		tuples:    map[tupleKey]uint8{},
		pairs:     map[uint64]struct{}{},
		ports:     map[uint64]struct{}{},
		cache:     new(flowCache),
		addrs:     new(addrCache),
	}
}

// add counts one packet.
func (t *table) add(p *event.PacketRec) {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		t.cnt.nonIP++
		return
	}
	if ts := int64(p.TS); ts >= t.end || ts < t.start || !t.open {
		t.place(ts)
	}
	src, dst := addrsOf(p)
	frag := p.Frag&event.FragLater != 0
	key := uint64(p.Proto)<<32 | uint64(p.SrcPort)<<16 | uint64(p.DstPort)
	if frag {
		// A later fragment has no ports of its own; keep it apart from a
		// real packet with ports 0.
		key |= 1 << 40
	}
	meta := key | t.gen<<41
	e := &t.cache[cacheSlot(src, dst, key)]
	if e.meta != meta || e.src != src || e.dst != dst {
		t.miss(e, src, dst, meta, p, frag)
	} else if p.Proto == protoTCP && p.TCPFlags&(event.FlagSYN|event.FlagACK) == event.FlagSYN && e.si != noIdx && e.di != noIdx {
		// A SYN on a cached tuple (a retransmission, or a new connection
		// reusing the ports): the tuple set decides whether it counts.
		t.relate(e.si, e.di, p, frag)
	}
	w := uint64(p.WireLen)
	if e.si != noIdx {
		r := &t.recs[e.si]
		r.bytesOut += w
		r.pktsOut++
	} else {
		t.cnt.untracked++
	}
	if e.di != noIdx {
		r := &t.recs[e.di]
		r.bytesIn += w
		r.pktsIn++
	} else {
		t.cnt.untracked++
	}
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

// miss handles a packet whose tuple is not in the cache: it finds (or
// creates) both records, updates the distinct sets and fills the entry.
func (t *table) miss(e *cacheEntry, src, dst addr, meta uint64, p *event.PacketRec, frag bool) {
	si, di := t.slot(src), t.slot(dst)
	*e = cacheEntry{src: src, dst: dst, meta: meta, si: si, di: di}
	if si != noIdx && di != noIdx {
		t.relate(si, di, p, frag)
	}
}

// slot returns the slab index of an address, adding it if there is room.
func (t *table) slot(a addr) uint32 {
	c := &t.addrs[addrSlot(a)]
	if c.gen == t.gen && c.a == a {
		return c.idx
	}
	i, ok := t.index[a]
	if !ok {
		if len(t.recs) >= t.maxIPs {
			return noIdx
		}
		i = uint32(len(t.recs))
		t.recs = append(t.recs, ipRec{ip: a})
		t.index[a] = i
	}
	*c = addrEntry{a: a, gen: t.gen, idx: i}
	return i
}

// relate updates flows, peers and destination ports for a packet from
// record si to record di.
func (t *table) relate(si, di uint32, p *event.PacketRec, frag bool) {
	if frag {
		t.pair(si, di)
		return
	}
	a, b, pa, pb := si, di, p.SrcPort, p.DstPort
	seen, syn := seenFwd, synFwd
	if a > b || (a == b && pa > pb) {
		a, b, pa, pb = b, a, pb, pa
		seen, syn = seenRev, synRev
	}
	k := tupleKey{uint64(a)<<32 | uint64(b), uint64(p.Proto)<<32 | uint64(pa)<<16 | uint64(pb)}
	isSYN := p.Proto == protoTCP && p.TCPFlags&(event.FlagSYN|event.FlagACK) == event.FlagSYN
	flags, known := t.tuples[k]
	if !known && len(t.tuples) >= t.maxTuples {
		// Cannot remember the tuple: count what the other sets can
		// still deduplicate; a UDP flow start is lost, a TCP SYN counts
		// even if retransmitted.
		t.cnt.tuplesDropped++
		t.pair(si, di)
		t.port(si, p)
		if isSYN {
			t.recs[si].flows++
		}
		return
	}
	nf := flags
	if !known {
		t.pair(si, di)
		if p.Proto != protoTCP {
			t.recs[si].flows++
		}
	}
	if flags&seen == 0 {
		nf |= seen
		t.port(si, p)
	}
	if isSYN && flags&syn == 0 {
		nf |= syn
		t.recs[si].flows++
	}
	if nf != flags || !known {
		t.tuples[k] = nf
	}
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
	if t.insert(t.pairs, uint64(a)<<32|uint64(b)) {
		t.recs[a].peers++
		t.recs[b].peers++
	}
}

// port counts the packet's destination port for its source the first time
// the source sends to it in the interval.
func (t *table) port(si uint32, p *event.PacketRec) {
	if !hasPorts(p.Proto) {
		return
	}
	if t.insert(t.ports, uint64(si)<<16|uint64(p.DstPort)) {
		t.recs[si].ports++
	}
}

// insert adds k to a bounded set and reports whether it was new. Storing
// an existing key is as cheap as looking it up, so one map operation
// does both while there is room.
func (t *table) insert(m map[uint64]struct{}, k uint64) bool {
	n := len(m)
	if n >= t.maxTuples {
		if _, ok := m[k]; !ok {
			t.cnt.tuplesDropped++
		}
		return false
	}
	m[k] = struct{}{}
	return len(m) > n
}

// finish emits the open interval and resets the state for the next one.
// The maps are cleared, not reallocated, so the next interval reuses
// their memory.
func (t *table) finish() {
	if !t.open {
		return
	}
	t.emit()
	t.recs = t.recs[:0]
	clear(t.index)
	clear(t.tuples)
	clear(t.pairs)
	clear(t.ports)
	t.gen++
	if t.gen >= 1<<23 {
		// The generation has 23 bits in a flow-cache entry; on wrap,
		// forget every entry of both caches so a stale one can never
		// match.
		*t.cache = flowCache{}
		*t.addrs = addrCache{}
		t.gen = 1
	}
	t.open = false
}
