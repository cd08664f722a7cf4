package ipstats

import (
	"testing"
	"unsafe"
)

func TestMakeTableLarge(t *testing.T) {
	// 8 MB: mapped apart from the heap on Linux.
	s := makeTable[uint64](1 << 20)
	if len(s) != 1<<20 {
		t.Fatalf("len %d, want %d", len(s), 1<<20)
	}
	for i := range s {
		if s[i] != 0 {
			t.Fatalf("element %d is %d, want 0", i, s[i])
		}
		s[i] = uint64(i) + 1
	}
	for i := range s {
		if s[i] != uint64(i)+1 {
			t.Fatalf("element %d is %d after writing %d", i, s[i], i+1)
		}
	}
	if !mapped(s) {
		t.Fatal("8 MB table not mapped apart from the heap")
	}
	if p := uintptr(unsafe.Pointer(&s[0])); p%hugePage != 0 {
		t.Errorf("mapped table at %#x is not aligned to a huge page", p)
	}
	freeTable(s)
	if mapped(s) {
		t.Error("table still registered after freeTable")
	}
	freeTable[uint64](nil) // no-op
}

func TestMakeTableSmall(t *testing.T) {
	s := makeTable[flowEntry](1024)
	if len(s) != 1024 || mapped(s) {
		t.Fatalf("small table: len %d, mapped %v; want 1024 on the heap", len(s), mapped(s))
	}
	freeTable(s)
}

func mapped[T any](s []T) bool {
	mappings.Lock()
	defer mappings.Unlock()
	_, ok := mappings.m[uintptr(unsafe.Pointer(&s[0]))]
	return ok
}

func TestSetGrowsIntoMappedTables(t *testing.T) {
	// 600,000 keys take the set to 2M slots (16 MB), through mapped
	// tables of 4 and 8 MB that each growth unmaps.
	s := newSet64(12345)
	const n = 600_000
	for k := uint64(1); k <= n; k++ {
		if added, there := s.insert(k*0x9e3779b9, n); !added || !there {
			t.Fatalf("key %d: added %v there %v", k, added, there)
		}
	}
	if !mapped(s.slots) {
		t.Errorf("%d slots not mapped", len(s.slots))
	}
	for k := uint64(1); k <= n; k++ {
		if added, there := s.insert(k*0x9e3779b9, n); added || !there {
			t.Fatalf("key %d again: added %v there %v", k, added, there)
		}
	}
	s.reset()
	if added, _ := s.insert(0x9e3779b9, n); !added {
		t.Error("key not added after reset")
	}
	freeTable(s.slots)
}
