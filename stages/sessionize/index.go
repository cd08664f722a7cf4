package sessionize

import (
	"runtime"

	"github.com/nfpipe/nfpipe/stages/internal/hugemem"
)

// index finds a flow's slab slot by key. It is an open-addressing hash
// table with linear probing over 8-byte slots that hold a slot index and
// 32 bits of the key's hash; the key itself is stored only once, in the
// slab entry. Compared with a Go map from flowKey to index this takes 10-20
// bytes per flow instead of about 100, and deletion shifts entries back
// instead of leaving tombstones, so a table under constant churn neither
// grows nor allocates once it has reached its size.
type index struct {
	slots   []slot
	mask    uint32
	n       int
	cleanup runtime.Cleanup // unmaps mapped slots if unmap is never called
}

// slot is one position of the index; idx 0 means empty.
type slot struct {
	hash uint32
	idx  uint32
}

// minIndexSlots is the initial size, kept small so an idle stage costs
// little; the index doubles when three quarters full.
const minIndexSlots = 1024

func newIndex() index {
	return index{slots: make([]slot, minIndexSlots), mask: minIndexSlots - 1}
}

// find returns the slab index of key k, whose hash is h, or 0.
func (x *index) find(s *slab, k *flowKey, h uint32) uint32 {
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		sl := x.slots[p]
		if sl.idx == 0 {
			return 0
		}
		if sl.hash == h && s.at(sl.idx).key == *k {
			return sl.idx
		}
	}
}

// peek returns the slab index of the first entry whose hash is h, or 0:
// find without comparing keys, to warm the cache.
func (x *index) peek(h uint32) uint32 {
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		sl := x.slots[p]
		if sl.idx == 0 || sl.hash == h {
			return sl.idx
		}
	}
}

// insert adds slab index i under hash h; the key must not be present.
func (x *index) insert(h, i uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.place(h, i)
	x.n++
}

func (x *index) place(h, i uint32) {
	p := h & x.mask
	for x.slots[p].idx != 0 {
		p = (p + 1) & x.mask
	}
	x.slots[p] = slot{hash: h, idx: i}
}

func (x *index) grow() {
	old := x.slots
	// From 2 MB on, on populated huge pages (see package hugemem).
	x.slots = hugemem.Make[slot](2 * len(old))
	x.mask = uint32(len(x.slots) - 1)
	for _, sl := range old {
		if sl.idx != 0 {
			x.place(sl.hash, sl.idx)
		}
	}
	x.cleanup.Stop()
	hugemem.Free(old)
	// Unmaps the slots should the index be dropped without unmap.
	x.cleanup = runtime.AddCleanup(x, hugemem.Free[slot], x.slots)
}

// unmap unmaps the slots if they were mapped; the index must not be
// used afterwards.
func (x *index) unmap() {
	x.cleanup.Stop()
	hugemem.Free(x.slots)
	x.slots = nil
}

// remove deletes slab index i, stored under hash h. The entries after it
// in its probe run move back so that every entry stays reachable from its
// home position without tombstones (Knuth's algorithm R).
func (x *index) remove(h, i uint32) {
	p := h & x.mask
	for x.slots[p].idx != i {
		p = (p + 1) & x.mask
	}
	for q := p; ; {
		q = (q + 1) & x.mask
		if x.slots[q].idx == 0 {
			break
		}
		home := x.slots[q].hash & x.mask
		// The entry at q may fill the hole at p unless its home lies
		// cyclically in (p, q].
		if p <= q {
			if p < home && home <= q {
				continue
			}
		} else if p < home || home <= q {
			continue
		}
		x.slots[p] = x.slots[q]
		p = q
	}
	x.slots[p] = slot{}
	x.n--
}
