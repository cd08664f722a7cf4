package capture

import (
	"bytes"
	"context"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// recycleOut hands out one batch again and again, emptied, which is what
// the pipeline's pool does in steady state, minus sync.Pool's exposure
// to garbage collections that would make allocation counts noisy.
type recycleOut struct {
	b      *event.Batch
	frames int
}

func (o *recycleOut) NewBatch(event.Kind) *event.Batch {
	if o.b == nil {
		o.b = event.NewBatch(event.Raw)
	}
	o.b.Frames, o.b.Arena = o.b.Frames[:0], o.b.Arena[:0]
	return o.b
}

func (o *recycleOut) Emit(b *event.Batch)               { o.frames += len(b.Frames) }
func (o *recycleOut) Paused() bool                      { return false }
func (o *recycleOut) WaitResumed(context.Context) error { return nil }

// TestNoAllocationsPerFrame replays in-memory captures of 2,000 and
// 20,000 frames through the replay loop: the larger one must not
// allocate more, so reading, batching and emitting a frame allocates
// nothing (opening a stream allocates its buffers once).
func TestNoAllocationsPerFrame(t *testing.T) {
	for _, f := range []format{formatPcap, formatPcapng} {
		t.Run(f.String(), func(t *testing.T) {
			out := &recycleOut{}
			allocs := func(n int) float64 {
				data := genCapture(t, f, n)
				return testing.AllocsPerRun(5, func() {
					s, err := openStream(bytes.NewReader(data))
					if err != nil {
						t.Fatal(err)
					}
					out.frames = 0
					rp := &replayer{out: out, c: testCounters(), size: 256}
					res := rp.pass(context.Background(), s, 0)
					rp.flush()
					if out.frames != n || res.err == nil {
						t.Fatalf("replayed %d of %d frames (%v)", out.frames, n, res.err)
					}
				})
			}
			small, large := allocs(2000), allocs(20000)
			t.Logf("allocations per pass: %v for 2,000 frames, %v for 20,000", small, large)
			if large > small+1 {
				t.Errorf("18,000 more frames cost %v more allocations", large-small)
			}
		})
	}
}
