package dashboard

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// liveView is the bounded in-memory picture of recent traffic: flows
// (active and recently ended) in least-recently-updated order, per-IP
// totals with per-minute buckets, per-country and per-location
// aggregates, the protocol mix and recent alerts. The pipeline's input
// goroutine writes it batch by batch; HTTP handlers and the sampler read
// it under the read lock.
type liveView struct {
	mu       sync.RWMutex
	maxFlows int
	maxIPs   int

	flows      map[uint64]*flowEntry
	head, tail *flowEntry // head = most recently updated
	active     int

	ips     map[netip.Addr]*ipEntry
	minutes minuteRing
	geo     geoAgg
	protos  map[uint8]*protoAgg
	alerts  alertRing

	// Totals of the traffic seen in flows, and what arrived since the
	// sampler last looked (for rates when sources count no bytes).
	flowsSeen, flowsEnded uint64
	bytes, packets        uint64
	pendBytes, pendPkts   uint64
	pendFlows             uint64
	clock                 event.Time // latest packet time seen

	// dirty are the flows changed since the last session push.
	dirty map[uint64]struct{}

	flowsEvicted, ipsEvicted *atomic.Uint64
}

// flowEntry is one flow of the live view, a private copy of its latest
// record, linked in update order.
type flowEntry struct {
	rec        event.FlowRec
	ended      bool
	prev, next *flowEntry
}

// protoAgg is the traffic of one IP protocol.
type protoAgg struct {
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	Flows   uint64 `json:"flows"`
}

func newLiveView(maxFlows, maxIPs int) *liveView {
	if maxFlows <= 0 {
		maxFlows = 20000
	}
	if maxIPs <= 0 {
		maxIPs = 50000
	}
	return &liveView{
		maxFlows:     maxFlows,
		maxIPs:       maxIPs,
		flows:        make(map[uint64]*flowEntry),
		ips:          make(map[netip.Addr]*ipEntry),
		geo:          newGeoAgg(),
		protos:       make(map[uint8]*protoAgg),
		alerts:       newAlertRing(500),
		dirty:        make(map[uint64]struct{}),
		flowsEvicted: new(atomic.Uint64),
		ipsEvicted:   new(atomic.Uint64),
	}
}

// addFlows folds flow records (updates carry running totals) into the
// view: the change since the previous record of the same flow is what
// counts towards per-IP, per-country and protocol totals.
func (v *liveView) addFlows(recs []event.FlowRec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range recs {
		v.addFlow(&recs[i])
	}
}

func (v *liveView) addFlow(f *event.FlowRec) {
	e := v.flows[f.ID]
	isNew := e == nil
	var dC2S, dS2C event.Counters
	if isNew {
		e = &flowEntry{}
		v.flows[f.ID] = e
		v.pushFront(e)
		v.active++
		dC2S, dS2C = f.C2S, f.S2C
		v.flowsSeen++
		v.pendFlows++
	} else {
		dC2S, dS2C = delta(e.rec.C2S, f.C2S), delta(e.rec.S2C, f.S2C)
		v.moveFront(e)
	}
	ended := f.Event == event.FlowEnd
	if ended && !e.ended {
		v.active--
		v.flowsEnded++
	}
	cg, sg := keepGeo(e.rec.Client.Geo, f.Client.Geo), keepGeo(e.rec.Server.Geo, f.Server.Geo)
	e.rec = *f
	e.rec.Client.Geo, e.rec.Server.Geo = cg, sg
	if len(f.Tags) > 0 {
		e.rec.Tags = slices.Clone(f.Tags)
	}
	if len(f.Attrs) > 0 {
		e.rec.Attrs = maps.Clone(f.Attrs)
	}
	e.ended = e.ended || ended
	v.dirty[f.ID] = struct{}{}

	db := dC2S.Bytes + dS2C.Bytes
	dp := dC2S.Packets + dS2C.Packets
	v.bytes += db
	v.packets += dp
	v.pendBytes += db
	v.pendPkts += dp
	if f.LastSeen > v.clock {
		v.clock = f.LastSeen
	}
	var newFlows uint64
	if isNew {
		newFlows = 1
	}
	p := v.protos[f.Proto]
	if p == nil {
		p = &protoAgg{}
		v.protos[f.Proto] = p
	}
	p.Bytes += db
	p.Packets += dp
	p.Flows += newFlows

	if b := v.minutes.bucket(f.LastSeen); b != nil {
		// For the whole traffic, "in" is server to client (downloads).
		b.total.add(&ipCounters{BytesIn: dS2C.Bytes, BytesOut: dC2S.Bytes, PacketsIn: dS2C.Packets, PacketsOut: dC2S.Packets, Flows: newFlows})
	}
	// Per address: the client sends c2s and receives s2c.
	v.addIP(f.Client.IP, cg, dC2S, dS2C, newFlows, newFlows, f.LastSeen)
	v.addIP(f.Server.IP, sg, dS2C, dC2S, newFlows, 0, f.LastSeen)
	v.geo.add(cg, db, dp, newFlows)
	if sg != nil && (cg == nil || sg.CountryCode != cg.CountryCode || sg.Lat != cg.Lat || sg.Lon != cg.Lon) {
		v.geo.add(sg, db, dp, newFlows)
	}
	for len(v.flows) > v.maxFlows {
		v.evictOldest()
	}
}

