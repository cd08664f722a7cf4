package sessionize

import (
	"math/rand/v2"
	"testing"
)

// TestIndexMatchesMap runs random inserts and removes against a Go map.
// Hashes are taken from a small range so that probe runs are long, wrap
// around the end of the slot array and are shifted back on removal.
func TestIndexMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s slab
	x := newIndex()
	ref := map[flowKey]uint32{}
	hashOf := func(k *flowKey) uint32 { return uint32(k.PortA)%64 + minIndexSlots - 32 }
	var keys []flowKey
	for op := 0; op < 200_000; op++ {
		if len(keys) > 0 && (r.IntN(2) == 0 || len(keys) > 600) {
			j := r.IntN(len(keys))
			k := keys[j]
			i := ref[k]
			x.remove(hashOf(&k), i)
			s.release(i)
			delete(ref, k)
			keys[j] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
		} else {
			k := flowKey{PortA: uint16(r.IntN(1 << 16)), PortB: uint16(op)}
			if _, dup := ref[k]; dup {
				continue
			}
			i := s.alloc()
			s.at(i).key = k
			x.insert(hashOf(&k), i)
			ref[k] = i
			keys = append(keys, k)
		}
		if op%1000 == 0 || op > 199_000 {
			for k, i := range ref {
				if got := x.find(&s, &k, hashOf(&k)); got != i {
					t.Fatalf("op %d: find %v = %d, want %d", op, k, got, i)
				}
			}
			missing := flowKey{PortA: 1, PortB: 65535, Proto: 99}
			if got := x.find(&s, &missing, hashOf(&missing)); got != 0 {
				t.Fatalf("op %d: found a key never inserted at %d", op, got)
			}
			if x.n != len(ref) {
				t.Fatalf("op %d: n %d, want %d", op, x.n, len(ref))
			}
		}
	}
}
