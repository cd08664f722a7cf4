package event

import (
	"net/netip"
	"time"
)

// Time is a timestamp in packet time, as nanoseconds since the Unix epoch.
// Packet time (not wall time) drives every timeout, so a replay behaves
// exactly as the live capture did.
type Time int64

// TimeOf converts a time.Time.
func TimeOf(t time.Time) Time { return Time(t.UnixNano()) }

// Std converts to time.Time in UTC.
func (t Time) Std() time.Time { return time.Unix(0, int64(t)).UTC() }

// Frame is one captured frame. Data points into the batch's arena and is
// valid only while the batch is held.
type Frame struct {
	TS       Time
	WireLen  uint32 // original length on the wire
	LinkType uint16 // LINKTYPE_* value of the interface
	Iface    uint16 // interface index within the source
	Data     []byte
}

// Fragment flags of a decoded packet.
const (
	FragFirst uint8 = 1 << iota // first fragment of a fragmented datagram
	FragLater                   // a non-first fragment (no L4 header of its own)
)

// PacketRec is a decoded L2-L4 summary of one frame. It holds no pointers
// into the frame so it can outlive the raw batch.
type PacketRec struct {
	TS       Time
	WireLen  uint32
	CapLen   uint32
	Iface    uint16
	VLAN     uint16 // outer 802.1Q id, 0 if untagged
	InnerVLN uint16 // inner id for QinQ, 0 if none
	Src, Dst netip.Addr
	Proto    uint8 // IP protocol number
	SrcPort  uint16
	DstPort  uint16
	TCPFlags uint8
	Frag     uint8 // FragFirst / FragLater
	ICMPType uint8
	ICMPCode uint8
	Seq, Ack uint32
	FragID   uint32
	IPVer    uint8
}

// Endpoint is one side of a flow.
type Endpoint struct {
	IP   netip.Addr `json:"ip"`
	Port uint16     `json:"port"`
	Geo  *Geo       `json:"geo,omitempty"`
}

// Counters are per-direction totals; bytes are wire lengths of frames.
type Counters struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Geo is the geolocation of an address. A *Geo attached to a record is
// shared (caches hand out the same value for many records) and must never
// be modified once published: replace the pointer instead.
type Geo struct {
	Label       string  `json:"label,omitempty"` // e.g. "private", "loopback"
	CountryCode string  `json:"country_code,omitempty"`
	Country     string  `json:"country,omitempty"`
	City        string  `json:"city,omitempty"`
	Lat         float64 `json:"lat,omitempty"`
	Lon         float64 `json:"lon,omitempty"`
	ASN         uint32  `json:"asn,omitempty"`
	ASOrg       string  `json:"as_org,omitempty"`
}

// FlowEvent says whether a flow record is an interim update or the end.
type FlowEvent uint8

// Flow event types.
const (
	FlowUpdate FlowEvent = iota + 1
	FlowEnd
)

// EndReason says why a flow ended (or, for updates, why it was reported).
type EndReason uint8

// End reasons.
const (
	ReasonNone EndReason = iota
	ReasonIdle
	ReasonActiveTimeout
	ReasonFIN
	ReasonRST
	ReasonEvicted
	ReasonShutdown
)

var reasonNames = [...]string{"", "idle", "active_timeout", "fin", "rst", "evicted", "shutdown"}

// String returns the reason as written in JSON.
func (r EndReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// TCPState is the tracked state of a TCP connection.
type TCPState uint8

// TCP states, named as in RFC 793 where they apply.
const (
	TCPNone TCPState = iota
	TCPSynSent
	TCPSynReceived
	TCPEstablished
	TCPFinWait
	TCPClosing
	TCPClosed
	TCPReset
)

var tcpStateNames = [...]string{"", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT", "CLOSING", "CLOSED", "RESET"}

// String returns the state name.
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "UNKNOWN"
}

// TCP flag bits as they appear in the TCP header.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// FlagString renders TCP flags nfdump-style: eight fixed positions
// "CEUAPRSF", each either its letter or '.'.
func FlagString(f uint8) string {
	const letters = "FSRPAUEC"
	var b [8]byte
	for i := 0; i < 8; i++ {
		if f&(1<<i) != 0 {
			b[7-i] = letters[i]
		} else {
			b[7-i] = '.'
		}
	}
	return string(b[:])
}

// FlowRec is a bidirectional session. The client is the side that sent
// the SYN, else the first packet's sender adjusted by a well-known-port
// heuristic.
type FlowRec struct {
	ID        uint64
	Event     FlowEvent
	Proto     uint8
	Client    Endpoint
	Server    Endpoint
	VLAN      uint16
	FirstSeen Time
	LastSeen  Time
	C2S, S2C  Counters
	TCPState  TCPState
	FlagsC2S  uint8
	FlagsS2C  uint8
	RTT       time.Duration // handshake RTT (SYN to ACK of SYN-ACK), 0 if not seen
	Reason    EndReason
	Tags      []string
	Attrs     map[string]string
}

// Bytes is the total of both directions.
func (f *FlowRec) Bytes() uint64 { return f.C2S.Bytes + f.S2C.Bytes }

// Packets is the total of both directions.
func (f *FlowRec) Packets() uint64 { return f.C2S.Packets + f.S2C.Packets }

// IPStatRec holds per-IP counters over one interval [Start, End).
type IPStatRec struct {
	IP         netip.Addr
	Start, End Time
	BytesIn    uint64
	BytesOut   uint64
	PacketsIn  uint64
	PacketsOut uint64
	Flows      uint64 // flows this address started (as the client)
	Peers      uint32 // distinct peer addresses
	DstPorts   uint32 // distinct destination ports it sent to
	Geo        *Geo
}

// Severity of an alert.
type Severity string

// AlertState is firing or resolved.
type AlertState string

// Alert states.
const (
	AlertFiring   AlertState = "firing"
	AlertResolved AlertState = "resolved"
)

// AlertRec is raised by a rule.
type AlertRec struct {
	ID       string
	Rule     string
	Severity Severity
	Time     Time
	State    AlertState
	Subject  string
	Message  string
	DedupKey string
	Flow     *FlowRec
	IPStat   *IPStatRec
	Labels   map[string]string
}
