package ipstats

import (
	"cmp"
	"slices"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// batchSize is the number of records per emitted batch: large enough to
// amortise the queue hand-off, small enough that a sink starts writing
// before a million-address interval has been converted.
const batchSize = 512

// emit sends the open interval's records: every address in first-seen
// order, or with top set the top addresses by total bytes, largest first.
func (t *table) emit() {
	n := len(t.recs)
	if n == 0 {
		return
	}
	t.cnt.intervals++
	var b *event.Batch
	put := func(r *ipRec) {
		if b == nil {
			b = t.out.NewBatch(event.IPStat)
		}
		b.IPStats = append(b.IPStats, event.IPStatRec{
			IP:         r.ip.netip(),
			Start:      event.Time(t.start),
			End:        event.Time(t.end),
			BytesIn:    r.bytesIn,
			BytesOut:   r.bytesOut,
			PacketsIn:  r.pktsIn,
			PacketsOut: r.pktsOut,
			Flows:      r.flows,
			Peers:      r.peers,
			DstPorts:   r.ports,
		})
		t.cnt.records++
		if len(b.IPStats) >= batchSize {
			t.out.Emit(b)
			b = nil
		}
	}
	if t.top <= 0 {
		for i := range t.recs {
			put(&t.recs[i])
		}
	} else {
		for _, i := range t.topN() {
			put(&t.recs[i])
		}
	}
	if b != nil {
		t.out.Emit(b)
	}
}

// ranksBelow orders records by total bytes, and equal totals by first
// seen, so the selection is deterministic.
func (t *table) ranksBelow(i, j uint32) bool {
	bi := t.recs[i].bytesIn + t.recs[i].bytesOut
	bj := t.recs[j].bytesIn + t.recs[j].bytesOut
	if bi != bj {
		return bi < bj
	}
	return i > j
}

// topN returns the slab indexes of the top records, best first. It keeps
// a min-heap of the best k seen so far: O(n log k) instead of sorting
// every address.
func (t *table) topN() []uint32 {
	k := min(t.top, len(t.recs))
	h := t.order[:0]
	for i := range uint32(len(t.recs)) {
		switch {
		case len(h) < k:
			h = append(h, i)
			t.siftUp(h, len(h)-1)
		case t.ranksBelow(h[0], i):
			h[0] = i
			t.siftDown(h, 0)
		}
	}
	slices.SortFunc(h, func(a, b uint32) int {
		switch {
		case t.ranksBelow(b, a):
			return -1
		case t.ranksBelow(a, b):
			return 1
		}
		return cmp.Compare(a, b)
	})
	t.order = h
	return h
}

func (t *table) siftUp(h []uint32, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !t.ranksBelow(h[i], h[parent]) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (t *table) siftDown(h []uint32, i int) {
	for {
		low := i
		if l := 2*i + 1; l < len(h) && t.ranksBelow(h[l], h[low]) {
			low = l
		}
		if r := 2*i + 2; r < len(h) && t.ranksBelow(h[r], h[low]) {
			low = r
		}
		if low == i {
			return
		}
		h[i], h[low] = h[low], h[i]
		i = low
	}
}
