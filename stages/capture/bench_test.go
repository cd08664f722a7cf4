package capture

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// BenchmarkFileSource replays a generated 10,000-frame file in a loop at
// max speed through the whole source (file reader, loop, batching into
// pooled batches, counters); one op is one frame, so ns/op is ns per
// frame and allocs/op is allocations per frame.
func BenchmarkFileSource(b *testing.B) {
	for _, f := range []format{formatPcap, formatPcapng} {
		b.Run(f.String(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench."+f.String())
			if err := os.WriteFile(path, genCapture(b, f, 10000), 0o644); err != nil {
				b.Fatal(err)
			}
			s := &source{path: path, loop: true, progress: "never", batchSize: 256, stderr: io.Discard}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := newFakeOut()
			out.onEmit = func(*event.Batch) {
				if out.frames >= b.N {
					cancel()
				}
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if err := s.replay(ctx, out, log, testCounters()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(out.frames), "ns/packet")
		})
	}
}
