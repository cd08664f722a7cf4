//go:build !unix

package decode

import "testing"

// cpuTimer is a no-op where process CPU time is not available.
type cpuTimer struct {
	b     *testing.B
	perOp float64
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{b: b}
}

func (c *cpuTimer) stop() { c.b.StopTimer() }
