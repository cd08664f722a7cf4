package sessionize

import (
	"runtime"
	"unsafe"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/internal/hugemem"
)

// entry is the state of one flow in the slab. It is kept small: with the
// index slot that points at it, it is the whole per-flow memory cost. The
// fields a packet updates come first, so they share as few cache lines
// as they can.
type entry struct {
	key   flowKey
	last  event.Time // newest packet
	stamp event.Time // packet time when the flow last moved to the back of its age list
	pkts  [2]uint64  // indexed by direction: c2s, s2c
	bytes [2]uint64
	flags [2]uint8 // TCP flags OR-ed per direction
	state event.TCPState
	bits  uint8
	// finSeq is the sequence number of each direction's FIN.
	finSeq [2]uint32
	// activeAt is when the next active_timeout report is due, in whole
	// seconds after first; 32 bits of seconds cover 136 years.
	activeAt uint32
	link     [2]links   // age list (LRU or linger) and report list
	id       uint64     // flow id; 0 marks a free slot
	first    event.Time // first packet
	due      event.Time // next interim report (order of the report list)
	syn      event.Time // the client's SYN, for the handshake RTT
	rtt      event.Time // handshake RTT, 0 if not seen
}

// entrySize is the size of an entry, and hotBytes the length of its
// part a packet of an existing flow touches (up to the age list links).
// Slab chunks are large allocations, so they start page aligned and an
// entry starts on a 32-byte boundary.
const (
	entrySize = int(unsafe.Sizeof(entry{}))
	hotBytes  = int(unsafe.Offsetof(entry{}.link) + unsafe.Sizeof(links{}))
)

// Direction indexes of entry.pkts, bytes, flags and finSeq.
const (
	c2s = 0
	s2c = 1
)

// entry.bits.
const (
	bitClientB uint8 = 1 << iota // the client is endpoint B of the key
	bitDirty                     // packets arrived since the last report
	bitLinger                    // closed: in the linger list, not the LRU
	bitFinC2S                    // the client sent a FIN
	bitFinS2C                    // the server sent a FIN
	bitAckC2S                    // the server acknowledged the client's FIN
	bitAckS2C                    // the client acknowledged the server's FIN
)

func (e *entry) has(b uint8) bool { return e.bits&b != 0 }

// links are the intrusive list pointers of one list; 0 is nil because
// slot 0 of the slab is never used.
type links struct{ prev, next uint32 }

// Which link pair of an entry a list threads through.
const (
	ageLinks    = 0 // the LRU and the linger list (a flow is in one of them)
	reportLinks = 1 // the report list
)

// list is an intrusive doubly-linked list of slab indexes.
type list struct {
	head, tail uint32
	which      uint8 // ageLinks or reportLinks
}

// chunkBits sizes slab chunks: 4096 entries (about 600 KiB) per chunk, so
// the slab grows without copying and wastes at most one chunk.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

// The first heapChunks chunks come from the Go heap, so that a small
// table stays small. Later ones are cut from arenas of arenaChunks
// chunks mapped on huge pages and populated up front (package hugemem):
// each fresh 4 KB page of a growing slab was a page fault costing
// 17-19 us in a virtual machine, and a table growing to 90,000 flows
// took over 3,000 of them. 16 chunks of 4096 160-byte entries are
// exactly five 2 MB pages.
const (
	heapChunks  = 4
	arenaChunks = 16
)

// arenas are the mapped regions a slab's chunks were cut from. They are
// kept apart from the slab so that a cleanup can unmap them once the
// table is unreachable, should its owner not release it (Table.Release).
type arenas struct {
	mapped [][]entry
	spare  []entry // the part of the last arena not yet cut into chunks
}

func (a *arenas) free() {
	for _, m := range a.mapped {
		hugemem.Free(m)
	}
	a.mapped, a.spare = nil, nil
}

// newChunk returns a zeroed chunk for slab s.
func (s *slab) newChunk() []entry {
	if len(s.chunks) < heapChunks {
		return make([]entry, chunkSize)
	}
	if s.arenas == nil {
		s.arenas = &arenas{}
		s.cleanup = runtime.AddCleanup(s, (*arenas).free, s.arenas)
	}
	a := s.arenas
	if len(a.spare) == 0 {
		m := hugemem.Make[entry](arenaChunks * chunkSize)
		a.mapped = append(a.mapped, m)
		a.spare = m
	}
	c := a.spare[:chunkSize:chunkSize]
	a.spare = a.spare[chunkSize:]
	return c
}

// unmap unmaps the slab's arenas; the slab must not be used afterwards.
func (s *slab) unmap() {
	if s.arenas != nil {
		s.cleanup.Stop()
		s.arenas.free()
		s.arenas = nil
	}
	s.chunks = nil
}

// slab stores entries in fixed chunks addressed by a uint32 index, with
// a stack of free slots. The free slots are a stack of indexes rather than
// a list threaded through the slots so that AddBatch can load the next
// few a group of packets will take without following links: slots are
// freed by expiry, oldest flows first, so they have long left the caches.
// (Loading them ahead took the bench capture, counted alone with a
// cache-polluting load between batches, from 109 to 105 CPU ns/packet.)
type slab struct {
	chunks  [][]entry
	arenas  *arenas         // where chunks beyond heapChunks come from
	cleanup runtime.Cleanup // unmaps the arenas if unmap is never called
	used    uint32          // slots handed out so far (high-water mark), slot 0 included
	free    []uint32        // freed slots; the last is reused first
}

func (s *slab) at(i uint32) *entry {
	return &s.chunks[i>>chunkBits][i&chunkMask]
}

// alloc returns a zeroed slot.
func (s *slab) alloc() uint32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		*s.at(i) = entry{}
		return i
	}
	if s.used == 0 {
		s.used = 1 // slot 0 stands for nil
	}
	if int(s.used>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, s.newChunk())
	}
	i := s.used
	s.used++
	return i
}

// next returns the slot the j-th next alloc takes from the free stack,
// or 0 if the stack holds fewer slots.
func (s *slab) next(j int) uint32 {
	if j >= len(s.free) {
		return 0
	}
	return s.free[len(s.free)-1-j]
}

// release puts a slot on the free stack. The stack grows to the most
// slots ever free at once and then stays that size.
func (s *slab) release(i uint32) {
	s.at(i).id = 0
	s.free = append(s.free, i)
}

func (s *slab) pushBack(l *list, i uint32) {
	ln := &s.at(i).link[l.which]
	ln.prev, ln.next = l.tail, 0
	if l.tail != 0 {
		s.at(l.tail).link[l.which].next = i
	} else {
		l.head = i
	}
	l.tail = i
}

func (s *slab) remove(l *list, i uint32) {
	ln := &s.at(i).link[l.which]
	if ln.prev != 0 {
		s.at(ln.prev).link[l.which].next = ln.next
	} else {
		l.head = ln.next
	}
	if ln.next != 0 {
		s.at(ln.next).link[l.which].prev = ln.prev
	} else {
		l.tail = ln.prev
	}
	ln.prev, ln.next = 0, 0
}

func (s *slab) moveToBack(l *list, i uint32) {
	if l.tail == i {
		return
	}
	s.remove(l, i)
	s.pushBack(l, i)
}
