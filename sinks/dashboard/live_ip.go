package dashboard

import (
	"net/netip"
	"slices"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// ipEntry is the live totals of one address since it was first seen.
type ipEntry struct {
	ip         netip.Addr
	sent, recv event.Counters
	flows      uint64 // flows it took part in
	started    uint64 // flows it started (as the client)
	firstSeen  event.Time
	lastSeen   event.Time
	geo        *event.Geo
	stat       *event.IPStatRec // latest interval from an ipstats stage
}

// ipCounters are an address's traffic over some span.
type ipCounters struct {
	BytesIn    uint64 `json:"bytes_in"`
	BytesOut   uint64 `json:"bytes_out"`
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
	Flows      uint64 `json:"flows"`
}

func (c *ipCounters) add(o *ipCounters) {
	c.BytesIn += o.BytesIn
	c.BytesOut += o.BytesOut
	c.PacketsIn += o.PacketsIn
	c.PacketsOut += o.PacketsOut
	c.Flows += o.Flows
}

// minuteSpan is the width of a per-IP bucket; liveMinutes buckets are
// kept, which bounds the ranges the live view answers without history.
const (
	minuteSpan  = event.Time(time.Minute)
	liveMinutes = 60
)

// minuteBucket is one minute of per-IP traffic, in packet time.
type minuteBucket struct {
	minute int64 // packet time / minuteSpan; 0 = unused
	ips    map[netip.Addr]*ipCounters
	total  ipCounters
}

// minuteRing holds the last liveMinutes minutes.
type minuteRing struct {
	b      [liveMinutes]minuteBucket
	latest int64
}

// bucket returns the bucket for packet time t, recycling an old one, or
// nil if t is older than the ring.
func (r *minuteRing) bucket(t event.Time) *minuteBucket {
	m := int64(t / minuteSpan)
	if m <= r.latest-liveMinutes {
		return nil
	}
	if m > r.latest {
		r.latest = m
	}
	b := &r.b[m%liveMinutes]
	if b.minute != m {
		b.minute = m
		if b.ips == nil {
			b.ips = make(map[netip.Addr]*ipCounters)
		}
		clear(b.ips)
		b.total = ipCounters{}
	}
	return b
}

// since returns the buckets of the last n minutes, oldest first.
func (r *minuteRing) since(n int) []*minuteBucket {
	n = min(n, liveMinutes)
	var out []*minuteBucket
	for m := r.latest - int64(n) + 1; m <= r.latest; m++ {
		if m <= 0 {
			continue
		}
		if b := &r.b[m%liveMinutes]; b.minute == m {
			out = append(out, b)
		}
	}
	return out
}

// ipEntry returns the entry of ip, creating it (and making room) if
// needed; nil for an invalid address.
func (v *liveView) ipEntry(ip netip.Addr) *ipEntry {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap()
	e := v.ips[ip]
	if e == nil {
		if len(v.ips) >= v.maxIPs {
			v.evictIPs()
		}
		e = &ipEntry{ip: ip}
		v.ips[ip] = e
	}
	return e
}

// addIP adds one flow's change to an address: out is what it sent, in
// what it received.
func (v *liveView) addIP(ip netip.Addr, g *event.Geo, out, in event.Counters, flows, started uint64, t event.Time) {
	e := v.ipEntry(ip)
	if e == nil {
		return
	}
	ip = e.ip
	e.sent.Bytes += out.Bytes
	e.sent.Packets += out.Packets
	e.recv.Bytes += in.Bytes
	e.recv.Packets += in.Packets
	e.flows += flows
	e.started += started
	if e.firstSeen == 0 || t < e.firstSeen {
		e.firstSeen = t
	}
	if t > e.lastSeen {
		e.lastSeen = t
	}
	if g != nil {
		e.geo = g
	}
	b := v.minutes.bucket(t)
	if b == nil {
		return
	}
	c := b.ips[ip]
	if c == nil {
		if len(b.ips) >= v.maxIPs {
			return // the bucket is full: the address still counts in its totals
		}
		c = &ipCounters{}
		b.ips[ip] = c
	}
	d := ipCounters{BytesIn: in.Bytes, BytesOut: out.Bytes, PacketsIn: in.Packets, PacketsOut: out.Packets, Flows: flows}
	c.add(&d)
}

// evictIPs drops the least recently seen tenth of the addresses, so
// eviction is rare and its cost spread out.
func (v *liveView) evictIPs() {
	entries := make([]*ipEntry, 0, len(v.ips))
	for _, e := range v.ips {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *ipEntry) int { return cmpTime(a.lastSeen, b.lastSeen) })
	n := max(1, len(entries)/10)
	for _, e := range entries[:n] {
		delete(v.ips, e.ip)
	}
	v.ipsEvicted.Add(uint64(n))
}

