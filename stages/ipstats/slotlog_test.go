package ipstats

import (
	"slices"
	"testing"
)

// TestResetAfterQuietInterval fills the sets and the address index, resets
// them, then stores a few entries, fewer than their logs hold, and resets
// again: every slot must be empty after each reset, whichever way it was
// cleared.
func TestResetAfterQuietInterval(t *testing.T) {
	s := newSet64(7)
	x := newAddrIndex()
	var recs []ipRec
	empty := func(when string) {
		t.Helper()
		if i := slices.IndexFunc(s.slots, func(k uint64) bool { return k != 0 }); i >= 0 {
			t.Fatalf("%s: set slot %d holds %#x", when, i, s.slots[i])
		}
		if i := slices.IndexFunc(x.slots, func(a addrSlot) bool { return a != addrSlot{} }); i >= 0 {
			t.Fatalf("%s: index slot %d holds %+v", when, i, x.slots[i])
		}
	}
	fill := func(n int) {
		recs = recs[:0]
		for k := 1; k <= n; k++ {
			if added, _ := s.insert(uint64(k)<<20, 1<<30); !added {
				t.Fatalf("key %d not added", k)
			}
			a := addr{0, uint64(k)}
			h := uint32(k * 0x9e3779b1)
			idx, slot := x.find(recs, a, h)
			if idx != noIdx {
				t.Fatalf("address %d found before it was added", k)
			}
			recs = append(recs, ipRec{ip: a})
			x.add(slot, h, uint32(len(recs)-1))
		}
	}
	for _, n := range []int{50_000, 10, 0, 3000, 2, 50_000, 1} {
		fill(n)
		if s.n != n || x.n != n {
			t.Fatalf("after %d inserts: %d in the set, %d in the index", n, s.n, x.n)
		}
		s.reset()
		x.reset()
		empty("after a reset")
	}
	// Both ways of clearing were taken.
	if c := cap(s.log.pos); c < 3000 || c >= 50_000 {
		t.Fatalf("the set's log holds %d slots; the test needs 3000 to 50,000", c)
	}
	if c := cap(x.log.pos); c < 3000 || c >= 50_000 {
		t.Fatalf("the index's log holds %d slots; the test needs 3000 to 50,000", c)
	}
}
