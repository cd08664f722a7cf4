package filter

import "math"

// windowBuckets is how many slices a window is cut into: a window of 60s
// slides in steps of 5s. More buckets slide more smoothly and cost more
// memory per key (each bucket is 32 bytes).
const windowBuckets = 12

// aggregate is what a windowed rule compares with its threshold.
type aggregate uint8

const (
	aggCount aggregate = iota + 1
	aggSum
	aggDistinct
)

// bucket holds one slice of a window. dcount counts the distinct values
// whose latest sighting falls in this slice, so a value seen again moves
// from its old bucket to the new one and the window's distinct count is
// the sum over live buckets.
type bucket struct {
	idx    int64 // which slice of packet time: time / bucket width
	count  uint64
	sum    float64
	dcount uint32
}

const noBucket = math.MinInt64

// window is a sliding window over packet time for one key.
type window struct {
	ring     [windowBuckets]bucket
	head     int64              // newest slice started, noBucket when empty
	distinct map[stateKey]int64 // value -> slice of its latest sighting
}

func (w *window) reset() {
	for i := range w.ring {
		w.ring[i] = bucket{idx: noBucket}
	}
	w.head = noBucket
	clear(w.distinct)
}

func slot(idx int64) int {
	return int(((idx % windowBuckets) + windowBuckets) % windowBuckets)
}

// advance starts every slice up to idx, forgetting those that fall out.
func (w *window) advance(idx int64) {
	if idx <= w.head {
		return
	}
	from := w.head + 1
	if w.head == noBucket || idx-from >= windowBuckets {
		from = idx - windowBuckets + 1
	}
	for i := from; i <= idx; i++ {
		w.ring[slot(i)] = bucket{idx: i}
	}
	w.head = idx
}

// add counts a record of slice idx, which must be live (within the
// window ending at w.head). With a distinct value v it also records v's
// sighting; it reports false when the value could not be tracked because
// the key already holds maxValues values.
func (w *window) add(idx int64, amount float64, v *stateKey, maxValues int) bool {
	b := &w.ring[slot(idx)]
	b.count++
	b.sum += amount
	if v == nil {
		return true
	}
	if last, seen := w.distinct[*v]; seen {
		if last >= idx {
			return true // already counted in this or a newer slice
		}
		if old := &w.ring[slot(last)]; old.idx == last && old.dcount > 0 {
			old.dcount--
		}
	} else if len(w.distinct) >= maxValues {
		return false
	}
	if w.distinct == nil {
		w.distinct = make(map[stateKey]int64)
	}
	w.distinct[*v] = idx
	b.dcount++
	return true
}

// value returns the aggregate over the window that ends with slice now.
func (w *window) value(now int64, agg aggregate) float64 {
	lo := now - windowBuckets + 1
	var count uint64
	var sum float64
	var distinct uint32
	for i := range w.ring {
		b := &w.ring[i]
		if b.idx < lo || b.idx > now {
			continue
		}
		count += b.count
		sum += b.sum
		distinct += b.dcount
	}
	switch agg {
	case aggSum:
		return sum
	case aggDistinct:
		return float64(distinct)
	}
	return float64(count)
}

// live reports whether any record of the window ending at now is left.
func (w *window) live(now int64) bool {
	lo := now - windowBuckets + 1
	for i := range w.ring {
		if b := &w.ring[i]; b.idx >= lo && b.idx <= now && b.count > 0 {
			return true
		}
	}
	return false
}

// prune forgets distinct values not seen within the window ending at
// now, once they outnumber the live ones; values are otherwise forgotten
// lazily, when their slice is reused.
func (w *window) prune(now int64) {
	live := int(w.value(now, aggDistinct))
	if len(w.distinct) <= 2*live+64 {
		return
	}
	lo := now - windowBuckets + 1
	for v, last := range w.distinct {
		if last < lo || w.ring[slot(last)].idx != last {
			delete(w.distinct, v)
		}
	}
}
