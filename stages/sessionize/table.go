package sessionize

import (
	"math"
	"time"
	"unsafe"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/stages/internal/prefetch"
)

// Table is the flow table: it folds packets into bidirectional flows and
// reports their updates and ends through a callback. It is not safe for
// concurrent use; a worker owns one table.
//
// Flows live in a slab of fixed-size entries found through a hash index
// from flow key to slab index. Three intrusive lists order them: the LRU
// (open flows by last packet, for idle expiry and eviction), the linger
// list (closed TCP flows waiting out close_linger) and the report list
// (flows by next interim report). All timeouts follow packet time, the
// newest packet timestamp seen, so a replay produces the same flows every
// time. A flow moves to the back of the LRU at most every quarter check
// step (250 ms of packet time by default), so expiry and eviction follow
// the order of last packets to within that interval.
type Table struct {
	idle, linger, period event.Time // timeouts in nanoseconds
	activeSecs           uint32     // active_timeout in whole seconds, 0 = off
	max                  int
	step                 event.Time // how often Add runs Expire
	moveEvery            event.Time // how often a busy flow moves in its age list

	seeds   seeds // of the index hash
	index   index
	slab    slab
	lru     list // open flows, least recently seen first
	closing list // closed TCP flows, in linger
	reports list // flows by next interim report, when reports are on

	now        event.Time // newest packet time
	nextCheck  event.Time // packet time of the next Expire
	sinceCheck int        // packets since the last Expire

	emit  func(*event.FlowRec)
	rec   event.FlowRec // handed to emit; reused
	stats Stats

	group [3 * groupSize]prepared       // AddBatch's keys of the packets at hand
	addrs [4 * groupSize]unsafe.Pointer // what AddBatch prefetches for a group
}

// prepared is what a packet's lookup needs, computed ahead by AddBatch.
type prepared struct {
	k     flowKey
	h     uint64 // index hash of k
	fromB bool   // the packet was sent by endpoint B of k
}

// Stats are a table's running totals.
type Stats struct {
	Started uint64 // flows created
	Ended   uint64 // flows ended, for any reason
	Evicted uint64 // flows ended early because the table was full
	Active  int    // flows in the table now
	// NoAddress counts packets skipped because they carry no IP
	// addresses (a decoder may pass on non-IP frames).
	NoAddress uint64
}

// maxTimeout caps every timeout: 100 years is "never" for a flow, and
// packet times plus it stay far from overflowing.
const maxTimeout = 100 * 365 * 24 * time.Hour

// NewTable returns an empty table. Every flow update and end is passed to
// emit, which must not keep the pointer: the record is reused. A zero or
// negative IdleTimeout or MaxSessions takes the default.
func NewTable(cfg Config, emit func(*event.FlowRec)) *Table {
	def := DefaultConfig()
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = def.IdleTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = def.MaxSessions
	}
	// Timeouts are compared as differences of packet times (now - last
	// >= timeout), which cannot overflow; the cap keeps the sums that
	// schedule reports (now + period) from overflowing too.
	for _, d := range []*time.Duration{&cfg.IdleTimeout, &cfg.ActiveTimeout, &cfg.UpdateInterval, &cfg.CloseLinger} {
		*d = min(max(*d, 0), maxTimeout)
	}
	t := &Table{
		idle:   event.Time(cfg.IdleTimeout),
		linger: event.Time(cfg.CloseLinger),
		max:    cfg.MaxSessions,
		seeds:  randomSeeds(),
		index:  newIndex(),
		emit:   emit,
	}
	t.reports.which = reportLinks
	if cfg.ActiveTimeout > 0 {
		t.activeSecs = uint32(min((cfg.ActiveTimeout+time.Second-1)/time.Second, math.MaxUint32/2))
	}
	// One list serves both kinds of interim report: it runs at the
	// shorter interval, and a report is marked active_timeout when the
	// flow's active timeout has passed.
	for _, d := range []time.Duration{cfg.ActiveTimeout, cfg.UpdateInterval} {
		if d > 0 && (t.period == 0 || event.Time(d) < t.period) {
			t.period = event.Time(d)
		}
	}
	// Expire runs at least once per step of packet time (and every
	// checkEvery packets), so a timeout fires at most a step late.
	t.step = event.Time(time.Second)
	for _, d := range []event.Time{t.idle, t.linger, t.period} {
		if d > 0 && d < t.step {
			t.step = d
		}
	}
	t.moveEvery = t.step / 4
	return t
}

// Stats returns the running totals.
func (t *Table) Stats() Stats { return t.stats }

