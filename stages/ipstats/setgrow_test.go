package ipstats

import (
	"testing"

	"github.com/nfpipe/nfpipe/stages/internal/hugemem"
)

func TestSetGrowsThroughLargeTables(t *testing.T) {
	// 600,000 keys take the set to 2M slots (16 MB), through tables of
	// 2, 4 and 8 MB mapped apart from the heap, each unmapped when the
	// set grows out of it.
	s := newSet64(12345)
	const n = 600_000
	for k := uint64(1); k <= n; k++ {
		if added, there := s.insert(k*0x9e3779b9, n); !added || !there {
			t.Fatalf("key %d: added %v there %v", k, added, there)
		}
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
	hugemem.Free(s.slots)
}