// delta is the growth of a running total; a total that went down means a
// new flow reused the id, so all of it is new.
func delta(old, cur event.Counters) event.Counters {
	if cur.Bytes < old.Bytes || cur.Packets < old.Packets {
		return cur
	}
	return event.Counters{Bytes: cur.Bytes - old.Bytes, Packets: cur.Packets - old.Packets}
}

// keepGeo returns a private copy of g, reusing old when it is equal, so a
// flow's updates do not allocate a new geo each time.
func keepGeo(old, g *event.Geo) *event.Geo {
	if g == nil {
		return nil
	}
	if old != nil && *old == *g {
		return old
	}
	c := *g
	return &c
}

func (v *liveView) pushFront(e *flowEntry) {
	e.prev, e.next = nil, v.head
	if v.head != nil {
		v.head.prev = e
	}
	v.head = e
	if v.tail == nil {
		v.tail = e
	}
}

func (v *liveView) unlink(e *flowEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		v.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		v.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (v *liveView) moveFront(e *flowEntry) {
	if v.head == e {
		return
	}
	v.unlink(e)
	v.pushFront(e)
}

func (v *liveView) evictOldest() {
	e := v.tail
	if e == nil {
		return
	}
	v.unlink(e)
	delete(v.flows, e.rec.ID)
	delete(v.dirty, e.rec.ID)
	if !e.ended {
		v.active--
	}
	v.flowsEvicted.Add(1)
}

// addIPStats keeps the latest interval record of each address: its
// distinct peer and port counts are shown beside the flow-derived totals
// (which are not counted twice).
func (v *liveView) addIPStats(recs []event.IPStatRec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		e := v.ipEntry(r.IP)
		if e == nil {
			continue
		}
		if e.stat == nil || r.End >= e.stat.End {
			st := *r
			st.Geo = keepGeo(nil, r.Geo)
			e.stat = &st
			if e.geo == nil && st.Geo != nil {
				e.geo = st.Geo
			}
		}
		if r.End > v.clock {
			v.clock = r.End
		}
	}
}

// addAlerts records alerts for the alerts page and the next summary.
func (v *liveView) addAlerts(recs []event.AlertRec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range recs {
		v.alerts.add(copyAlert(&recs[i]))
	}
}

func copyAlert(a *event.AlertRec) event.AlertRec {
	c := *a
	if a.Flow != nil {
		f := *a.Flow
		f.Client.Geo, f.Server.Geo = keepGeo(nil, f.Client.Geo), keepGeo(nil, f.Server.Geo)
		f.Tags, f.Attrs = slices.Clone(f.Tags), maps.Clone(f.Attrs)
		c.Flow = &f
	}
	if a.IPStat != nil {
		s := *a.IPStat
		s.Geo = keepGeo(nil, s.Geo)
		c.IPStat = &s
	}
	c.Labels = maps.Clone(a.Labels)
	return c
}

// takePending returns and resets the flow-derived traffic since the last
// call, for the rate sampler.
func (v *liveView) takePending() (bytes, packets, flows uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	bytes, packets, flows = v.pendBytes, v.pendPkts, v.pendFlows
	v.pendBytes, v.pendPkts, v.pendFlows = 0, 0, 0
	return
}

// takeDirty returns copies of the flows changed since the last call, at
// most max of them (the most recently updated), and resets the set.
func (v *liveView) takeDirty(max int) (recs []event.FlowRec, more int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.dirty) == 0 {
		return nil, 0
	}
	for e := v.head; e != nil && len(recs) < max; e = e.next {
		if _, ok := v.dirty[e.rec.ID]; ok {
			recs = append(recs, e.rec)
		}
	}
	more = len(v.dirty) - len(recs)
	clear(v.dirty)
	return recs, more
}

// counts returns the live totals.
func (v *liveView) counts() (active int, seen, ended, bytes, packets uint64, clock event.Time) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.active, v.flowsSeen, v.flowsEnded, v.bytes, v.packets, v.clock
}

// protoMix returns the traffic per protocol name.
func (v *liveView) protoMix() map[string]protoAgg {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make(map[string]protoAgg, len(v.protos))
	for p, a := range v.protos {
		out[event.ProtoName(p)] = *a
	}
	return out
}
