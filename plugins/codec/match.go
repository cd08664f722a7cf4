package codec

import (
	"slices"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// The Match functions report whether a record still equals the message it
// was decoded from, so a plugin can answer "unchanged" and spare both
// sides encoding the records back. They must compare every field: a
// change they miss would be lost.

// GeoMatches compares a geo with its message.
func GeoMatches(g *event.Geo, m *pluginv1.Geo) bool {
	if g == nil || m == nil {
		return g == nil && m == nil
	}
	return g.Label == m.Label && g.CountryCode == m.CountryCode && g.Country == m.Country && g.City == m.City &&
		sameFloat(g.Lat, m.Lat) && sameFloat(g.Lon, m.Lon) && g.ASN == m.Asn && g.ASOrg == m.AsOrg
}

// sameFloat treats NaN as equal to itself: a NaN coordinate that nobody
// touched is not a change.
func sameFloat(a, b float64) bool { return a == b || (a != a && b != b) }

// FlowMatches compares a flow with its message.
func FlowMatches(f *event.FlowRec, m *pluginv1.Flow) bool {
	return f.ID == m.Id && uint32(f.Event) == uint32(m.Event) && uint32(f.Proto) == m.Proto &&
		addrMatches(f.Client.IP, m.ClientIp) && uint32(f.Client.Port) == m.ClientPort && GeoMatches(f.Client.Geo, m.ClientGeo) &&
		addrMatches(f.Server.IP, m.ServerIp) && uint32(f.Server.Port) == m.ServerPort && GeoMatches(f.Server.Geo, m.ServerGeo) &&
		uint32(f.VLAN) == m.Vlan && int64(f.FirstSeen) == m.FirstSeenNs && int64(f.LastSeen) == m.LastSeenNs &&
		f.C2S.Packets == m.C2SPackets && f.C2S.Bytes == m.C2SBytes && f.S2C.Packets == m.S2CPackets && f.S2C.Bytes == m.S2CBytes &&
		uint32(f.TCPState) == uint32(m.TcpState) && uint32(f.FlagsC2S) == m.FlagsC2S && uint32(f.FlagsS2C) == m.FlagsS2C &&
		f.RTT == time.Duration(m.RttNs) && uint32(f.Reason) == uint32(m.EndReason) &&
		slices.Equal(f.Tags, m.Tags) && mapsMatch(f.Attrs, m.Attrs)
}

// mapsMatch treats nil and empty as equal, as the wire does.
func mapsMatch(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// IPStatMatches compares a per-IP record with its message.
func IPStatMatches(s *event.IPStatRec, m *pluginv1.IPStat) bool {
	return addrMatches(s.IP, m.Ip) && int64(s.Start) == m.StartNs && int64(s.End) == m.EndNs &&
		s.BytesIn == m.BytesIn && s.BytesOut == m.BytesOut && s.PacketsIn == m.PacketsIn && s.PacketsOut == m.PacketsOut &&
		s.Flows == m.Flows && s.Peers == m.Peers && s.DstPorts == m.DstPorts && GeoMatches(s.Geo, m.Geo)
}

// AlertMatches compares an alert with its message.
func AlertMatches(a *event.AlertRec, m *pluginv1.Alert) bool {
	if !(a.ID == m.Id && a.Rule == m.Rule && string(a.Severity) == m.Severity && int64(a.Time) == m.TimeNs &&
		string(a.State) == m.State && a.Subject == m.Subject && a.Message == m.Message && a.DedupKey == m.DedupeKey &&
		mapsMatch(a.Labels, m.Labels)) {
		return false
	}
	if (a.Flow == nil) != (m.Flow == nil) || (a.IPStat == nil) != (m.Ipstat == nil) {
		return false
	}
	return (a.Flow == nil || FlowMatches(a.Flow, m.Flow)) && (a.IPStat == nil || IPStatMatches(a.IPStat, m.Ipstat))
}

// PacketMatches compares a packet with its message.
func PacketMatches(p *event.PacketRec, m *pluginv1.Packet) bool {
	return int64(p.TS) == m.TsNs && p.WireLen == m.WireLen && p.CapLen == m.CapLen && uint32(p.Iface) == m.Iface &&
		uint32(p.VLAN) == m.Vlan && uint32(p.InnerVLN) == m.InnerVlan && addrMatches(p.Src, m.Src) && addrMatches(p.Dst, m.Dst) &&
		uint32(p.Proto) == m.Proto && uint32(p.SrcPort) == m.SrcPort && uint32(p.DstPort) == m.DstPort &&
		uint32(p.TCPFlags) == m.TcpFlags && uint32(p.Frag) == m.Frag && uint32(p.ICMPType) == m.IcmpType &&
		uint32(p.ICMPCode) == m.IcmpCode && p.Seq == m.Seq && p.Ack == m.Ack && p.FragID == m.FragId && uint32(p.IPVer) == m.IpVersion
}

// BatchMatches reports whether b holds exactly the records of m, unchanged
// and in order.
func BatchMatches(b *event.Batch, m *pluginv1.Batch) bool {
	switch b.Kind {
	case event.Flow:
		return matchAll(b.Flows, m.GetFlows(), FlowMatches)
	case event.IPStat:
		return matchAll(b.IPStats, m.GetIpstats(), IPStatMatches)
	case event.Alert:
		return matchAll(b.Alerts, m.GetAlerts(), AlertMatches)
	case event.Packet:
		return matchAll(b.Packets, m.GetPackets(), PacketMatches)
	}
	return false
}

func matchAll[R, M any](rs []R, ms []*M, eq func(*R, *M) bool) bool {
	if len(rs) != len(ms) {
		return false
	}
	for i := range rs {
		if !eq(&rs[i], ms[i]) {
			return false
		}
	}
	return true
}
