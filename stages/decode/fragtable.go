package decode

import (
	"hash/maphash"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// fragKey identifies the fragments of one datagram: RFC 791 for IPv4
// (source, destination, protocol, identification); for IPv6 the protocol
// is the fragment header's next header, which every fragment repeats.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	ver      uint8
}

// fragEntry is what the first fragment leaves for the later ones.
type fragEntry struct {
	key      fragKey
	ts       event.Time
	hash     uint32
	next     int32 // next entry of the same bucket, -1 at the end
	used     bool
	proto    uint8 // transport protocol (after IPv6 extension headers)
	icmpType uint8
	icmpCode uint8
	sport    uint16
	dport    uint16
}

// fragTable remembers the transport fields of recent first fragments in
// a fixed ring of entries, chained into hash buckets. A new datagram
// takes the oldest slot, so the table never grows and never allocates
// after init. The hash is seeded per table so that crafted fragments
// cannot pile into one bucket.
type fragTable struct {
	entries   []fragEntry
	buckets   []int32 // first entry of each bucket, -1 if empty
	mask      uint32
	head      int // next ring slot to reuse: the oldest entry
	timeout   event.Time
	seed      maphash.Seed
	evictions uint64
}

func (t *fragTable) init(size int, timeout time.Duration) {
	t.entries = make([]fragEntry, size)
	nb := 1
	for nb < 2*size { // at most half full: chains stay short
		nb <<= 1
	}
	t.buckets = make([]int32, nb)
	for i := range t.buckets {
		t.buckets[i] = -1
	}
	t.mask = uint32(nb - 1)
	t.timeout = event.Time(timeout)
	t.seed = maphash.MakeSeed()
}

func (t *fragTable) hash(k *fragKey) uint32 {
	return uint32(maphash.Comparable(t.seed, *k))
}

// live reports whether an entry is still valid at packet time now.
// Packet time may step back (merged interfaces); that never expires.
func (t *fragTable) live(e *fragEntry, now event.Time) bool {
	return now-e.ts <= t.timeout
}

// get returns the live entry of key, or nil.
func (t *fragTable) get(k *fragKey, now event.Time) *fragEntry {
	h := t.hash(k)
	for i := t.buckets[h&t.mask]; i >= 0; i = t.entries[i].next {
		e := &t.entries[i]
		if e.hash == h && e.key == *k {
			if !t.live(e, now) {
				return nil
			}
			return e
		}
	}
	return nil
}

// put records the transport fields of a first fragment.
func (t *fragTable) put(k *fragKey, p *event.PacketRec) {
	h := t.hash(k)
	var e *fragEntry
	for i := t.buckets[h&t.mask]; i >= 0; i = t.entries[i].next {
		if c := &t.entries[i]; c.hash == h && c.key == *k {
			e = c // a repeated first fragment, or the id was reused
			break
		}
	}
	if e == nil {
		slot := t.head
		t.head++
		if t.head == len(t.entries) {
			t.head = 0
		}
		e = &t.entries[slot]
		if e.used {
			if t.live(e, p.TS) {
				t.evictions++
			}
			t.unlink(int32(slot))
		}
		b := h & t.mask
		*e = fragEntry{key: *k, hash: h, used: true, next: t.buckets[b]}
		t.buckets[b] = int32(slot)
	}
	e.ts = p.TS
	e.proto = p.Proto
	e.sport = p.SrcPort
	e.dport = p.DstPort
	e.icmpType = p.ICMPType
	e.icmpCode = p.ICMPCode
}

// unlink removes a slot from its bucket's chain.
func (t *fragTable) unlink(slot int32) {
	e := &t.entries[slot]
	b := e.hash & t.mask
	if t.buckets[b] == slot {
		t.buckets[b] = e.next
		return
	}
	for i := t.buckets[b]; i >= 0; i = t.entries[i].next {
		if t.entries[i].next == slot {
			t.entries[i].next = e.next
			return
		}
	}
}
