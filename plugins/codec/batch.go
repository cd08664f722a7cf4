package codec

import (
	"fmt"
	"slices"

	"github.com/nfpipe/nfpipe/pipeline/event"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// KindToProto converts an event kind.
func KindToProto(k event.Kind) pluginv1.Kind { return pluginv1.Kind(k) }

// KindFromProto converts a protocol kind; false for an unknown one.
func KindFromProto(k pluginv1.Kind) (event.Kind, bool) {
	switch k {
	case pluginv1.Kind_KIND_PACKET, pluginv1.Kind_KIND_FLOW, pluginv1.Kind_KIND_IPSTAT, pluginv1.Kind_KIND_ALERT:
		return event.Kind(k), true
	}
	return 0, false
}

// Encoder turns event batches into protocol batches. It keeps its
// messages and address bytes between calls, so a stream of batches costs
// no allocation per record once warmed up. One goroutine at a time.
type Encoder struct {
	batch   pluginv1.Batch
	arena   []byte
	flows   []*pluginv1.Flow
	ipstats []*pluginv1.IPStat
	packets []*pluginv1.Packet
	geos    []*pluginv1.Geo
	ngeo    int
}

// Encode returns b as a protocol batch, valid until the next call. Raw
// batches cannot be encoded.
func (e *Encoder) Encode(b *event.Batch) (*pluginv1.Batch, error) {
	e.arena = e.arena[:0]
	e.ngeo = 0
	e.batch = pluginv1.Batch{Kind: KindToProto(b.Kind)}
	switch b.Kind {
	case event.Flow:
		e.flows = grow(e.flows, len(b.Flows))
		for i := range b.Flows {
			e.arena = FlowToProto(&b.Flows[i], e.flows[i], e.arena, e.geo)
		}
		e.batch.Flows = e.flows[:len(b.Flows)]
	case event.IPStat:
		e.ipstats = grow(e.ipstats, len(b.IPStats))
		for i := range b.IPStats {
			e.arena = IPStatToProto(&b.IPStats[i], e.ipstats[i], e.arena, e.geo)
		}
		e.batch.Ipstats = e.ipstats[:len(b.IPStats)]
	case event.Packet:
		e.packets = grow(e.packets, len(b.Packets))
		for i := range b.Packets {
			e.arena = PacketToProto(&b.Packets[i], e.packets[i], e.arena)
		}
		e.batch.Packets = e.packets[:len(b.Packets)]
	case event.Alert:
		e.batch.Alerts = make([]*pluginv1.Alert, len(b.Alerts))
		for i := range b.Alerts {
			e.batch.Alerts[i] = AlertToProto(&b.Alerts[i])
		}
	default:
		return nil, fmt.Errorf("cannot send %s events to a plugin", b.Kind)
	}
	return &e.batch, nil
}

// geo hands out a reused geo message.
func (e *Encoder) geo(g *event.Geo) *pluginv1.Geo {
	if g == nil {
		return nil
	}
	e.geos = grow(e.geos, e.ngeo+1)
	m := e.geos[e.ngeo]
	e.ngeo++
	*m = pluginv1.Geo{Label: g.Label, CountryCode: g.CountryCode, Country: g.Country, City: g.City, Lat: g.Lat, Lon: g.Lon, Asn: g.ASN, AsOrg: g.ASOrg}
	return m
}

// grow makes s hold at least n messages, allocating only new ones.
func grow[T any](s []*T, n int) []*T {
	for len(s) < n {
		s = append(s, new(T))
	}
	return s
}

// Decode appends the records of m to b. m must hold records of b's kind
// only (its kind field may be unset when it holds none); otherwise Decode
// returns an error and appends nothing.
func Decode(m *pluginv1.Batch, b *event.Batch) error {
	n := Len(m)
	var own int
	switch b.Kind {
	case event.Flow:
		own = len(m.GetFlows())
	case event.IPStat:
		own = len(m.GetIpstats())
	case event.Alert:
		own = len(m.GetAlerts())
	case event.Packet:
		own = len(m.GetPackets())
	}
	k := m.GetKind()
	if (k != pluginv1.Kind_KIND_UNSPECIFIED || n > 0) && k != KindToProto(b.Kind) || own != n {
		return fmt.Errorf("answer holds %s records where %s records were sent", describe(m), b.Kind)
	}
	b.Flows = slices.Grow(b.Flows, len(m.GetFlows()))
	b.IPStats = slices.Grow(b.IPStats, len(m.GetIpstats()))
	b.Alerts = slices.Grow(b.Alerts, len(m.GetAlerts()))
	b.Packets = slices.Grow(b.Packets, len(m.GetPackets()))
	for _, f := range m.GetFlows() {
		b.Flows = append(b.Flows, FlowFromProto(f))
	}
	for _, s := range m.GetIpstats() {
		b.IPStats = append(b.IPStats, IPStatFromProto(s))
	}
	for _, a := range m.GetAlerts() {
		b.Alerts = append(b.Alerts, AlertFromProto(a))
	}
	for _, p := range m.GetPackets() {
		b.Packets = append(b.Packets, PacketFromProto(p))
	}
	return nil
}

// describe names what a batch holds, for errors.
func describe(m *pluginv1.Batch) string {
	return fmt.Sprintf("%s (%d flow, %d ipstat, %d alert, %d packet)", m.GetKind(), len(m.GetFlows()), len(m.GetIpstats()), len(m.GetAlerts()), len(m.GetPackets()))
}

// Len is the number of records in m, of any kind.
func Len(m *pluginv1.Batch) int {
	return len(m.GetFlows()) + len(m.GetIpstats()) + len(m.GetAlerts()) + len(m.GetPackets())
}
