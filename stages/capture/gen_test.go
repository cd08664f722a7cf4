package capture

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// genCapture writes n Ethernet frames of 60 to 1514 bytes, 10 µs
// apart, as pcap or pcapng; a pcapng file alternates between two
// interfaces.
func genCapture(t testing.TB, f format, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	frame := make([]byte, 1514)
	for i := range frame {
		frame[i] = byte(i)
	}
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	ci := func(i int) (gopacket.CaptureInfo, []byte) {
		size := 60 + (i*97)%1455
		return gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * 10 * time.Microsecond), CaptureLength: size, Length: size, InterfaceIndex: i % 2}, frame[:size]
	}
	switch f {
	case formatPcap:
		w := pcapgo.NewWriter(&buf)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			c, d := ci(i)
			if err := w.WritePacket(c, d); err != nil {
				t.Fatal(err)
			}
		}
	case formatPcapng:
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, SnapLength: 65535}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			c, d := ci(i)
			if err := w.WritePacket(c, d); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// fakeOut stands in for the pipeline: batches come from a real pool and
// go back to it as soon as they are emitted.
type fakeOut struct {
	pool   *event.Pool
	frames int
	paused atomic.Bool
	onEmit func(b *event.Batch)
}

func newFakeOut() *fakeOut { return &fakeOut{pool: event.NewPool(event.Raw)} }

func (o *fakeOut) NewBatch(k event.Kind) *event.Batch { return o.pool.Get() }

func (o *fakeOut) Emit(b *event.Batch) {
	o.frames += len(b.Frames)
	if o.onEmit != nil {
		o.onEmit(b)
	}
	b.Release()
}

func (o *fakeOut) Paused() bool { return o.paused.Load() }

func (o *fakeOut) WaitResumed(ctx context.Context) error {
	for o.paused.Load() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// testCounters are counters that belong to no pipeline.
func testCounters() counters {
	return counters{new(atomic.Uint64), new(atomic.Uint64), new(atomic.Uint64), new(atomic.Uint64), new(atomic.Uint64), new(atomic.Uint64)}
}
