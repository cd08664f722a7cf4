package pipeline

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Env is a running component's handle on the pipeline: its input, its
// outputs, batch pools, counters and the pause switch of sources.
type Env struct {
	name  string
	log   *slog.Logger
	in    chan *event.Batch
	stats *Stats
	outs  map[string][]*edge // output name ("" = default) to consumers
	pools *pools
	ctl   *controller
	hard  context.Context // cancelled only on a forced stop
	shard int             // this instance's shard, -1 when not sharded
	cur   uint16          // shard of the input batch being processed
}

// Name is the component's name in the pipeline.
func (e *Env) Name() string { return e.name }

// Logger is the component's logger.
func (e *Env) Logger() *slog.Logger { return e.log }

// Stats are the component's counters.
func (e *Env) Stats() *Stats { return e.stats }

// Batches yields input batches until every upstream component has
// finished and the queue is drained. Each batch is released when the loop
// body returns: a component that keeps events past that must copy them,
// and one that forwards the same batch must Retain it first. Input
// batches are shared with other consumers: never modify them.
func (e *Env) Batches() iter.Seq[*event.Batch] {
	return func(yield func(*event.Batch) bool) {
		if e.in == nil {
			return
		}
		for b := range e.in {
			e.stats.In.Add(uint64(b.Len()))
			e.cur = b.Shard
			start := time.Now()
			cont := yield(b)
			e.stats.AddBusy(time.Since(start))
			b.Release()
			if !cont {
				// Drain what is left so upstream never blocks on us.
				for b := range e.in {
					b.Release()
				}
				return
			}
		}
	}
}

// Input returns the raw input channel for components that need to select
// on it together with timers. Such components must count nothing (the
// runtime does not) and must Release every batch; prefer Batches.
func (e *Env) Input() <-chan *event.Batch { return e.in }

// Received counts events taken from Input.
func (e *Env) Received(b *event.Batch) { e.stats.In.Add(uint64(b.Len())) }

// NewBatch returns an empty batch from the pipeline's pool. It carries the
// shard of the input batch being processed (or this instance's shard), so
// a flow's packets stay on one shard all the way down the pipeline.
func (e *Env) NewBatch(k event.Kind) *event.Batch {
	b := e.pools.get(k)
	b.Shard = e.cur
	if e.shard >= 0 {
		b.Shard = uint16(e.shard)
	}
	return b
}

// Shard is this instance's index when the stage runs with shards: N, else 0.
func (e *Env) Shard() int { return max(e.shard, 0) }

// Emit sends a batch to the default output and gives up the caller's
// hold on it. Empty batches are released without being sent.
func (e *Env) Emit(b *event.Batch) { e.EmitTo("", b) }

// EmitTo sends a batch to a named output (declared in the spec).
func (e *Env) EmitTo(output string, b *event.Batch) {
	n := b.Len()
	edges := e.outs[output]
	if n == 0 || len(edges) == 0 {
		b.Release()
		return
	}
	e.stats.Out.Add(uint64(n))
	b.Retain(int32(len(edges)))
	for _, ed := range edges {
		ed.send(e.hard, b)
	}
	b.Release()
}

// HasOutput reports whether anything consumes the named output, so a
// stage can skip work nobody reads.
func (e *Env) HasOutput(output string) bool { return len(e.outs[output]) > 0 }

// Paused reports whether the sources are paused (stop-monitoring).
func (e *Env) Paused() bool { return e.ctl.Paused() }

// WaitResumed blocks while the pipeline is paused. It returns ctx's error
// if ctx ends first.
func (e *Env) WaitResumed(ctx context.Context) error { return e.ctl.waitResumed(ctx) }

// edge is one consumer's queue as seen by a producer.
type edge struct {
	to       *node
	accepts  event.Kinds
	dropNew  bool
	consumer *Stats
}

func (ed *edge) send(hard context.Context, b *event.Batch) {
	if !ed.accepts.Has(b.Kind) {
		b.Release()
		return
	}
	ch := ed.to.ins[int(b.Shard)%len(ed.to.ins)]
	if ed.dropNew {
		select {
		case ch <- b:
		default:
			ed.consumer.Dropped.Add(uint64(b.Len()))
			b.Release()
		}
		return
	}
	select {
	case ch <- b:
	case <-hard.Done():
		b.Release()
	}
}

type pools [8]*event.Pool

func newPools() *pools {
	var p pools
	for k := event.Raw; k <= event.Alert; k++ {
		p[k] = event.NewPool(k)
	}
	return &p
}

func (p *pools) get(k event.Kind) *event.Batch { return p[k].Get() }
