package sessionize

import (
	"sync"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/internal/benchdata"
)

// benchCapture returns the packets of the nfpipe-bench capture's shape
// at a fifth of its size, generated once per test binary.
var benchCapture = sync.OnceValues(func() ([]event.PacketRec, error) {
	return benchdata.Packets(benchdata.Fifth)
})

// BenchmarkBenchCapture feeds the generated capture through AddBatch in
// batches of 256, one call per batch as the stage makes, pass after
// pass; each pass starts later than the last flow's idle timeout, so its
// first packet ends the flows of the pass before, and the table runs at
// the bench's size.
func BenchmarkBenchCapture(b *testing.B) {
	ps, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	d := &discard{}
	tb := NewTable(DefaultConfig(), d.emit)
	span := ps[len(ps)-1].TS - ps[0].TS + event.Time(DefaultConfig().IdleTimeout+time.Minute)
	pass := func() {
		for i := 0; i < len(ps); i += 256 {
			tb.AddBatch(ps[i:min(i+256, len(ps))])
		}
		for i := range ps {
			ps[i].TS += span
		}
	}
	pass() // grow the table
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for n := 0; n < b.N; n += len(ps) {
		pass()
	}
	cpu.report(b, "packet")
}
