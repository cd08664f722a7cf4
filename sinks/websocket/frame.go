package websocket

import (
	"sync"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// maxKeep bounds the buffers a pooled frame keeps, so one huge batch
// does not pin its memory for the life of the pipeline.
const maxKeep = 1 << 20

// frame is one input batch encoded once and shared read-only by every
// client that receives it: buf is a JSON array of the batch's events, so
// it is itself the message of an array client with no filter, and event
// i is buf[offs[i] : offs[i+1]-1]. Clients with a filter need the typed
// view of each event; the first of them builds it for all.
type frame struct {
	kind  event.Kind
	batch *event.Batch // held until the frame is released
	buf   []byte
	offs  []int
	refs  atomic.Int32

	envOnce sync.Once
	envs    []filterEnv
}

var framePool = sync.Pool{New: func() any { return new(frame) }}

// newFrame encodes b and takes a hold on it; the caller holds the frame.
func newFrame(b *event.Batch) *frame {
	f := framePool.Get().(*frame)
	f.kind = b.Kind
	b.Retain(1)
	f.batch = b
	f.buf = append(f.buf[:0], '[')
	f.offs = f.offs[:0]
	switch b.Kind {
	case event.Flow:
		for i := range b.Flows {
			f.offs = append(f.offs, len(f.buf))
			f.buf = append(b.Flows[i].AppendJSON(f.buf), ',')
		}
	case event.IPStat:
		for i := range b.IPStats {
			f.offs = append(f.offs, len(f.buf))
			f.buf = append(b.IPStats[i].AppendJSON(f.buf), ',')
		}
	case event.Alert:
		for i := range b.Alerts {
			f.offs = append(f.offs, len(f.buf))
			f.buf = append(b.Alerts[i].AppendJSON(f.buf), ',')
		}
	}
	if len(f.offs) > 0 {
		f.buf[len(f.buf)-1] = ']'
	} else {
		f.buf = append(f.buf, ']')
	}
	f.offs = append(f.offs, len(f.buf))
	f.refs.Store(1)
	return f
}

// len is the number of events.
func (f *frame) len() int { return len(f.offs) - 1 }

// event is the JSON of event i.
func (f *frame) event(i int) []byte { return f.buf[f.offs[i] : f.offs[i+1]-1] }

// env is the filter view of event i, built on first use.
func (f *frame) env(i int) *filterEnv {
	f.envOnce.Do(func() { f.envs = fillEnvs(f.batch, f.envs) })
	return &f.envs[i]
}

// retain adds a holder (a client queue).
func (f *frame) retain() { f.refs.Add(1) }

// release drops a holder; the last one gives the batch back and pools the
// frame.
func (f *frame) release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	f.batch.Release()
	f.batch = nil
	clear(f.envs) // drop references to the batch's maps and slices
	f.envs = f.envs[:0]
	f.envOnce = sync.Once{}
	if cap(f.buf) > maxKeep {
		f.buf, f.offs, f.envs = nil, nil, nil
	}
	framePool.Put(f)
}
