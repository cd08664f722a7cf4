package sessionize

import (
	"runtime"
	"testing"
	"time"
)

// threadCPU measures the CPU time of the calling goroutine's thread, so
// that a benchmark on a machine shared with other work reports the cost
// of its own code rather than its share of the processor.
type threadCPU struct{ start time.Duration }

// startCPU locks the goroutine to its thread and starts measuring.
func startCPU() *threadCPU {
	runtime.LockOSThread()
	return &threadCPU{start: threadTime()}
}

// report stops measuring and adds the CPU time per operation to the
// benchmark's results, where the platform can measure it.
func (c *threadCPU) report(b *testing.B, unit string) {
	if d := c.stop(); d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/"+unit)
	}
}

// stop unlocks the thread and returns the CPU time since startCPU.
func (c *threadCPU) stop() time.Duration {
	d := threadTime() - c.start
	runtime.UnlockOSThread()
	return d
}
