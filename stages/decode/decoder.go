package decode

import (
	"encoding/binary"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Link types (LINKTYPE_* values of pcap and pcapng).
const (
	linkNull     = 0   // BSD loopback, address family in host byte order
	linkEthernet = 1   // Ethernet II and 802.3
	linkPPP      = 9   // PPP, optionally with HDLC address and control
	linkRawBSD   = 12  // DLT_RAW as written by most BSDs
	linkRawOpen  = 14  // DLT_RAW as written by OpenBSD
	linkPPPHDLC  = 50  // PPP in HDLC-like framing
	linkRaw      = 101 // raw IPv4 or IPv6
	linkLoop     = 108 // OpenBSD loopback, address family in network order
	linkSLL      = 113 // Linux cooked capture v1
	linkIPv4     = 228 // raw IPv4 only
	linkIPv6     = 229 // raw IPv6 only
	linkSLL2     = 276 // Linux cooked capture v2
)

// Header chain limits. Real networks use at most two VLAN tags, a few
// MPLS labels and a handful of IPv6 extension headers; the limits only
// stop crafted frames from making the decoder walk long chains.
const (
	maxVLANTags  = 8
	maxMPLS      = 16
	maxIPv6Ext   = 12
	maxIPv4AH    = 2  // AH inside AH has no use; two is already generous
	maxEtherHops = 12 // VLAN tags + LLC/SNAP + PPPoE per frame
)

// Defaults of Options.
const (
	DefaultFragmentTableSize = 4096
	DefaultFragmentTimeout   = 30 * time.Second
)

// Options configure a Decoder.
type Options struct {
	// FragmentTableSize bounds the number of fragmented datagrams whose
	// ports are remembered; the oldest entry is replaced when it is full.
	// Zero or less means DefaultFragmentTableSize.
	FragmentTableSize int
	// FragmentTimeout is how long, in packet time, the ports of a
	// fragmented datagram are kept after its first fragment. Zero or less
	// means DefaultFragmentTimeout.
	FragmentTimeout time.Duration
	// Tunnels are the kinds of tunnel whose inner packets are decoded in
	// place of the outer one; none by default.
	Tunnels Tunnels
	// VXLANPort is the UDP destination port of VXLAN; zero means
	// DefaultVXLANPort.
	VXLANPort uint16
}

// Stats are a Decoder's cumulative fragment, length and tunnel counters.
type Stats struct {
	// Fragments is the number of IP fragments decoded (first and later).
	Fragments uint64
	// FragmentsUnmatched counts non-first fragments whose first fragment
	// was not seen (or had expired): they get ports 0.
	FragmentsUnmatched uint64
	// FragmentEvictions counts live entries replaced because the fragment
	// table was full.
	FragmentEvictions uint64
	// LengthMismatch counts frames whose IPv4 total length or IPv6
	// payload length is longer than the frame was on the wire, or whose
	// UDP length is longer than the IP payload. Such frames are still
	// decoded when the headers are all there.
	LengthMismatch uint64
	// Tunneled counts the tunnel layers opened, by kind (indexed by the
	// kind's bit number): a packet nested two deep counts twice.
	Tunneled [numTunnels]uint64
	// TunnelErrors counts tunnel packets whose inner packet is broken or
	// truncated, and TunnelNotIP those carrying something other than IP
	// (ARP in VXLAN, PPP control in PPTP): both are accounted by their
	// outer header.
	TunnelErrors, TunnelNotIP uint64
}

// Decoder turns captured frames into packet summaries by reading the
// fixed headers in place. It keeps a bounded fragment table, so one
// Decoder must not be used by several goroutines at once; give each
// worker its own. Decode allocates nothing.
type Decoder struct {
	frags     fragTable
	stats     Stats
	tunnels   Tunnels
	vxlanPort uint16
	depth     uint8 // tunnels being opened, to bound nesting
}

// NewDecoder returns a decoder with its fragment table allocated up front.
func NewDecoder(opts Options) *Decoder {
	if opts.FragmentTableSize <= 0 {
		opts.FragmentTableSize = DefaultFragmentTableSize
	}
	if opts.FragmentTimeout <= 0 {
		opts.FragmentTimeout = DefaultFragmentTimeout
	}
	if opts.VXLANPort == 0 {
		opts.VXLANPort = DefaultVXLANPort
	}
	d := &Decoder{tunnels: opts.Tunnels, vxlanPort: opts.VXLANPort}
	d.frags.init(opts.FragmentTableSize, opts.FragmentTimeout)
	return d
}

// Stats returns the decoder's cumulative counters.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.FragmentEvictions = d.frags.evictions
	return s
}

