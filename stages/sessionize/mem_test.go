package sessionize

import (
	"testing"
	"unsafe"
)

// maxBytesPerFlow is the memory budget of a flow, table overhead
// included.
const maxBytesPerFlow = 256

func TestMemoryPerFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a million flows")
	}
	perFlow := memoryPerFlow(1_000_000)
	t.Logf("%.1f bytes per flow with 1,000,000 flows (slab entry %d bytes)", perFlow, unsafe.Sizeof(entry{}))
	if perFlow > maxBytesPerFlow {
		t.Errorf("%.1f bytes per flow, budget %d", perFlow, maxBytesPerFlow)
	}
}