// Len returns the number of flows in the table.
func (t *Table) Len() int { return t.stats.Active }

// Now returns the table's packet time: the newest timestamp seen.
func (t *Table) Now() event.Time { return t.now }

// checkEvery bounds the packets between two runs of Expire, so that at
// a high packet rate expiry happens in small steps rather than in one
// burst per second of packet time.
const checkEvery = 256

// groupSize is how many packets AddBatch prefetches for at once: enough
// for the processor to have many cache misses in flight, few enough for
// what it fetched to stay in the first-level cache until used. (With the
// bench capture 64 did better than 32 and 16.)
const groupSize = 64

// Add folds one packet into its flow, creating the flow if needed. It
// also runs Expire every checkEvery packets and whenever packet time has
// moved on by a check step.
func (t *Table) Add(p *event.PacketRec) {
	var pr prepared
	t.prepare(p, &pr)
	t.add(p, &pr)
}

// AddBatch folds packets in order, with the same result as calling Add on
// each. When the table is larger than the processor's caches, most of a
// packet's cost is waiting for its index slot and flow entry to come from
// memory. AddBatch therefore works through the packets as a pipeline
// over groups: while it folds one group, the flow entries of the next
// group and the index slots of the one after are already being fetched,
// so the waits overlap with each other and with the folding.
//
// (Measured on the nfpipe-bench capture counted alone, with a
// cache-polluting load between batches: loading a group's slots and then
// its entries with plain loads just before folding it took 97 CPU ns per
// packet, this pipeline with prefetch instructions 88.)
func (t *Table) AddBatch(ps []event.PacketRec) {
	n := (len(ps) + groupSize - 1) / groupSize
	if n == 0 {
		return
	}
	t.fetchSlots(ps, 0)
	if n > 1 {
		t.fetchSlots(ps, 1)
	}
	t.fetchEntries(ps, 0)
	for g := range n {
		if g+2 < n {
			t.fetchSlots(ps, g+2)
		}
		if g+1 < n {
			t.fetchEntries(ps, g+1)
		}
		pkts, pre := t.groupOf(ps, g)
		for i := range pkts {
			t.add(&pkts[i], &pre[i])
		}
	}
}

// groupOf returns the packets of group g and their prepared keys, which
// rotate through three groups' room.
func (t *Table) groupOf(ps []event.PacketRec, g int) ([]event.PacketRec, []prepared) {
	pkts := ps[g*groupSize : min((g+1)*groupSize, len(ps))]
	return pkts, t.group[(g%3)*groupSize:][:len(pkts)]
}

// fetchSlots prepares the keys of group g and prefetches their index
// slots.
func (t *Table) fetchSlots(ps []event.PacketRec, g int) {
	pkts, pre := t.groupOf(ps, g)
	addrs := t.addrs[:0]
	for i := range pkts {
		t.prepare(&pkts[i], &pre[i])
		addrs = append(addrs, unsafe.Pointer(&t.index.slots[uint32(pre[i].h)&t.index.mask]))
	}
	prefetch.Lines(addrs)
}

// fetchEntries prefetches the hot part of the entry each prepared key of
// group g leads to, and, for every key that leads to no entry (a new
// flow), the whole of a slot from the top of the free stack, which
// expiry filled with long-unused slots. Whether an entry still holds the
// same flow when its packet's turn comes does not matter: this only
// loads.
func (t *Table) fetchEntries(ps []event.PacketRec, g int) {
	_, pre := t.groupOf(ps, g)
	addrs := t.addrs[:0]
	news := 0
	for i := range pre {
		if idx := t.index.peek(uint32(pre[i].h)); idx != 0 {
			// The hot part spans two or three lines, depending on
			// the entry's offset in its line.
			e := unsafe.Pointer(t.slab.at(idx))
			addrs = append(addrs, e, unsafe.Add(e, 64), unsafe.Add(e, hotBytes-1))
		} else {
			news++
		}
	}
	for j := range news {
		i := t.slab.next(j)
		if i == 0 {
			break
		}
		e := unsafe.Pointer(t.slab.at(i))
		addrs = append(addrs, e, unsafe.Add(e, 64), unsafe.Add(e, 128), unsafe.Add(e, entrySize-1)) // all of it
	}
	prefetch.Lines(addrs)
}

// prepare computes the key of packet p.
func (t *Table) prepare(p *event.PacketRec, pr *prepared) {
	pr.fromB = pr.k.set(p)
	pr.h = t.seeds.hash(&pr.k)
}

