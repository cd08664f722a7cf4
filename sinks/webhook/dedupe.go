package webhook

import "time"

// maxRemembered bounds the ids remembered for dedupe, whatever the
// window, so a flood of distinct alerts cannot grow memory without end.
const maxRemembered = 100_000

// deduper remembers the ids of recently queued alerts. Only the sink's
// Run goroutine uses it.
type deduper struct {
	window time.Duration
	seen   map[string]struct{}
	order  []seenID // oldest first, from head
	head   int
}

type seenID struct {
	id string
	at time.Time
}

func newDeduper(window time.Duration) *deduper {
	return &deduper{window: window, seen: map[string]struct{}{}}
}

// duplicate reports whether id was queued within the window, and
// remembers it if not. Alerts without an id are never duplicates.
func (d *deduper) duplicate(id string, now time.Time) bool {
	if d.window <= 0 || id == "" {
		return false
	}
	for d.head < len(d.order) && (now.Sub(d.order[d.head].at) >= d.window || len(d.seen) >= maxRemembered) {
		delete(d.seen, d.order[d.head].id)
		d.order[d.head] = seenID{}
		d.head++
	}
	if d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
	if _, ok := d.seen[id]; ok {
		return true
	}
	d.seen[id] = struct{}{}
	d.order = append(d.order, seenID{id: id, at: now})
	return false
}
