package sessionize

import (
	"math/bits"
	"math/rand/v2"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// seeds parameterise the key hash. The index hashes with random seeds
// chosen per table, so crafted traffic cannot pile its keys into one
// probe run; flow ids hash with fixed seeds, so a replay gives every flow
// the same id.
type seeds [5]uint64

// idSeeds are the fixed seeds of flow ids (digits of pi).
var idSeeds = seeds{0x243f6a8885a308d3, 0x13198a2e03707344, 0xa4093822299f31d0, 0x082efa98ec4e6c89, 0x452821e638d01377}

func randomSeeds() seeds {
	var s seeds
	for i := range s {
		s[i] = rand.Uint64() | 1
	}
	return s
}

// hash is a wyhash-style hash of a key: two independent 64x64-bit
// multiplications fold the two addresses and a third mixes in the rest,
// so the dependency chain is short.
func (s *seeds) hash(k *flowKey) uint64 {
	rest := uint64(k.PortA) | uint64(k.PortB)<<16 | uint64(k.VLAN)<<32 | uint64(k.Proto)<<48 | uint64(k.Family)<<56
	// Each half is byte-swapped: the hash reads the address's bytes as
	// little-endian words, as it did when the key held them as bytes, so
	// flow ids stay what they were.
	a := mum(bits.ReverseBytes64(k.A.hi)^s[0], bits.ReverseBytes64(k.A.lo)^s[1])
	b := mum(bits.ReverseBytes64(k.B.hi)^s[2], bits.ReverseBytes64(k.B.lo)^s[3])
	return mum(a^rest, b^s[4])
}

// mum multiplies to 128 bits and folds the halves together.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// flowID derives a flow's id from its key and its first-seen time. The
// same flow gets the same id on every replay, and two workers never share
// a flow (sharding is per flow), so the id is unique across workers. Zero
// is reserved for "no flow".
func flowID(k *flowKey, first event.Time) uint64 {
	h := fmix(idSeeds.hash(k) ^ fmix(uint64(first)))
	if h == 0 {
		h = 1
	}
	return h
}

// fmix is MurmurHash3's 64-bit finaliser: every input bit affects every
// output bit.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