func cmpTime(a, b event.Time) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// IPStat is one address's row in /api/ip-stats and /api/top-talkers.
type IPStat struct {
	IP         string     `json:"ip"`
	BytesIn    uint64     `json:"bytes_in"`
	BytesOut   uint64     `json:"bytes_out"`
	Bytes      uint64     `json:"bytes"`
	PacketsIn  uint64     `json:"packets_in"`
	PacketsOut uint64     `json:"packets_out"`
	Packets    uint64     `json:"packets"`
	Flows      uint64     `json:"flows"`
	Started    uint64     `json:"flows_started,omitempty"`
	Peers      uint32     `json:"peers,omitempty"`     // distinct peers in the latest ipstats interval
	DstPorts   uint32     `json:"dst_ports,omitempty"` // distinct destination ports, same
	FirstSeen  *time.Time `json:"first_seen,omitempty"`
	LastSeen   *time.Time `json:"last_seen,omitempty"`
	Geo        *event.Geo `json:"geo,omitempty"`
}

func statOf(ip netip.Addr, c ipCounters) IPStat {
	return IPStat{
		IP: ip.String(), BytesIn: c.BytesIn, BytesOut: c.BytesOut, Bytes: c.BytesIn + c.BytesOut,
		PacketsIn: c.PacketsIn, PacketsOut: c.PacketsOut, Packets: c.PacketsIn + c.PacketsOut, Flows: c.Flows,
	}
}

func tptr(t event.Time) *time.Time {
	if t == 0 {
		return nil
	}
	s := t.Std()
	return &s
}

// ipStats returns per-address rows: totals since first seen when minutes
// is 0, else the sum of the last minutes minute buckets.
func (v *liveView) ipStats(minutes int) []IPStat {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []IPStat
	if minutes <= 0 {
		out = make([]IPStat, 0, len(v.ips))
		for _, e := range v.ips {
			out = append(out, v.rowOf(e))
		}
		return out
	}
	sums := map[netip.Addr]*ipCounters{}
	for _, b := range v.minutes.since(minutes) {
		for ip, c := range b.ips {
			s := sums[ip]
			if s == nil {
				s = &ipCounters{}
				sums[ip] = s
			}
			s.add(c)
		}
	}
	out = make([]IPStat, 0, len(sums))
	for ip, c := range sums {
		row := statOf(ip, *c)
		if e := v.ips[ip]; e != nil {
			row.Geo, row.LastSeen = e.geo, tptr(e.lastSeen)
		}
		out = append(out, row)
	}
	return out
}

func (v *liveView) rowOf(e *ipEntry) IPStat {
	row := statOf(e.ip, ipCounters{BytesIn: e.recv.Bytes, BytesOut: e.sent.Bytes, PacketsIn: e.recv.Packets, PacketsOut: e.sent.Packets, Flows: e.flows})
	row.Started = e.started
	row.FirstSeen, row.LastSeen = tptr(e.firstSeen), tptr(e.lastSeen)
	row.Geo = e.geo
	if e.stat != nil {
		row.Peers, row.DstPorts = e.stat.Peers, e.stat.DstPorts
	}
	return row
}

// ipRow returns one address's totals.
func (v *liveView) ipRow(ip netip.Addr) (IPStat, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e := v.ips[ip.Unmap()]
	if e == nil {
		return IPStat{}, false
	}
	return v.rowOf(e), true
}

// ipMinutes returns an address's per-minute traffic over the live ring
// (or the whole traffic's when ip is invalid), as columns with a point
// for every minute, zero where nothing was seen, so a chart has a time
// axis even for an address seen once.
func (v *liveView) ipMinutes(ip netip.Addr, minutes int) (ts []int64, in, out, flows []uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	ip = ip.Unmap()
	r := &v.minutes
	if r.latest == 0 {
		return
	}
	n := int64(min(max(minutes, 1), liveMinutes))
	for m := r.latest - n + 1; m <= r.latest; m++ {
		var c *ipCounters
		if b := &r.b[m%liveMinutes]; m > 0 && b.minute == m {
			c = &b.total
			if ip.IsValid() {
				c = b.ips[ip]
			}
		}
		if c == nil {
			c = &ipCounters{}
		}
		ts = append(ts, m*int64(minuteSpan)/1e6)
		in = append(in, c.BytesIn)
		out = append(out, c.BytesOut)
		flows = append(flows, c.Flows)
	}
	return
}

// liveSpan is how far back the minute buckets reach, in packet time.
func (v *liveView) liveSpan() (from, to event.Time) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	bs := v.minutes.since(liveMinutes)
	if len(bs) == 0 {
		return 0, 0
	}
	return event.Time(bs[0].minute) * minuteSpan, v.clock
}
