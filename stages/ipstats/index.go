package ipstats

import (
	"unsafe"

	"github.com/nfpipe/nfpipe/stages/internal/hugemem"
)

// addrIndex finds an address's record in the slab. It is an
// open-addressing hash table with linear probing over 8-byte slots that
// hold 32 bits of the address's hash and its slab index plus one (0 is
// empty); the address itself is stored once, in the record, which the
// packet updates anyway. It is cleared at every interval.
type addrIndex struct {
	slots []addrSlot
	mask  uint32
	n     int
	log   slotLog
}

type addrSlot struct {
	hash uint32
	idx  uint32 // slab index + 1; 0 = empty
}

// minIndexSlots is the initial size of the address index and of the
// distinct sets; they double when half full.
const minIndexSlots = 1024

func newAddrIndex() addrIndex {
	return addrIndex{slots: make([]addrSlot, minIndexSlots), mask: minIndexSlots - 1, log: newSlotLog(minIndexSlots)}
}

// find returns the slab index of a, whose hash is h, or noIdx and the
// slot where it belongs.
func (x *addrIndex) find(recs []ipRec, a addr, h uint32) (idx, slot uint32) {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		if s.idx == 0 {
			return noIdx, i
		}
		if s.hash == h && recs[s.idx-1].ip == a {
			return s.idx - 1, i
		}
	}
}

// peek returns the slab index in the first slot of hash h if that slot
// holds h and an index below n, else noIdx: a guess, without comparing
// the address, of what find will return.
func (x *addrIndex) peek(h uint32, n int) uint32 {
	s := x.slots[h&x.mask]
	if s.idx == 0 || s.hash != h || int(s.idx-1) >= n {
		return noIdx
	}
	return s.idx - 1
}

// add stores slab index idx under hash h in the empty slot (from find).
func (x *addrIndex) add(slot, h, idx uint32) {
	x.slots[slot] = addrSlot{hash: h, idx: idx + 1}
	x.log.note(uint64(slot))
	if x.n++; 2*x.n > len(x.slots) {
		x.grow()
	}
}

func (x *addrIndex) grow() {
	old := x.slots
	x.slots = hugemem.Make[addrSlot](2 * len(old))
	x.mask = uint32(len(x.slots) - 1)
	x.log = newSlotLog(len(x.slots)) // more entries than it holds
	for _, s := range old {
		if s.idx != 0 {
			i := s.hash & x.mask
			for x.slots[i].idx != 0 {
				i = (i + 1) & x.mask
			}
			x.slots[i] = s
		}
	}
	hugemem.Free(old)
}

func (x *addrIndex) reset() {
	clearSlots(x.slots, &x.log, x.n)
	x.n = 0
}

// set64 is a set of non-zero 64-bit keys: open addressing with linear
// probing, cleared at every interval.
type set64 struct {
	slots []uint64
	mask  uint64
	n     int
	seed  uint64 // random per set, see seeds
	log   slotLog
}

func newSet64(seed uint64) set64 {
	return set64{slots: make([]uint64, minIndexSlots), mask: minIndexSlots - 1, seed: seed, log: newSlotLog(minIndexSlots)}
}

func (s *set64) hash(k uint64) uint64 { return mum(k^s.seed, 0x9e3779b97f4a7c15) }

// at returns the address of the first slot of key k, for prefetching.
func (s *set64) at(k uint64) unsafe.Pointer { return unsafe.Pointer(&s.slots[s.hash(k)&s.mask]) }

// insert adds k unless the set holds max keys, and reports whether k was
// new and added, and whether it is in the set now.
func (s *set64) insert(k uint64, max int) (added, there bool) {
	i := s.hash(k) & s.mask
	for ; s.slots[i] != 0; i = (i + 1) & s.mask {
		if s.slots[i] == k {
			return false, true
		}
	}
	if s.n >= max {
		return false, false
	}
	s.slots[i] = k
	s.log.note(i)
	if s.n++; 2*s.n > len(s.slots) {
		s.grow()
	}
	return true, true
}

func (s *set64) grow() {
	old := s.slots
	s.slots = hugemem.Make[uint64](2 * len(old))
	s.mask = uint64(len(s.slots) - 1)
	s.log = newSlotLog(len(s.slots)) // more entries than it holds
	for _, k := range old {
		if k != 0 {
			i := s.hash(k) & s.mask
			for s.slots[i] != 0 {
				i = (i + 1) & s.mask
			}
			s.slots[i] = k
		}
	}
	hugemem.Free(old)
}

func (s *set64) reset() {
	clearSlots(s.slots, &s.log, s.n)
	s.n = 0
}
