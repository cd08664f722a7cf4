package gen

// schedule is a 4-ary min-heap of flows keyed by the time of their next
// frame. Four children of 16 bytes share a cache line, and the tree is
// half as deep as a binary one, which matters with a million flows open.
// The usual step replaces the root's key (the flow just written moves
// later) and sifts it down, so there is no interface boxing and no
// allocation.
type schedule []slotTime

type slotTime struct {
	t    int64 // ns since the start of the capture
	slot uint32
}

func (h schedule) less(i, j int) bool {
	// Ties break on the slot so the order never depends on heap history
	// beyond what the seed fixed.
	return h[i].t < h[j].t || h[i].t == h[j].t && h[i].slot < h[j].slot
}

func (h schedule) down(i int) {
	n := len(h)
	for {
		c := 4*i + 1
		if c >= n {
			return
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if h.less(k, m) {
				m = k
			}
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h schedule) init() {
	for i := (len(h) - 2) / 4; i >= 0; i-- {
		h.down(i)
	}
}

// popRoot removes the root and returns the shorter heap.
func (h schedule) popRoot() schedule {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	h.down(0)
	return h
}
