package ipstats

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The large tables (the flow table and the distinct sets reach 4 to 8 MB
// each on a busy interval) are read at random, one line per lookup. In
// 4 KB pages every lookup also misses the TLB, and every page of a table
// that grows is a page fault at its first touch, which is slow in a
// virtual machine. Mapped apart from the Go heap on 2 MB boundaries and
// advised to use transparent huge pages, they take a few TLB entries and
// a fault per 2 MB. On the nfpipe-bench capture counted alone this took
// the stage from 70-81 to 63-73 CPU ns per packet with grown tables, and
// from 80-99 to 73-90 including the growth of the first interval
// (minimum-median of twelve runs each, alternating); inside the
// one-core nfpipe-bench pipeline, from a median of 165 to 149 ns per
// packet (five alternating runs on a loaded machine).

// hugePage is the size of a transparent huge page on amd64 and arm64.
const hugePage = 2 << 20

// hugeMin is the smallest table mapped apart from the heap: below it the
// tables fit in a few huge pages' worth of TLB entries anyway.
const hugeMin = 2 * hugePage

// mapping is a region mapped by makeTable.
type mapping struct {
	start  unsafe.Pointer
	length uintptr
}

// mappings holds the regions mapped by makeTable by the address of the
// table's first element, so that freeTable can unmap them. Tables grow
// rarely, so a locked map is cheap enough.
var mappings = struct {
	sync.Mutex
	m map[uintptr]mapping
}{m: map[uintptr]mapping{}}

// makeTable returns n zeroed elements. A table of hugeMin bytes or more
// is mapped apart from the Go heap (see above), so T must hold no
// pointers, and it must be released with freeTable. When mapping fails
// the table is allocated on the heap.
func makeTable[T any](n int) []T {
	var z T
	size := uintptr(n) * unsafe.Sizeof(z)
	if size < hugeMin {
		return make([]T, n)
	}
	// One huge page more than needed, so that the table can start on a
	// huge page boundary; the slack is never touched.
	length := (size+hugePage-1)/hugePage*hugePage + hugePage
	p, err := unix.MmapPtr(-1, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]T, n)
	}
	skip := (hugePage - uintptr(p)%hugePage) % hugePage
	data := unsafe.Add(p, skip)
	// Without huge pages the table still works, in small pages.
	_ = unix.Madvise(unsafe.Slice((*byte)(data), length-skip), unix.MADV_HUGEPAGE)
	mappings.Lock()
	mappings.m[uintptr(data)] = mapping{p, length}
	mappings.Unlock()
	return unsafe.Slice((*T)(data), n)
}

// freeTable releases a table from makeTable, which must not be used
// afterwards. A table allocated on the heap is left to the collector.
func freeTable[T any](s []T) {
	if len(s) == 0 {
		return
	}
	k := uintptr(unsafe.Pointer(&s[0]))
	mappings.Lock()
	m, ok := mappings.m[k]
	delete(mappings.m, k)
	mappings.Unlock()
	if ok {
		_ = unix.MunmapPtr(m.start, m.length)
	}
}
