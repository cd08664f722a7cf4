package ipstats

import "math/bits"

// cacheBits sizes the flow cache: 4096 entries of 48 bytes (192 KiB) stay
// in L2 and cover the flows active within a few thousand packets, which is
// where packet trains of the same flow repeat.
const cacheBits = 12

// cacheEntry remembers, for the open interval, that a directed 5-tuple
// has been counted in the distinct sets and where both of its addresses
// are in the slab. A hit lets a packet update its two records without a
// map lookup.
type cacheEntry struct {
	src, dst addr
	// meta packs the generation (bits 41-63), the later-fragment mark
	// (bit 40), the protocol (32-39) and the ports (0-31). An entry from
	// an earlier interval differs in its generation and never matches.
	meta   uint64
	si, di uint32
}

// flowCache is direct-mapped: a colliding tuple simply replaces the entry.
type flowCache [1 << cacheBits]cacheEntry

// cacheSlot hashes a directed 5-tuple to a cache slot. Multiplying by an
// odd constant and taking the top bits mixes every input bit into the
// index; the rotations keep the two directions of a flow (and the high
// and low halves of the addresses) from cancelling out.
func cacheSlot(src, dst addr, key uint64) uint64 {
	h := src.lo ^ bits.RotateLeft64(dst.lo, 29) ^ bits.RotateLeft64(src.hi^bits.RotateLeft64(dst.hi, 13), 7) ^ bits.RotateLeft64(key, 43)
	h *= 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h >> (64 - cacheBits)
}

// addrCacheBits sizes the address cache: 1024 entries of 32 bytes. It
// serves the map lookups of a flow-cache miss, which mostly involve a
// busy address (a server, a scanner) seen a moment ago.
const addrCacheBits = 10

// addrEntry remembers the slab index of an address in the open interval.
type addrEntry struct {
	a   addr
	gen uint64
	idx uint32
}

// addrCache is direct-mapped, like flowCache.
type addrCache [1 << addrCacheBits]addrEntry

func addrSlot(a addr) uint64 {
	h := (a.lo ^ bits.RotateLeft64(a.hi, 31)) * 0x9e3779b97f4a7c15
	return h >> (64 - addrCacheBits)
}
