package hugemem

import (
	"testing"
	"unsafe"
)

func TestMakeLarge(t *testing.T) {
	before := Populated()
	// 8 MB: mapped apart from the heap.
	s := Make[uint64](1 << 20)
	if got := Populated() - before; got != 8<<20 {
		t.Errorf("Populated grew by %d, want %d", got, 8<<20)
	}
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
	if p := uintptr(unsafe.Pointer(&s[0])); p%HugePage != 0 {
		t.Errorf("mapped table at %#x is not aligned to a huge page", p)
	}
	Free(s)
	if mapped(s) {
		t.Error("table still registered after Free")
	}
	if got := Populated(); got != before {
		t.Errorf("Populated is %d after Free, want %d", got, before)
	}
	Free[uint64](nil) // no-op
}

func TestMakeSmall(t *testing.T) {
	s := Make[[16]byte](1024)
	if len(s) != 1024 || mapped(s) {
		t.Fatalf("small table: len %d, mapped %v; want 1024 on the heap", len(s), mapped(s))
	}
	Free(s)
}

// TestMakeIsPopulated checks that a mapped table is resident before it
// is touched: its pages were populated by Make, not faulted in later.
func TestMakeIsPopulated(t *testing.T) {
	s := Make[byte](8 << 20)
	defer Free(s)
	vec := make([]byte, len(s)/4096)
	if err := mincore(s, vec); err != nil {
		t.Skipf("mincore: %v", err)
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	if resident != len(vec) {
		t.Errorf("%d of %d pages resident before the first touch", resident, len(vec))
	}
}
