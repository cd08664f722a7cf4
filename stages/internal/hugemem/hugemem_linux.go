package hugemem

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HugePage is the size of a transparent huge page on amd64 and arm64.
const HugePage = 2 << 20

// Min is the smallest table Make maps apart from the heap: smaller ones
// would waste most of a huge page.
const Min = HugePage

// mapping is a region mapped by Make: length bytes from start, of which
// used were populated.
type mapping struct {
	start        unsafe.Pointer
	length, used uintptr
}

// mappings holds the regions mapped by Make by the address of the
// table's first element, so that Free can unmap them. Tables are made
// rarely, so a locked map is cheap enough.
var mappings = struct {
	sync.Mutex
	m    map[uintptr]mapping
	used uint64 // populated bytes of all current mappings
}{m: map[uintptr]mapping{}}

// Populated returns the bytes of memory Make currently holds apart from
// the Go heap, populated and so resident: what the heap statistics of
// runtime.MemStats do not count.
func Populated() uint64 {
	mappings.Lock()
	defer mappings.Unlock()
	return mappings.used
}

// Make returns n zeroed elements. A table of Min bytes or more is mapped
// apart from the Go heap (see the package doc), so T must hold no
// pointers, and it must be released with Free. When mapping fails the
// table is allocated on the heap.
func Make[T any](n int) []T {
	var z T
	size := uintptr(n) * unsafe.Sizeof(z)
	if size < Min {
		return make([]T, n)
	}
	// One huge page more than needed, so that the table can start on a
	// huge page boundary; the slack is never touched.
	used := (size + HugePage - 1) / HugePage * HugePage
	length := used + HugePage
	p, err := unix.MmapPtr(-1, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]T, n)
	}
	skip := (HugePage - uintptr(p)%HugePage) % HugePage
	data := unsafe.Add(p, skip)
	region := unsafe.Slice((*byte)(data), used)
	// Both are hints: without huge pages the table works in small pages,
	// and a kernel older than 5.14 (no MADV_POPULATE_WRITE) faults the
	// pages in as they are first touched.
	_ = unix.Madvise(region, unix.MADV_HUGEPAGE)
	_ = unix.Madvise(region, unix.MADV_POPULATE_WRITE)
	mappings.Lock()
	mappings.m[uintptr(data)] = mapping{p, length, used}
	mappings.used += uint64(used)
	mappings.Unlock()
	return unsafe.Slice((*T)(data), n)
}

// Free releases a table from Make, which must not be used afterwards. A
// table allocated on the heap is left to the collector.
func Free[T any](s []T) {
	if len(s) == 0 {
		return
	}
	k := uintptr(unsafe.Pointer(&s[0]))
	mappings.Lock()
	m, ok := mappings.m[k]
	if ok {
		delete(mappings.m, k)
		mappings.used -= uint64(m.used)
	}
	mappings.Unlock()
	if ok {
		_ = unix.MunmapPtr(m.start, m.length)
	}
}

// mapped reports whether s was mapped by Make and not yet freed.
func mapped[T any](s []T) bool {
	if len(s) == 0 {
		return false
	}
	mappings.Lock()
	defer mappings.Unlock()
	_, ok := mappings.m[uintptr(unsafe.Pointer(&s[0]))]
	return ok
}