// add folds packet p, whose key is prepared, into its flow.
func (t *Table) add(p *event.PacketRec, pr *prepared) {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		t.stats.NoAddress++
		return
	}
	if p.TS > t.now {
		t.now = p.TS
	}
	if t.sinceCheck++; t.now >= t.nextCheck || t.sinceCheck >= checkEvery {
		t.Expire(t.now)
	}
	i := t.index.find(&t.slab, &pr.k, uint32(pr.h))
	if i != 0 {
		if r := t.staleReason(t.slab.at(i), p); r != event.ReasonNone {
			t.end(i, r)
			i = 0
		}
	}
	if i == 0 {
		i = t.create(&pr.k, pr.h, pr.fromB, p)
	}
	t.update(i, pr.fromB, p)
}

// staleReason says why an existing flow must end before packet p starts
// a new one: its timeout passed by p's time (Expire runs only once per
// check step), or p is a SYN on a connection that already closed, which
// is a new connection on the same ports.
func (t *Table) staleReason(e *entry, p *event.PacketRec) event.EndReason {
	if e.has(bitLinger) {
		if p.TS-e.last >= t.linger {
			return closeReason(e.state)
		}
	} else if p.TS-e.last >= t.idle {
		return event.ReasonIdle
	}
	if e.key.Proto == 6 && isSYN(p.TCPFlags) && ended(e.state) {
		return closeReason(e.state)
	}
	return event.ReasonNone
}

// create starts a flow for packet p, making room first if the table is
// full, and decides which side is the client.
func (t *Table) create(k *flowKey, h uint64, fromB bool, p *event.PacketRec) uint32 {
	if t.stats.Active >= t.max {
		t.makeRoom()
	}
	i := t.slab.alloc()
	e := t.slab.at(i)
	e.key = *k
	e.first, e.last, e.stamp = p.TS, p.TS, t.now
	e.id = flowID(k, p.TS)
	e.activeAt = t.activeSecs
	clientB := fromB
	if k.Proto == 6 {
		e.state = initialTCPState(p.TCPFlags)
	}
	switch {
	case e.state == event.TCPSynSent:
		// the sender of the SYN is the client
	case e.state == event.TCPSynReceived:
		clientB = !fromB // a SYN-ACK comes from the server
	case senderIsServer(p):
		clientB = !fromB
	}
	if clientB {
		e.bits |= bitClientB
	}
	t.index.insert(uint32(h), i)
	t.slab.pushBack(&t.lru, i)
	if t.period > 0 {
		e.due = t.now + t.period
		t.slab.pushBack(&t.reports, i)
	}
	t.stats.Started++
	t.stats.Active++
	return i
}

// makeRoom frees one slot in a full table: flows already due to end go
// first, then the oldest closed flow (ending early with its own reason),
// and only then the least recently seen open flow, counted as evicted.
func (t *Table) makeRoom() {
	t.Expire(t.now)
	switch {
	case t.stats.Active < t.max:
	case t.closing.head != 0:
		t.end(t.closing.head, closeReason(t.slab.at(t.closing.head).state))
	default:
		t.stats.Evicted++
		t.end(t.lru.head, event.ReasonEvicted)
	}
}

// update counts packet p, sent by endpoint B if fromB, in flow i.
func (t *Table) update(i uint32, fromB bool, p *event.PacketRec) {
	e := t.slab.at(i)
	dir := c2s
	if fromB != e.has(bitClientB) {
		dir = s2c
	}
	e.pkts[dir]++
	e.bytes[dir] += uint64(p.WireLen)
	if p.TS > e.last {
		e.last = p.TS
	} else if p.TS < e.last && p.TS < e.first {
		// Reordered capture. first <= last, so a packet as old as the
		// newest (common with microsecond timestamps) leaves first
		// alone, and first's line, which AddBatch does not fetch, is
		// not read: reading it cost the pipeline's gain.
		e.first = p.TS
	}
	e.bits |= bitDirty
	// A non-first fragment has no TCP header of its own: the decoder
	// gives it the first fragment's ports, but no flags.
	if e.key.Proto == 6 && p.Frag&event.FragLater == 0 {
		trackTCP(e, dir, p)
		if lingers(e.state) && !e.has(bitLinger) {
			e.bits |= bitLinger
			e.stamp = t.now
			t.slab.remove(&t.lru, i)
			t.slab.pushBack(&t.closing, i)
			return
		}
	}
	// Moving to the back rewrites the neighbours' links, two cache
	// misses in a large table, so a busy flow moves only once per
	// moveEvery interval. The age lists stay sorted by stamp; see Expire.
	if t.now-e.stamp < t.moveEvery {
		return
	}
	e.stamp = t.now
	if e.has(bitLinger) {
		t.slab.moveToBack(&t.closing, i)
	} else {
		t.slab.moveToBack(&t.lru, i)
	}
}

