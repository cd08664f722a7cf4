package geoip

import (
	"net/netip"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// lru is a fixed-capacity least-recently-used cache from address to
// geolocation. Entries live in one slice linked by index, so a warm cache
// allocates nothing; it is used by one goroutine and takes no lock. A nil
// value is cached too: it means no database knows the address.
type lru struct {
	index   map[netip.Addr]int32
	entries []lruEntry
	head    int32 // most recently used, -1 when empty
	tail    int32 // least recently used
}

type lruEntry struct {
	key        netip.Addr
	val        *event.Geo
	prev, next int32
}

func newLRU(capacity int) *lru {
	return &lru{
		index:   make(map[netip.Addr]int32, capacity),
		entries: make([]lruEntry, 0, capacity),
		head:    -1,
		tail:    -1,
	}
}

// get returns the cached value and whether the key was present, and marks
// the entry most recently used.
func (c *lru) get(ip netip.Addr) (*event.Geo, bool) {
	i, ok := c.index[ip]
	if !ok {
		return nil, false
	}
	c.moveToFront(i)
	return c.entries[i].val, true
}

// put adds or replaces an entry, evicting the least recently used one when
// the cache is full.
func (c *lru) put(ip netip.Addr, g *event.Geo) {
	if i, ok := c.index[ip]; ok {
		c.entries[i].val = g
		c.moveToFront(i)
		return
	}
	var i int32
	if len(c.entries) < cap(c.entries) {
		c.entries = append(c.entries, lruEntry{})
		i = int32(len(c.entries) - 1)
	} else {
		i = c.tail
		delete(c.index, c.entries[i].key)
		c.unlink(i)
	}
	c.entries[i] = lruEntry{key: ip, val: g, prev: -1, next: -1}
	c.index[ip] = i
	c.pushFront(i)
}

// len returns the number of cached entries.
func (c *lru) len() int { return len(c.entries) }

// reset empties the cache, keeping its memory.
func (c *lru) reset() {
	clear(c.index)
	clear(c.entries) // drop references to Geo values
	c.entries = c.entries[:0]
	c.head, c.tail = -1, -1
}

func (c *lru) moveToFront(i int32) {
	if c.head == i {
		return
	}
	c.unlink(i)
	c.pushFront(i)
}

func (c *lru) unlink(i int32) {
	e := &c.entries[i]
	if e.prev >= 0 {
		c.entries[e.prev].next = e.next
	} else {
		c.head = e.next
	}
	if e.next >= 0 {
		c.entries[e.next].prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (c *lru) pushFront(i int32) {
	e := &c.entries[i]
	e.prev, e.next = -1, c.head
	if c.head >= 0 {
		c.entries[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}
