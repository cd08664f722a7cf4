package event

import (
	"encoding/json"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// The JSON contract: one encoding of every record, shared by all sinks and
// APIs. Field names may be added, never changed. The encoders append to a
// caller's buffer so a sink can write millions of records without
// allocating.

// ProtoName returns "tcp", "udp", "icmp", "icmpv6" or the protocol number.
func ProtoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// ParseProto is the inverse of ProtoName.
func ParseProto(s string) (uint8, bool) {
	switch s {
	case "tcp":
		return 6, true
	case "udp":
		return 17, true
	case "icmp":
		return 1, true
	case "icmpv6":
		return 58, true
	case "sctp":
		return 132, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	return uint8(n), err == nil
}

// AppendTime appends t as a quoted RFC 3339 timestamp with nanoseconds.
func AppendTime(dst []byte, t Time) []byte {
	dst = append(dst, '"')
	dst = t.Std().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// AppendString appends s as a JSON string.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	dst = append(dst, '"')
	if a.IsValid() {
		dst = a.Unmap().AppendTo(dst)
	}
	return append(dst, '"')
}

func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendUint(dst []byte, key string, v uint64) []byte {
	return strconv.AppendUint(appendKey(dst, key), v, 10)
}

// AppendGeo appends a geo object.
func AppendGeo(dst []byte, g *Geo) []byte {
	dst = append(dst, '{')
	n := len(dst)
	str := func(k, v string) {
		if v != "" {
			dst = AppendString(appendKey(dst, k), v)
		}
	}
	str("label", g.Label)
	str("country_code", g.CountryCode)
	str("country", g.Country)
	str("city", g.City)
	// JSON has no NaN or infinity: a broken database value must not
	// make the whole line invalid, so such a position is left out.
	if (g.Lat != 0 || g.Lon != 0) && finite(g.Lat) && finite(g.Lon) {
		dst = strconv.AppendFloat(appendKey(dst, "lat"), g.Lat, 'f', -1, 64)
		dst = strconv.AppendFloat(appendKey(dst, "lon"), g.Lon, 'f', -1, 64)
	}
	if g.ASN != 0 {
		dst = appendUint(dst, "asn", uint64(g.ASN))
	}
	str("as_org", g.ASOrg)
	if len(dst) > n {
		// drop the leading comma of the first key
		copy(dst[n:], dst[n+1:])
		dst = dst[:len(dst)-1]
	}
	return append(dst, '}')
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func appendEndpoint(dst []byte, e *Endpoint) []byte {
	dst = append(dst, `{"ip":`...)
	dst = appendAddr(dst, e.IP)
	dst = appendUint(dst, "port", uint64(e.Port))
	if e.Geo != nil {
		dst = AppendGeo(appendKey(dst, "geo"), e.Geo)
	}
	return append(dst, '}')
}

func appendCounters(dst []byte, c Counters) []byte {
	dst = append(dst, `{"packets":`...)
	dst = strconv.AppendUint(dst, c.Packets, 10)
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendUint(dst, c.Bytes, 10)
	return append(dst, '}')
}

// FlowID renders a flow id as 16 hex digits.
func FlowID(id uint64) string {
	var b [16]byte
	return string(appendFlowID(b[:0], id))
}

func appendFlowID(dst []byte, id uint64) []byte {
	const hex = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hex[(id>>uint(i))&0xf])
	}
	return dst
}

// AppendJSON appends the flow in the JSON contract.
func (f *FlowRec) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"kind":"flow","event":`...)
	if f.Event == FlowEnd {
		dst = append(dst, `"end"`...)
	} else {
		dst = append(dst, `"update"`...)
	}
	dst = append(dst, `,"id":"`...)
	dst = appendFlowID(dst, f.ID)
	dst = append(dst, `","proto":`...)
	dst = AppendString(dst, ProtoName(f.Proto))
	dst = appendEndpoint(appendKey(dst, "client"), &f.Client)
	dst = appendEndpoint(appendKey(dst, "server"), &f.Server)
	dst = appendUint(dst, "vlan", uint64(f.VLAN))
	dst = AppendTime(appendKey(dst, "first_seen"), f.FirstSeen)
	dst = AppendTime(appendKey(dst, "last_seen"), f.LastSeen)
	dst = appendCounters(appendKey(dst, "c2s"), f.C2S)
	dst = appendCounters(appendKey(dst, "s2c"), f.S2C)
	if f.Proto == 6 {
		dst = append(dst, `,"tcp":{"state":`...)
		dst = AppendString(dst, f.TCPState.String())
		dst = append(dst, `,"flags_c2s":"`...)
		dst = append(dst, FlagString(f.FlagsC2S)...)
		dst = append(dst, `","flags_s2c":"`...)
		dst = append(dst, FlagString(f.FlagsS2C)...)
		dst = append(dst, '"')
		if f.RTT > 0 {
			dst = strconv.AppendFloat(appendKey(dst, "rtt_ms"), float64(f.RTT)/1e6, 'f', 3, 64)
		}
		dst = append(dst, '}')
	}
	if f.Reason != ReasonNone {
		dst = AppendString(appendKey(dst, "end_reason"), f.Reason.String())
	}
	if len(f.Tags) > 0 {
		dst = append(appendKey(dst, "tags"), '[')
		for i, t := range f.Tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, t)
		}
		dst = append(dst, ']')
	}
	if len(f.Attrs) > 0 {
		dst = appendMap(appendKey(dst, "attrs"), f.Attrs)
	}
	return append(dst, '}')
}

