package store

import (
	"encoding/binary"
	"net/netip"
)

// The flows table has no per-row secondary index: in the pure-Go SQLite
// every index costs several microseconds per row, and the four that IP,
// port and time queries would need cut the insert rate from about 100k to
// about 13k rows per CPU-second. Instead, rows are grouped into blocks of
// consecutive ids (a block range index, like PostgreSQL's BRIN), and each
// block keeps its time bounds and a Bloom filter of the addresses and
// ports of its rows. A query reads the small flow_blocks table, skips the
// blocks whose bounds or filter exclude the answer, and scans the others
// by primary key.

const (
	// blockRows bounds a block: a false positive costs one scan of this
	// many rows by primary key, well under a millisecond.
	blockRows = 4096
	// bloomBits is the filter size: 16 KiB, 4 bytes per row. A block
	// holds at most 4 keys per row; with 4 hashes the false-positive rate
	// is 2.4% at that worst case and below 0.1% for real traffic, where
	// addresses repeat.
	bloomBits   = 1 << 17
	bloomWords  = bloomBits / 64
	bloomHashes = 4
)

// bloom is a Bloom filter over bloomBits bits.
type bloom []uint64

func newBloom() bloom { return make(bloom, bloomWords) }

// hashKey is FNV-1a, 64-bit: stable across processes and versions, which
// a stored filter requires (maphash is seeded per process).
func hashKey(kind byte, b []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h = (h ^ uint64(kind)) * prime
	for _, c := range b {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// ipKey hashes an address as stored (unmapped text form).
func ipKey(ip string) uint64 { return hashKey('i', []byte(ip)) }

// portKey hashes a port number.
func portKey(p int32) uint64 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(p))
	return hashKey('p', b[:])
}

// positions derives the filter bits of a key by double hashing.
func positions(h uint64, f func(pos uint32)) {
	h1, h2 := uint32(h), uint32(h>>32)|1
	for i := uint32(0); i < bloomHashes; i++ {
		f((h1 + i*h2) & (bloomBits - 1))
	}
}

func (b bloom) add(h uint64) {
	positions(h, func(p uint32) { b[p/64] |= 1 << (p % 64) })
}

func (b bloom) addFlow(f *Flow) {
	b.add(ipKey(f.ClientIP))
	b.add(ipKey(f.ServerIP))
	b.add(portKey(f.ClientPort))
	b.add(portKey(f.ServerPort))
}

// bytes encodes the filter for storage, little-endian words.
func (b bloom) bytes() []byte {
	out := make([]byte, 8*len(b))
	for i, w := range b {
		binary.LittleEndian.PutUint64(out[8*i:], w)
	}
	return out
}

// storedMayContain tests a key against an encoded filter. A filter of the
// wrong size (written by another version) answers true: the block is
// scanned, never wrongly skipped.
func storedMayContain(enc []byte, h uint64) bool {
	if len(enc) != 8*bloomWords {
		return true
	}
	ok := true
	positions(h, func(p uint32) {
		if enc[p/8]&(1<<(p%8)) == 0 {
			ok = false
		}
	})
	return ok
}

// normalizeIP returns the stored text form of an address, so a query for
// "::ffff:10.0.0.1" finds rows of 10.0.0.1.
func normalizeIP(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return a.Unmap().String(), true
}
