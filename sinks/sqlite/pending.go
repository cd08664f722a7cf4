package sqlite

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// rollupKey identifies an ip_stats row within one probe.
type rollupKey struct {
	res, bucket int64
	ip          string
}

// pending holds the rows converted from input batches until the writer
// takes them. Rollup increments for the same bucket are summed here, so a
// bucket costs one row per transaction however many intervals it got.
type pending struct {
	mu      sync.Mutex
	flows   []store.Flow
	stats   map[rollupKey]*store.IPStat
	alerts  []store.Alert
	max     int
	failing bool // the writer cannot write: drop instead of waiting
	closed  bool
	// newest packet time seen, for retention
	newest int64

	work  chan struct{} // a signal for the writer: rows or close
	space chan struct{} // a signal for the reader: rows were taken

	dropped                     *atomic.Uint64 // env.Stats().Dropped
	rowsDropped, updatesSkipped *atomic.Uint64
	gauge                       *atomic.Int64
}

func newPending(max int, st *pipeline.Stats) *pending {
	return &pending{
		stats:          map[rollupKey]*store.IPStat{},
		max:            max,
		work:           make(chan struct{}, 1),
		space:          make(chan struct{}, 1),
		dropped:        &st.Dropped,
		rowsDropped:    st.Counter("rows_dropped"),
		updatesSkipped: st.Counter("flow_updates_skipped"),
		gauge:          st.Gauge("pending_rows"),
	}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// rowsLocked counts buffered rows.
func (p *pending) rowsLocked() int { return len(p.flows) + len(p.stats) + len(p.alerts) }

// drop counts rows lost.
func (p *pending) drop(n int) {
	if n > 0 {
		p.dropped.Add(uint64(n))
		p.rowsDropped.Add(uint64(n))
	}
}

// add converts a batch into rows. When the buffer is full it waits for
// the writer while the writer is healthy (backpressure reaches the input
// queue, whose when_full decides), and drops the batch while the writer
// is failing. It reports how many rows were dropped.
func (p *pending) add(b *event.Batch, probe string, widths []time.Duration) int {
	n := b.Len()
	if b.Kind == event.IPStat {
		n *= len(widths)
	}
	if n == 0 {
		return 0
	}
	p.mu.Lock()
	for p.rowsLocked()+n > p.max && !p.closed {
		if p.failing {
			p.mu.Unlock()
			p.drop(n)
			return n
		}
		if p.rowsLocked() == 0 {
			break // a batch larger than the buffer still goes in whole
		}
		p.mu.Unlock()
		<-p.space
		p.mu.Lock()
	}
	switch b.Kind {
	case event.Flow:
		for i := range b.Flows {
			f := &b.Flows[i]
			if f.Event == event.FlowUpdate {
				p.updatesSkipped.Add(1)
				continue
			}
			p.flows = append(p.flows, store.FlowFromRecord(probe, f))
			p.newest = max(p.newest, int64(f.LastSeen))
		}
	case event.IPStat:
		var incs []store.IPStat
		for i := range b.IPStats {
			r := &b.IPStats[i]
			incs = store.AppendRollups(incs[:0], probe, widths, r)
			for j := range incs {
				inc := &incs[j]
				k := rollupKey{inc.Res, inc.Bucket, inc.IP}
				if have := p.stats[k]; have != nil {
					have.Add(inc)
				} else {
					c := *inc
					p.stats[k] = &c
				}
			}
			p.newest = max(p.newest, int64(r.Start)) // the end may lie past the last packet
		}
	case event.Alert:
		for i := range b.Alerts {
			a := &b.Alerts[i]
			p.alerts = append(p.alerts, store.AlertFromRecord(probe, a))
			p.newest = max(p.newest, int64(a.Time))
		}
	}
	p.gauge.Store(int64(p.rowsLocked()))
	ready := len(p.flows) > 0 || len(p.stats) > 0 || len(p.alerts) > 0
	p.mu.Unlock()
	if ready {
		notify(p.work)
	}
	return 0
}

// take moves up to batch flows and every other buffered row into r.
func (p *pending) take(r *store.Rows, batch int) {
	p.mu.Lock()
	n := min(batch, len(p.flows))
	r.Flows = append(r.Flows, p.flows[:n]...)
	rest := copy(p.flows, p.flows[n:])
	clear(p.flows[rest:])
	p.flows = p.flows[:rest]
	for _, s := range p.stats {
		r.IPStats = append(r.IPStats, *s)
	}
	clear(p.stats)
	r.Alerts = append(r.Alerts, p.alerts...)
	clear(p.alerts)
	p.alerts = p.alerts[:0]
	p.gauge.Store(int64(p.rowsLocked()))
	p.mu.Unlock()
	notify(p.space)
}

// size returns the number of buffered flows and of all rows.
func (p *pending) size() (flows, rows int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flows), p.rowsLocked()
}

// setFailing switches between waiting and dropping when full.
func (p *pending) setFailing(f bool) {
	p.mu.Lock()
	p.failing = f
	p.mu.Unlock()
	if f {
		notify(p.space) // a waiting reader re-checks and drops
	}
}

// close marks the end of input: the writer drains what is left.
func (p *pending) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	notify(p.work)
}

func (p *pending) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// newestPacket is the newest packet time seen, zero before any.
func (p *pending) newestPacket() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.newest == 0 {
		return time.Time{}
	}
	return time.Unix(0, p.newest).UTC()
}

// discard drops everything buffered (a forced stop).
func (p *pending) discard() {
	p.mu.Lock()
	n := p.rowsLocked()
	p.flows, p.alerts = nil, nil
	clear(p.stats)
	p.gauge.Store(0)
	p.mu.Unlock()
	p.drop(n)
}

// eventQueueSize bounds queued system events: they come a few per hour,
// so a full queue means the database has been down for long.
const eventQueueSize = 10000

// eventQueue buffers system events from the pipeline's subscriber
// callback, which must never block.
type eventQueue struct {
	mu      sync.Mutex
	evs     []store.Event
	max     int
	dropped int
}

func newEventQueue(max int) *eventQueue { return &eventQueue{max: max} }

func (q *eventQueue) add(e pipeline.SystemEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.evs) >= q.max {
		q.dropped++
		return
	}
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	q.evs = append(q.evs, store.Event{Time: t.UnixNano(), Kind: e.Kind, Component: e.Component, Message: e.Message})
}

// take moves the queued events into r and returns how many were dropped
// since the last take.
func (q *eventQueue) take(r *store.Rows) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	r.Events = append(r.Events, q.evs...)
	q.evs = q.evs[:0]
	d := q.dropped
	q.dropped = 0
	return d
}

func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.evs)
}