// Decode decodes frame f into p and returns OK, or the reason the frame
// yields no packet; p's contents are then unspecified. Addresses, ports,
// protocol, VLAN ids, TCP flags, sequence numbers and ICMP type/code come
// from the outermost IP header and the transport header right after it,
// or from the innermost packet of an enabled kind of tunnel.
func (d *Decoder) Decode(f *event.Frame, p *event.PacketRec) Reason {
	b := f.Data
	*p = event.PacketRec{TS: f.TS, WireLen: f.WireLen, CapLen: uint32(len(b)), Iface: f.Iface}
	// slack is how many bytes of the frame were not captured: an IP length
	// may exceed the captured data by that much and no more.
	slack := 0
	if int(f.WireLen) > len(b) {
		slack = int(f.WireLen) - len(b)
	}
	switch f.LinkType {
	case linkEthernet:
		if len(b) < 14 {
			return Truncated
		}
		return d.ether(b, 14, be16(b[12:]), slack, p)
	case linkSLL:
		// packet type, ARPHRD type, address length, 8 address bytes, protocol
		if len(b) < 16 {
			return Truncated
		}
		if be16(b[4:]) > 8 {
			return BadHeader // the address field holds 8 bytes
		}
		if be16(b[2:]) == arphrdNetlink {
			return NotIP
		}
		return d.ether(b, 16, be16(b[14:]), slack, p)
	case linkSLL2:
		// protocol, reserved, interface index, ARPHRD type, packet type,
		// address length, 8 address bytes
		if len(b) < 20 {
			return Truncated
		}
		if b[11] > 8 {
			return BadHeader
		}
		if be16(b[8:]) == arphrdNetlink {
			return NotIP
		}
		return d.ether(b, 20, be16(b[0:]), slack, p)
	case linkRaw, linkRawBSD, linkRawOpen:
		return d.ipAny(b, slack, p)
	case linkIPv4:
		if len(b) > 0 && b[0]>>4 != 4 {
			return BadHeader
		}
		return d.ipv4(b, slack, p)
	case linkIPv6:
		if len(b) > 0 && b[0]>>4 != 6 {
			return BadHeader
		}
		return d.ipv6(b, slack, p)
	case linkNull, linkLoop:
		if len(b) < 4 {
			return Truncated
		}
		// NULL has the family in the capturing machine's byte order, LOOP
		// in network order; a family number is small, so a value that
		// only fits swapped is little-endian. Accepting it under LOOP too
		// reads NULL captures that were labelled LOOP.
		fam := binary.BigEndian.Uint32(b)
		if fam > 0xffff {
			fam = binary.LittleEndian.Uint32(b)
		}
		switch fam {
		case afInet:
			return d.ipv4(b[4:], slack, p)
		case afInet6BSD, afInet6FreeBSD, afInet6Darwin, afInet6Linux, afInet6Windows:
			return d.ipv6(b[4:], slack, p)
		}
		return NotIP
	case linkPPP, linkPPPHDLC:
		return d.ppp(b, slack, p)
	}
	return UnsupportedLinkType
}

// Loopback address families (DLT_NULL and DLT_LOOP). IPv6 has a different
// number on each system; a capture file says which system wrote it only
// through this value, so all are accepted (the IP version nibble is
// checked anyway).
const (
	afInet         = 2
	afInet6BSD     = 24 // NetBSD, OpenBSD, BSD/OS
	afInet6FreeBSD = 28 // FreeBSD, DragonFly
	afInet6Darwin  = 30 // macOS, iOS
	afInet6Linux   = 10 // Linux, for software that writes NULL there
	afInet6Windows = 23 // Windows
)

// arphrdNetlink is the Linux ARPHRD type of netlink monitor captures,
// whose cooked header protocol field is a netlink family, not an EtherType.
const arphrdNetlink = 824

// ipAny dispatches on the IP version nibble, for raw IP link types.
func (d *Decoder) ipAny(b []byte, slack int, p *event.PacketRec) Reason {
	if len(b) == 0 {
		return Truncated
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, slack, p)
	case 6:
		return d.ipv6(b, slack, p)
	}
	return BadHeader
}

// ppp decodes a PPP frame (link type PPP or PPP_HDLC): an optional HDLC
// address/control pair 0xff 0x03, then a one- or two-byte protocol.
func (d *Decoder) ppp(b []byte, slack int, p *event.PacketRec) Reason {
	off := 0
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		off = 2
	}
	if len(b) <= off {
		return Truncated
	}
	var proto uint16
	if b[off]&1 == 1 {
		// Protocol field compression (RFC 1661 section 6.5).
		proto = uint16(b[off])
		off++
	} else {
		if len(b) < off+2 {
			return Truncated
		}
		proto = be16(b[off:])
		if proto&1 == 0 {
			return BadHeader
		}
		off += 2
	}
	return d.pppPayload(b[off:], proto, slack, p)
}

// PPP protocol numbers of IP.
const (
	pppIPv4 = 0x0021
	pppIPv6 = 0x0057
)

func (d *Decoder) pppPayload(b []byte, proto uint16, slack int, p *event.PacketRec) Reason {
	switch proto {
	case pppIPv4:
		return d.ipv4(b, slack, p)
	case pppIPv6:
		return d.ipv6(b, slack, p)
	}
	return NotIP
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
