package webhook

import (
	"context"
	"sync"
	"time"
)

// item is one alert waiting for delivery: its body form and its template
// view, built when it was queued, so nothing refers to the input batch.
type item struct {
	id     string
	json   []byte
	view   Alert
	queued time.Time
}

// queue is the bounded FIFO between the pipeline side of the sink (push)
// and the delivery goroutine (take). push never blocks: when the queue
// is full it gives back the alert to drop.
type queue struct {
	mu         sync.Mutex
	ring       []*item
	head, n    int
	dropOldest bool
	notify     chan struct{} // a token when something was pushed
}

func newQueue(size int, dropOldest bool) *queue {
	return &queue{ring: make([]*item, size), dropOldest: dropOldest, notify: make(chan struct{}, 1)}
}

// push adds it and returns the item dropped to make room, or nil.
func (q *queue) push(it *item) (dropped *item) {
	q.mu.Lock()
	if q.n == len(q.ring) {
		if !q.dropOldest {
			q.mu.Unlock()
			return it
		}
		dropped = q.ring[q.head]
		q.ring[q.head] = nil
		q.head = (q.head + 1) % len(q.ring)
		q.n--
	}
	q.ring[(q.head+q.n)%len(q.ring)] = it
	q.n++
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return dropped
}

// len is the number of queued items.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// popLocked removes up to max items from the head.
func (q *queue) popLocked(max int) []*item {
	k := min(max, q.n)
	out := make([]*item, k)
	for i := range out {
		out[i] = q.ring[q.head]
		q.ring[q.head] = nil
		q.head = (q.head + 1) % len(q.ring)
	}
	q.n -= k
	return out
}

// take waits for the next request's items: max of them, or fewer once
// the oldest has waited wait, or whatever is queued once draining is
// closed. It returns nil when ctx ends, or when draining is closed and
// the queue is empty.
func (q *queue) take(ctx context.Context, draining <-chan struct{}, max int, wait time.Duration) []*item {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		drain := isClosed(draining)
		q.mu.Lock()
		var due time.Duration
		if q.n > 0 {
			due = wait - time.Since(q.ring[q.head].queued)
			if q.n >= max || drain || due <= 0 {
				out := q.popLocked(max)
				q.mu.Unlock()
				return out
			}
		}
		empty := q.n == 0
		q.mu.Unlock()
		if empty && drain {
			return nil
		}
		var fire <-chan time.Time
		if !empty {
			if timer == nil {
				timer = time.NewTimer(due)
			} else {
				timer.Reset(due)
			}
			fire = timer.C
		}
		select {
		case <-q.notify:
		case <-fire:
		case <-ctx.Done():
			return nil
		case <-draining:
		}
	}
}

// drainAll empties the queue and returns what it held.
func (q *queue) drainAll() []*item {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.popLocked(q.n)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
