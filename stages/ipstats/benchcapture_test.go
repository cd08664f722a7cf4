package ipstats

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/internal/benchdata"
)

// benchCapture returns the packets of the nfpipe-bench capture's shape
// at a fifth of its size (one interval holds all of it), generated once
// per test binary.
var benchCapture = sync.OnceValues(func() ([]event.PacketRec, error) {
	return benchdata.Packets(benchdata.Fifth)
})

// fullBenchCapture is the nfpipe-bench capture itself, at full size:
// 5,000,000 packets of 200,000 flows, so one interval holds 200,000
// tuples and the tables are as large as in that benchmark.
var fullBenchCapture = sync.OnceValues(func() ([]event.PacketRec, error) {
	return benchdata.Packets(benchdata.Full)
})

// BenchmarkBenchCapture feeds the generated capture through the table, a
// new interval per pass over it: the same mix of tuples, addresses and
// first packets per interval as the one interval of the nfpipe-bench
// capture.
func BenchmarkBenchCapture(b *testing.B) {
	ps, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	span := ps[len(ps)-1].TS - ps[0].TS + event.Time(20*time.Second)
	tb := newTable(int64(10*time.Second), 0, 1_000_000, 1_000_000, &collector{reuse: true})
	pass := func() {
		for i := range ps {
			tb.add(&ps[i])
		}
		for i := range ps {
			ps[i].TS += span
		}
	}
	pass() // grow the tables
	m := startMeter(b)
	for n := 0; n < b.N; n += len(ps) {
		pass()
	}
	m.stop()
}

// BenchmarkBenchCaptureBatch counts the generated captures the way the
// stage does, in batches of 256 packets.
// Each pass over a capture is counted by the same table, grown to the
// capture's size by a pass before the measurement, except in the cold
// cases, where every pass starts with a new table and so includes the
// tables' growth, as the stage's first interval does (the nfpipe-bench
// capture has nearly all of its packets in one interval). Size full is
// the nfpipe-bench capture at full size, whose tables exceed the
// processor's caches as they do in that benchmark; it takes a few
// seconds and about a gigabyte to generate, and is skipped with -short.
// In case full-busy, other work runs between batches as it does in the
// pipeline, where sessionize handles a batch between two of ipstats: it
// loads random cache lines of a buffer larger than the cache, and the
// thread CPU time it takes is left out of the result.
func BenchmarkBenchCaptureBatch(b *testing.B) {
	for _, c := range []struct {
		name    string
		capture func() ([]event.PacketRec, error)
		cold    bool
		busy    bool
	}{
		{"fifth", benchCapture, false, false},
		{"full", fullBenchCapture, false, false},
		{"full-cold", fullBenchCapture, true, false},
		{"full-busy", fullBenchCapture, false, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			if strings.HasPrefix(c.name, "full") && testing.Short() {
				b.Skip("full-size capture skipped in short mode")
			}
			ps, err := c.capture()
			if err != nil {
				b.Fatal(err)
			}
			newTb := func() *table {
				return newTable(int64(10*time.Second), 0, 1_000_000, 1_000_000, &collector{reuse: true})
			}
			tb := newTb()
			var other *otherWork
			if c.busy {
				other = newOtherWork()
			}
			pass := func() {
				if c.cold {
					tb.release()
					tb = newTb()
				}
				for rest := ps; len(rest) > 0; {
					n := min(len(rest), 256)
					tb.addBatch(rest[:n])
					rest = rest[n:]
					if other != nil {
						start := threadCPU()
						other.do()
						other.cpu += threadCPU() - start
					}
				}
				// The next pass opens a new interval at its first packet.
				tb.finish()
			}
			pass() // grow the tables
			// Scanning the generated packets must not overlap the
			// measurement.
			runtime.GC()
			m := startMeter(b)
			for n := 0; n < b.N; n += len(ps) {
				if other != nil {
					other.cpu = 0
				}
				pass()
				if other != nil {
					m.exclude(other.cpu)
				}
			}
			m.stop()
		})
	}
}

// otherWork stands for the stages that run between two batches of
// ipstats in the pipeline: it loads 1536 random cache lines (six for
// each of 256 packets) of a buffer larger than the processor's caches.
type otherWork struct {
	buf  []byte
	x    uint64
	sink byte
	cpu  time.Duration // time taken by do, summed by the caller
}

func newOtherWork() *otherWork {
	o := &otherWork{buf: make([]byte, 64<<20), x: 1}
	for i := range o.buf {
		o.buf[i] = byte(i) // fault every page in, each its own
	}
	return o
}

func (o *otherWork) do() {
	var acc byte
	x, mask := o.x, uint64(len(o.buf)-1)
	for range 1536 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		acc += o.buf[x&mask&^63]
	}
	o.x, o.sink = x, o.sink+acc
}