func appendMap(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = AppendString(dst, m[k])
	}
	return append(dst, '}')
}

// AppendJSON appends the per-IP record in the JSON contract.
func (s *IPStatRec) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"kind":"ipstat","ip":`...)
	dst = appendAddr(dst, s.IP)
	dst = AppendTime(appendKey(dst, "start"), s.Start)
	dst = AppendTime(appendKey(dst, "end"), s.End)
	dst = appendUint(dst, "bytes_in", s.BytesIn)
	dst = appendUint(dst, "bytes_out", s.BytesOut)
	dst = appendUint(dst, "packets_in", s.PacketsIn)
	dst = appendUint(dst, "packets_out", s.PacketsOut)
	dst = appendUint(dst, "flows", s.Flows)
	dst = appendUint(dst, "peers", uint64(s.Peers))
	dst = appendUint(dst, "dst_ports", uint64(s.DstPorts))
	if s.Geo != nil {
		dst = AppendGeo(appendKey(dst, "geo"), s.Geo)
	}
	return append(dst, '}')
}

// AppendJSON appends the packet summary.
func (p *PacketRec) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"kind":"packet","ts":`...)
	dst = AppendTime(dst, p.TS)
	dst = appendUint(dst, "len", uint64(p.WireLen))
	dst = appendUint(dst, "caplen", uint64(p.CapLen))
	if p.VLAN != 0 {
		dst = appendUint(dst, "vlan", uint64(p.VLAN))
	}
	dst = AppendString(appendKey(dst, "proto"), ProtoName(p.Proto))
	dst = appendAddr(appendKey(dst, "src"), p.Src)
	dst = appendAddr(appendKey(dst, "dst"), p.Dst)
	switch p.Proto {
	case 6, 17, 132:
		dst = appendUint(dst, "sport", uint64(p.SrcPort))
		dst = appendUint(dst, "dport", uint64(p.DstPort))
	case 1, 58:
		dst = appendUint(dst, "icmp_type", uint64(p.ICMPType))
		dst = appendUint(dst, "icmp_code", uint64(p.ICMPCode))
	}
	if p.Proto == 6 {
		dst = append(appendKey(dst, "tcp_flags"), '"')
		dst = append(dst, FlagString(p.TCPFlags)...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// AppendJSON appends the alert in the JSON contract.
func (a *AlertRec) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"kind":"alert","id":`...)
	dst = AppendString(dst, a.ID)
	dst = AppendString(appendKey(dst, "rule"), a.Rule)
	dst = AppendString(appendKey(dst, "severity"), string(a.Severity))
	dst = AppendTime(appendKey(dst, "time"), a.Time)
	dst = AppendString(appendKey(dst, "state"), string(a.State))
	dst = AppendString(appendKey(dst, "subject"), a.Subject)
	dst = AppendString(appendKey(dst, "message"), a.Message)
	dst = AppendString(appendKey(dst, "dedupe_key"), a.DedupKey)
	if len(a.Labels) > 0 {
		dst = appendMap(appendKey(dst, "labels"), a.Labels)
	}
	if a.Flow != nil {
		dst = a.Flow.AppendJSON(appendKey(dst, "flow"))
	}
	if a.IPStat != nil {
		dst = a.IPStat.AppendJSON(appendKey(dst, "ipstat"))
	}
	return append(dst, '}')
}

// AppendJSONLines appends every event of the batch, one JSON object and a
// newline each.
func (b *Batch) AppendJSONLines(dst []byte) []byte {
	switch b.Kind {
	case Packet:
		for i := range b.Packets {
			dst = append(b.Packets[i].AppendJSON(dst), '\n')
		}
	case Flow:
		for i := range b.Flows {
			dst = append(b.Flows[i].AppendJSON(dst), '\n')
		}
	case IPStat:
		for i := range b.IPStats {
			dst = append(b.IPStats[i].AppendJSON(dst), '\n')
		}
	case Alert:
		for i := range b.Alerts {
			dst = append(b.Alerts[i].AppendJSON(dst), '\n')
		}
	}
	return dst
}

// MarshalJSON implements json.Marshaler with the contract encoding.
func (f FlowRec) MarshalJSON() ([]byte, error) { return f.AppendJSON(nil), nil }

// MarshalJSON implements json.Marshaler with the contract encoding.
func (s IPStatRec) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// MarshalJSON implements json.Marshaler with the contract encoding.
func (a AlertRec) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }

var _ json.Marshaler = FlowRec{}
