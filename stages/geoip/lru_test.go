package geoip

import (
	"net/netip"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func addrN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := newLRU(3)
	g := []*event.Geo{{City: "0"}, {City: "1"}, {City: "2"}, {City: "3"}}
	for i := 0; i < 3; i++ {
		c.put(addrN(i), g[i])
	}
	c.get(addrN(0)) // 1 is now the least recently used
	c.put(addrN(3), g[3])
	if _, ok := c.get(addrN(1)); ok {
		t.Error("1 should have been evicted")
	}
	for _, i := range []int{0, 2, 3} {
		if v, ok := c.get(addrN(i)); !ok || v != g[i] {
			t.Errorf("%d: %v %v", i, v, ok)
		}
	}
	c.put(addrN(2), g[0]) // replace keeps the size
	if c.len() != 3 {
		t.Errorf("len %d", c.len())
	}
	if v, _ := c.get(addrN(2)); v != g[0] {
		t.Error("replace lost")
	}
	c.reset()
	if _, ok := c.get(addrN(0)); ok || c.len() != 0 {
		t.Error("reset kept entries")
	}
}

// TestLRUMatchesModel checks the linked list against a simple model over a
// long pseudo-random sequence.
func TestLRUMatchesModel(t *testing.T) {
	const capacity = 17
	c := newLRU(capacity)
	var order []int // most recent first
	touch := func(k int) {
		for i, v := range order {
			if v == k {
				order = append(order[:i], order[i+1:]...)
				break
			}
		}
		order = append([]int{k}, order...)
		if len(order) > capacity {
			order = order[:capacity]
		}
	}
	x := uint32(12345)
	for step := 0; step < 20000; step++ {
		x = x*1664525 + 1013904223
		k := int(x>>8) % 40
		if x&1 == 0 {
			c.put(addrN(k), &event.Geo{ASN: uint32(k)})
			touch(k)
		} else {
			_, ok := c.get(addrN(k))
			inModel := false
			for _, v := range order {
				inModel = inModel || v == k
			}
			if ok != inModel {
				t.Fatalf("step %d key %d: cache %v model %v", step, k, ok, inModel)
			}
			if ok {
				touch(k)
			}
		}
	}
}

func TestLRUAllocatesNothingWhenWarm(t *testing.T) {
	c := newLRU(1024)
	g := &event.Geo{}
	for i := 0; i < 4096; i++ {
		c.put(addrN(i), g)
	}
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		c.put(addrN(i%4096), g)
		c.get(addrN((i * 7) % 4096))
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per put+get", allocs)
	}
}