// Expire advances packet time to now (if later) and ends every flow
// whose timeout has passed: closed flows after close_linger, open flows
// after idle_timeout. It then sends the interim reports that are due.
//
// The age lists are sorted by stamp, and a flow's last packet is at most
// one moveEvery interval after its stamp, so stopping at the first head
// that has not timed out ends every other flow at most that interval
// late.
func (t *Table) Expire(now event.Time) {
	if now > t.now {
		t.now = now
	}
	now = t.now
	for i := t.closing.head; i != 0; i = t.closing.head {
		e := t.slab.at(i)
		if now-e.last < t.linger {
			break
		}
		t.end(i, closeReason(e.state))
	}
	for i := t.lru.head; i != 0; i = t.lru.head {
		if now-t.slab.at(i).last < t.idle {
			break
		}
		t.end(i, event.ReasonIdle)
	}
	for i := t.reports.head; i != 0; i = t.reports.head {
		if t.slab.at(i).due > now {
			break
		}
		t.report(i)
	}
	t.nextCheck = now + t.step
	t.sinceCheck = 0
}

// report sends an interim update of flow i if it saw packets since its
// last report, and schedules the next one.
func (t *Table) report(i uint32) {
	e := t.slab.at(i)
	reason := event.ReasonNone
	if t.activeSecs > 0 && uint64(t.now-e.first) >= uint64(e.activeAt)*uint64(time.Second) {
		reason = event.ReasonActiveTimeout
		e.activeAt = uint32((t.now-e.first)/event.Time(time.Second)) + t.activeSecs
	}
	if e.has(bitDirty) {
		e.bits &^= bitDirty
		t.fill(e, event.FlowUpdate, reason)
		t.emit(&t.rec)
	}
	e.due = t.now + t.period
	t.slab.moveToBack(&t.reports, i)
}

// Release returns the memory the table holds outside the Go heap (its
// large slab arenas and index, see package hugemem); the table must not
// be used afterwards. A table dropped without Release has that memory
// returned by a cleanup once the collector finds it unreachable.
func (t *Table) Release() {
	t.slab.unmap()
	t.index.unmap()
}

// Flush ends every flow: open ones with reason, closed ones still in
// their linger with their own reason (fin or rst).
func (t *Table) Flush(reason event.EndReason) {
	for i := t.closing.head; i != 0; i = t.closing.head {
		t.end(i, closeReason(t.slab.at(i).state))
	}
	for i := t.lru.head; i != 0; i = t.lru.head {
		t.end(i, reason)
	}
}

// end reports flow i as ended and frees its slot.
func (t *Table) end(i uint32, reason event.EndReason) {
	e := t.slab.at(i)
	t.fill(e, event.FlowEnd, reason)
	t.emit(&t.rec)
	t.index.remove(uint32(t.seeds.hash(&e.key)), i)
	if e.has(bitLinger) {
		t.slab.remove(&t.closing, i)
	} else {
		t.slab.remove(&t.lru, i)
	}
	if t.period > 0 {
		t.slab.remove(&t.reports, i)
	}
	t.slab.release(i)
	t.stats.Ended++
	t.stats.Active--
}

// fill writes flow e into the reusable record.
func (t *Table) fill(e *entry, ev event.FlowEvent, reason event.EndReason) {
	k := &e.key
	client := event.Endpoint{IP: k.addr(k.A), Port: k.PortA}
	server := event.Endpoint{IP: k.addr(k.B), Port: k.PortB}
	if e.has(bitClientB) {
		client, server = server, client
	}
	t.rec = event.FlowRec{
		ID:        e.id,
		Event:     ev,
		Proto:     k.Proto,
		Client:    client,
		Server:    server,
		VLAN:      k.VLAN,
		FirstSeen: e.first,
		LastSeen:  e.last,
		C2S:       event.Counters{Packets: e.pkts[c2s], Bytes: e.bytes[c2s]},
		S2C:       event.Counters{Packets: e.pkts[s2c], Bytes: e.bytes[s2c]},
		Reason:    reason,
	}
	if k.Proto == 6 {
		t.rec.TCPState = e.state
		t.rec.FlagsC2S, t.rec.FlagsS2C = e.flags[c2s], e.flags[s2c]
		t.rec.RTT = time.Duration(e.rtt)
	}
}
