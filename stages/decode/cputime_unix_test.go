//go:build unix

package decode

import (
	"syscall"
	"testing"
	"time"
)

// cpuTimer reports a benchmark's CPU time per operation as "cpu-ns/op"
// beside the wall-clock ns/op. On a shared machine the wall clock also
// counts the time other processes hold the cores; CPU time does not.
type cpuTimer struct {
	b     *testing.B
	start time.Duration
	perOp float64
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{b: b, start: processCPU()}
}

func (c *cpuTimer) stop() {
	c.b.StopTimer()
	c.perOp = float64((processCPU() - c.start).Nanoseconds()) / float64(c.b.N)
	c.b.ReportMetric(c.perOp, "cpu-ns/op")
}

// processCPU is the user and system time of the whole process, which
// includes the garbage collector: a benchmark that allocates pays for it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
