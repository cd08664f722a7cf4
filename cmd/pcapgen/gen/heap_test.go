package gen

import (
	"slices"
	"testing"
)

func TestScheduleOrder(t *testing.T) {
	r := newRNG(1)
	for _, n := range []int{1, 2, 5, 17, 1000} {
		h := make(schedule, n)
		for i := range h {
			h[i] = slotTime{t: int64(r.intn(50)), slot: uint32(i)}
		}
		h.init()
		var got []slotTime
		for steps := 0; len(h) > 0; steps++ {
			got = append(got, h[0])
			if steps%3 == 0 { // move the root later, as Next does
				h[0].t += int64(r.intn(40))
				h.down(0)
				continue
			}
			h = h.popRoot()
		}
		if !slices.IsSortedFunc(got, func(a, b slotTime) int {
			switch {
			case a.t < b.t:
				return -1
			case a.t > b.t:
				return 1
			}
			return 0
		}) {
			t.Fatalf("n=%d: heap yielded times out of order: %v", n, got)
		}
	}
}
