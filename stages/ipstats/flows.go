package ipstats

import "github.com/nfpipe/nfpipe/stages/internal/hugemem"

// Layout of flowEntry.meta. The low 41 bits are the tuple's key: ports
// (0-31, the lower endpoint's first), protocol (32-39) and the
// later-fragment mark (40). Bits 41-44 record what the interval has seen
// of the tuple (seenFwd ...), and bits 45-63 the interval generation.
const (
	keyMask   = 1<<41 - 1
	fragBit   = 1 << 40
	flagShift = 41
	flagMask  = 0xf << flagShift
	genShift  = 45
	genLimit  = 1 << (64 - genShift)
)

// flowEntry is a 5-tuple seen in the open interval, without direction:
// a is the endpoint that sorts lower (address, then port). It holds the
// slab indexes of both addresses, so a packet of a known tuple updates
// its two records without looking either address up, and what the tuple
// has already counted (flags in meta), so no set is consulted either.
// The addresses themselves are in the records: an entry is 16 bytes,
// four to a cache line, which keeps the table of a busy interval (the
// bench capture has 200,000 tuples in one) a few megabytes.
type flowEntry struct {
	meta   uint64
	ia, ib uint32 // slab indexes of the lower and the higher endpoint
}

func (e *flowEntry) flags() uint8 { return uint8(e.meta >> flagShift & 0xf) }

func (e *flowEntry) setFlags(f uint8) {
	e.meta = e.meta&^flagMask | uint64(f)<<flagShift
}

// flowTable is an open-addressing hash table of flowEntry with linear
// probing, keyed by the tuple. Only tuples whose two addresses are both
// tracked are stored. Entries hold the interval generation: one of an
// earlier interval counts as empty, so starting an interval costs
// nothing, and since nothing is deleted within an interval every probe
// run stays intact.
type flowTable struct {
	slots []flowEntry
	mask  uint64
	n     int    // entries of the current generation
	gen   uint64 // current generation, 1 to genLimit-1
}

// minFlowSlots is the initial size; the table doubles when three
// quarters full.
const minFlowSlots = 1024

func newFlowTable() flowTable {
	return flowTable{slots: make([]flowEntry, minFlowSlots), mask: minFlowSlots - 1, gen: 1}
}

// find returns the entry of tuple (a, b, meta), where meta is the key with
// the current generation and no flags, or the empty slot where it
// belongs.
func (ft *flowTable) find(recs []ipRec, h uint64, a, b addr, meta uint64) (e *flowEntry, found bool) {
	for i := h & ft.mask; ; i = (i + 1) & ft.mask {
		e := &ft.slots[i]
		m := e.meta &^ flagMask
		if m>>genShift != ft.gen {
			return e, false
		}
		if m == meta && recs[e.ia].ip == a && recs[e.ib].ip == b {
			return e, true
		}
	}
}

// add stores a new entry in the empty slot e (from find) and grows the
// table if it is three quarters full; it returns where the entry now is.
func (ft *flowTable) add(e *flowEntry, v flowEntry, recs []ipRec, s *seeds) *flowEntry {
	*e = v
	ft.n++
	if 4*ft.n <= 3*len(ft.slots) {
		return e
	}
	ft.grow(recs, s)
	a, b := recs[v.ia].ip, recs[v.ib].ip
	e, _ = ft.find(recs, s.flowHash(a, b, v.meta&keyMask), a, b, v.meta&^flagMask)
	return e
}

// grow doubles the table, keeping the current generation's entries.
func (ft *flowTable) grow(recs []ipRec, s *seeds) {
	old := ft.slots
	ft.slots = hugemem.Make[flowEntry](2 * len(old))
	ft.mask = uint64(len(ft.slots) - 1)
	for _, e := range old {
		if e.meta>>genShift != ft.gen {
			continue
		}
		i := s.flowHash(recs[e.ia].ip, recs[e.ib].ip, e.meta&keyMask) & ft.mask
		for ft.slots[i].meta>>genShift == ft.gen {
			i = (i + 1) & ft.mask
		}
		ft.slots[i] = e
	}
	hugemem.Free(old)
}

// next starts a new interval: every entry becomes stale. When the
// generation would overflow its bits, the table is cleared so that a
// stale entry can never match.
func (ft *flowTable) next() {
	ft.n = 0
	if ft.gen++; ft.gen >= genLimit {
		clear(ft.slots)
		ft.gen = 1
	}
}
