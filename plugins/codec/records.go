package codec

import (
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// The functions below convert one record each way. *To* functions fill
// a message from a record; the message shares the record's tags, attrs
// and labels, so it must not outlive the record. *From* functions build a
// record from a message; the record shares the message's tags, attrs and
// labels, which is fine because decoded messages are thrown away.

// GeoToProto converts a geo, nil to nil.
func GeoToProto(g *event.Geo) *pluginv1.Geo {
	if g == nil {
		return nil
	}
	return &pluginv1.Geo{Label: g.Label, CountryCode: g.CountryCode, Country: g.Country, City: g.City, Lat: g.Lat, Lon: g.Lon, Asn: g.ASN, AsOrg: g.ASOrg}
}

// GeoFromProto converts a geo, nil to nil.
func GeoFromProto(m *pluginv1.Geo) *event.Geo {
	if m == nil {
		return nil
	}
	return &event.Geo{Label: m.Label, CountryCode: m.CountryCode, Country: m.Country, City: m.City, Lat: m.Lat, Lon: m.Lon, ASN: m.Asn, ASOrg: m.AsOrg}
}

// FlowToProto fills m from f; address bytes are appended to arena, which
// is returned grown. Geos are new messages unless geo is given: then
// geo(g) supplies them (an Encoder reuses its own).
func FlowToProto(f *event.FlowRec, m *pluginv1.Flow, arena []byte, geo func(*event.Geo) *pluginv1.Geo) []byte {
	if geo == nil {
		geo = GeoToProto
	}
	var cip, sip []byte
	arena, cip = appendAddr(arena, f.Client.IP)
	arena, sip = appendAddr(arena, f.Server.IP)
	*m = pluginv1.Flow{
		Id:          f.ID,
		Event:       pluginv1.FlowEvent(f.Event),
		Proto:       uint32(f.Proto),
		ClientIp:    cip,
		ClientPort:  uint32(f.Client.Port),
		ClientGeo:   geo(f.Client.Geo),
		ServerIp:    sip,
		ServerPort:  uint32(f.Server.Port),
		ServerGeo:   geo(f.Server.Geo),
		Vlan:        uint32(f.VLAN),
		FirstSeenNs: int64(f.FirstSeen),
		LastSeenNs:  int64(f.LastSeen),
		C2SPackets:  f.C2S.Packets,
		C2SBytes:    f.C2S.Bytes,
		S2CPackets:  f.S2C.Packets,
		S2CBytes:    f.S2C.Bytes,
		TcpState:    pluginv1.TCPState(f.TCPState),
		FlagsC2S:    uint32(f.FlagsC2S),
		FlagsS2C:    uint32(f.FlagsS2C),
		RttNs:       int64(f.RTT),
		EndReason:   pluginv1.EndReason(f.Reason),
		Tags:        f.Tags,
		Attrs:       f.Attrs,
	}
	return arena
}

// FlowFromProto returns the flow of m. Numbers wider than the record's
// fields are truncated: a plugin cannot make the host misbehave by
// sending an out-of-range port.
func FlowFromProto(m *pluginv1.Flow) event.FlowRec {
	return event.FlowRec{
		ID:        m.Id,
		Event:     event.FlowEvent(m.Event),
		Proto:     uint8(m.Proto),
		Client:    event.Endpoint{IP: Addr(m.ClientIp), Port: uint16(m.ClientPort), Geo: GeoFromProto(m.ClientGeo)},
		Server:    event.Endpoint{IP: Addr(m.ServerIp), Port: uint16(m.ServerPort), Geo: GeoFromProto(m.ServerGeo)},
		VLAN:      uint16(m.Vlan),
		FirstSeen: event.Time(m.FirstSeenNs),
		LastSeen:  event.Time(m.LastSeenNs),
		C2S:       event.Counters{Packets: m.C2SPackets, Bytes: m.C2SBytes},
		S2C:       event.Counters{Packets: m.S2CPackets, Bytes: m.S2CBytes},
		TCPState:  event.TCPState(m.TcpState),
		FlagsC2S:  uint8(m.FlagsC2S),
		FlagsS2C:  uint8(m.FlagsS2C),
		RTT:       time.Duration(m.RttNs),
		Reason:    event.EndReason(m.EndReason),
		Tags:      m.Tags,
		Attrs:     m.Attrs,
	}
}

// IPStatToProto fills m from s; see FlowToProto.
func IPStatToProto(s *event.IPStatRec, m *pluginv1.IPStat, arena []byte, geo func(*event.Geo) *pluginv1.Geo) []byte {
	if geo == nil {
		geo = GeoToProto
	}
	var ip []byte
	arena, ip = appendAddr(arena, s.IP)
	*m = pluginv1.IPStat{
		Ip:         ip,
		StartNs:    int64(s.Start),
		EndNs:      int64(s.End),
		BytesIn:    s.BytesIn,
		BytesOut:   s.BytesOut,
		PacketsIn:  s.PacketsIn,
		PacketsOut: s.PacketsOut,
		Flows:      s.Flows,
		Peers:      s.Peers,
		DstPorts:   s.DstPorts,
		Geo:        geo(s.Geo),
	}
	return arena
}

// IPStatFromProto returns the record of m.
func IPStatFromProto(m *pluginv1.IPStat) event.IPStatRec {
	return event.IPStatRec{
		IP:         Addr(m.Ip),
		Start:      event.Time(m.StartNs),
		End:        event.Time(m.EndNs),
		BytesIn:    m.BytesIn,
		BytesOut:   m.BytesOut,
		PacketsIn:  m.PacketsIn,
		PacketsOut: m.PacketsOut,
		Flows:      m.Flows,
		Peers:      m.Peers,
		DstPorts:   m.DstPorts,
		Geo:        GeoFromProto(m.Geo),
	}
}

// AlertToProto returns the message of a; its flow and ipstat are new
// messages.
func AlertToProto(a *event.AlertRec) *pluginv1.Alert {
	m := &pluginv1.Alert{
		Id:        a.ID,
		Rule:      a.Rule,
		Severity:  string(a.Severity),
		TimeNs:    int64(a.Time),
		State:     string(a.State),
		Subject:   a.Subject,
		Message:   a.Message,
		DedupeKey: a.DedupKey,
		Labels:    a.Labels,
	}
	if a.Flow != nil {
		m.Flow = new(pluginv1.Flow)
		FlowToProto(a.Flow, m.Flow, nil, nil)
	}
	if a.IPStat != nil {
		m.Ipstat = new(pluginv1.IPStat)
		IPStatToProto(a.IPStat, m.Ipstat, nil, nil)
	}
	return m
}

// AlertFromProto returns the alert of m.
func AlertFromProto(m *pluginv1.Alert) event.AlertRec {
	a := event.AlertRec{
		ID:       m.Id,
		Rule:     m.Rule,
		Severity: event.Severity(m.Severity),
		Time:     event.Time(m.TimeNs),
		State:    event.AlertState(m.State),
		Subject:  m.Subject,
		Message:  m.Message,
		DedupKey: m.DedupeKey,
		Labels:   m.Labels,
	}
	if m.Flow != nil {
		f := FlowFromProto(m.Flow)
		a.Flow = &f
	}
	if m.Ipstat != nil {
		s := IPStatFromProto(m.Ipstat)
		a.IPStat = &s
	}
	return a
}

// PacketToProto fills m from p; see FlowToProto.
func PacketToProto(p *event.PacketRec, m *pluginv1.Packet, arena []byte) []byte {
	var src, dst []byte
	arena, src = appendAddr(arena, p.Src)
	arena, dst = appendAddr(arena, p.Dst)
	*m = pluginv1.Packet{
		TsNs:      int64(p.TS),
		WireLen:   p.WireLen,
		CapLen:    p.CapLen,
		Iface:     uint32(p.Iface),
		Vlan:      uint32(p.VLAN),
		InnerVlan: uint32(p.InnerVLN),
		Src:       src,
		Dst:       dst,
		Proto:     uint32(p.Proto),
		SrcPort:   uint32(p.SrcPort),
		DstPort:   uint32(p.DstPort),
		TcpFlags:  uint32(p.TCPFlags),
		Frag:      uint32(p.Frag),
		IcmpType:  uint32(p.ICMPType),
		IcmpCode:  uint32(p.ICMPCode),
		Seq:       p.Seq,
		Ack:       p.Ack,
		FragId:    p.FragID,
		IpVersion: uint32(p.IPVer),
	}
	return arena
}

// PacketFromProto returns the packet of m.
func PacketFromProto(m *pluginv1.Packet) event.PacketRec {
	return event.PacketRec{
		TS:       event.Time(m.TsNs),
		WireLen:  m.WireLen,
		CapLen:   m.CapLen,
		Iface:    uint16(m.Iface),
		VLAN:     uint16(m.Vlan),
		InnerVLN: uint16(m.InnerVlan),
		Src:      Addr(m.Src),
		Dst:      Addr(m.Dst),
		Proto:    uint8(m.Proto),
		SrcPort:  uint16(m.SrcPort),
		DstPort:  uint16(m.DstPort),
		TCPFlags: uint8(m.TcpFlags),
		Frag:     uint8(m.Frag),
		ICMPType: uint8(m.IcmpType),
		ICMPCode: uint8(m.IcmpCode),
		Seq:      m.Seq,
		Ack:      m.Ack,
		FragID:   m.FragId,
		IPVer:    uint8(m.IpVersion),
	}
}
