package event

import (
	"sync"
	"sync/atomic"
)

// Batch is the unit that travels over pipeline edges: hundreds of events
// of one kind. A batch is shared read-only between the consumers of a
// fan-out and returned to its pool when the last holder releases it, so
// the packet path allocates nothing in steady state.
type Batch struct {
	Kind Kind
	// Shard routes the batch to one instance of a sharded stage. A live
	// capture sets it to the worker that read the packets, so every
	// packet of a flow (the kernel's fanout hash is symmetric) reaches
	// the same decode and sessionize shard.
	Shard   uint16
	Frames  []Frame
	Packets []PacketRec
	Flows   []FlowRec
	IPStats []IPStatRec
	Alerts  []AlertRec

	// Arena backs Frame.Data for raw batches.
	Arena []byte

	refs atomic.Int32
	pool *Pool
}

// Len returns the number of events in the batch.
func (b *Batch) Len() int {
	switch b.Kind {
	case Raw:
		return len(b.Frames)
	case Packet:
		return len(b.Packets)
	case Flow:
		return len(b.Flows)
	case IPStat:
		return len(b.IPStats)
	case Alert:
		return len(b.Alerts)
	}
	return 0
}

// AddFrame appends a frame, copying data into the batch's arena.
func (b *Batch) AddFrame(f Frame, data []byte) {
	start := len(b.Arena)
	if cap(b.Arena)-start < len(data) {
		// Grow the arena; frames already added keep pointing at the old
		// one, which stays alive through their slices.
		n := make([]byte, start, 2*cap(b.Arena)+len(data))
		copy(n, b.Arena)
		b.Arena = n
	}
	b.Arena = append(b.Arena, data...)
	f.Data = b.Arena[start:len(b.Arena):len(b.Arena)]
	b.Frames = append(b.Frames, f)
}

// Retain adds n holders. The runtime calls it once per consumer before a
// fan-out.
func (b *Batch) Retain(n int32) { b.refs.Add(n) }

// Release drops one holder; the last one returns the batch to its pool.
func (b *Batch) Release() {
	if b.refs.Add(-1) == 0 && b.pool != nil {
		b.pool.put(b)
	}
}

func (b *Batch) reset() {
	b.Frames = b.Frames[:0]
	b.Packets = b.Packets[:0]
	clear(b.Flows) // drop references to tags, attrs, geo
	b.Flows = b.Flows[:0]
	b.IPStats = b.IPStats[:0]
	clear(b.Alerts)
	b.Alerts = b.Alerts[:0]
	b.Arena = b.Arena[:0]
	b.Shard = 0
}

// maxFree bounds the batches a pool keeps for reuse. A pool holds at
// most as many as were in use at once (queues full), which is far fewer
// in any ordinary pipeline; the bound only caps what a pathological
// configuration could make it keep.
const maxFree = 4096

// Pool recycles batches of one kind. It is a free list rather than a
// sync.Pool: a sync.Pool is emptied by every garbage collection, and each
// batch then made anew grows its event slices (and a raw batch its arena)
// again, which in a long capture meant a steady trickle of allocations
// on the packet path. Released batches keep their capacity and the most
// recently released is handed out first, while it is still in cache.
type Pool struct {
	kind Kind
	mu   sync.Mutex
	free []*Batch
}

// NewPool returns a pool of batches of the given kind.
func NewPool(kind Kind) *Pool {
	return &Pool{kind: kind}
}

// Get returns an empty batch with one holder (the caller).
func (p *Pool) Get() *Batch {
	var b *Batch
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if b == nil {
		b = &Batch{Kind: p.kind, pool: p}
	}
	b.refs.Store(1)
	return b
}

func (p *Pool) put(b *Batch) {
	b.reset()
	p.mu.Lock()
	if len(p.free) < maxFree {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// NewBatch returns a batch that belongs to no pool, for tests and
// producers off the hot path.
func NewBatch(kind Kind) *Batch {
	b := &Batch{Kind: kind}
	b.refs.Store(1)
	return b
}
