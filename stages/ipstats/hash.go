package ipstats

import (
	"math/bits"
	"math/rand/v2"
)

// seeds parameterise the hashes of a table's indexes. They are random
// per table, so crafted traffic cannot pile its keys into one probe run
// of the open-addressing tables.
type seeds [6]uint64

func randomSeeds() seeds {
	var s seeds
	for i := range s {
		s[i] = rand.Uint64() | 1
	}
	return s
}

// mum multiplies to 128 bits and folds the halves together (wyhash's
// mixing step): every input bit reaches the middle output bits.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// flowHash hashes a direction-less 5-tuple: two independent
// multiplications fold the two addresses and a third mixes in the rest,
// so the dependency chain is short.
func (s *seeds) flowHash(a, b addr, key uint64) uint64 {
	x := mum(a.hi^s[0], a.lo^s[1])
	y := mum(b.hi^s[2], b.lo^s[3])
	return mum(x^key, y^s[4])
}

// addrHash hashes an address.
func (s *seeds) addrHash(a addr) uint64 {
	return mum(a.hi^s[0], a.lo^s[5])
}
