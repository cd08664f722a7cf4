package decode

// Reason is the outcome of decoding one frame. Everything but OK means the
// frame produced no packet; the stage counts each reason separately.
type Reason uint8

// Decode outcomes.
const (
	// OK: the frame was decoded into a packet.
	OK Reason = iota
	// Truncated: the capture ends inside a header that is needed (snap
	// length too short, or a cut frame).
	Truncated
	// BadHeader: a header field has an impossible value (IP version that
	// disagrees with the framing, IPv4 IHL below 5, TCP data offset below
	// 5, UDP length below 8, a bad PPPoE version, ...).
	BadHeader
	// BadLength: an IP length is too short for what it must hold: an
	// IPv4 total length below the header length, or an IP length that
	// ends inside the extension or transport headers. (A length longer
	// than the frame is not fatal; see Stats.LengthMismatch.)
	BadLength
	// TooManyHeaders: more VLAN tags, MPLS labels, IPv6 extension headers
	// or IPv4 authentication headers than any real network uses; decoding
	// stops to bound the work a crafted frame can cause.
	TooManyHeaders
	// UnsupportedLinkType: the interface's link type is not decoded.
	UnsupportedLinkType
	// NotIP: a well-formed frame of a protocol other than IP (ARP, LLDP,
	// spanning tree and other LLC frames, PPPoE discovery, PPP control
	// protocols, loopback families other than IPv4 and IPv6). Not an error.
	NotIP
	// UnsupportedEtherType: an EtherType, or an MPLS payload, that nfpipe
	// does not look into (for example 802.1ah, MACsec, MPLS pseudowires).
	UnsupportedEtherType

	numReasons
)

var reasonNames = [numReasons]string{
	OK:                   "ok",
	Truncated:            "truncated",
	BadHeader:            "bad_header",
	BadLength:            "bad_length",
	TooManyHeaders:       "too_many_headers",
	UnsupportedLinkType:  "unsupported_link_type",
	NotIP:                "not_ip",
	UnsupportedEtherType: "unsupported_ethertype",
}

// String returns the reason in snake_case, as used in counter names.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// IsError reports whether the reason means broken or undecodable input,
// as opposed to a well-formed frame that is deliberately skipped (NotIP,
// UnsupportedEtherType). OK is not an error.
func (r Reason) IsError() bool {
	switch r {
	case OK, NotIP, UnsupportedEtherType:
		return false
	}
	return true
}
