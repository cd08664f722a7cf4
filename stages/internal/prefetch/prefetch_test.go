package prefetch

import (
	"testing"
	"unsafe"
)

// TestLinesLeavesMemoryAlone prefetches every line of a buffer, and none,
// and checks nothing was written or moved.
func TestLinesLeavesMemoryAlone(t *testing.T) {
	buf := make([]byte, 64*1024)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var addrs []unsafe.Pointer
	for i := 0; i < len(buf); i += 64 {
		addrs = append(addrs, unsafe.Pointer(&buf[i]))
	}
	Lines(addrs)
	Lines(nil)
	for i := range buf {
		if buf[i] != byte(i*7) {
			t.Fatalf("byte %d changed", i)
		}
	}
}

func BenchmarkLines(b *testing.B) {
	buf := make([]byte, 64<<20)
	addrs := make([]unsafe.Pointer, 32)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range addrs {
			addrs[j] = unsafe.Pointer(&buf[((i*32+j)*4099*64)%len(buf)])
		}
		Lines(addrs)
	}
}
