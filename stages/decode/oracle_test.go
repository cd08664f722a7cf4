package decode

import (
	"fmt"
	"net/netip"
	"reflect"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// This file derives, from gopacket's own layer decoders, what a frame's
// packet summary should be. It shares no code with the decoder.

// view is gopacket's reading of a frame in PacketRec terms.
type view struct {
	rec event.PacketRec
	// clean is false when gopacket failed before reaching the fields
	// compared (no IP layer, or a failure in the IP, extension or
	// transport header); why says where.
	clean bool
	why   string
	// ipOff is the offset of the outer IP header in the frame.
	ipOff int
	// hdrLen is the length of the IP and extension headers before the
	// transport header.
	hdrLen int
	// ipVersionField is the version nibble of the outer IP header.
	ipVersionField uint8
	// rawEther is set when gopacket read EtherType 0xffff, which it takes
	// for raw IP.
	rawEther bool
	// fragKey identifies the datagram of a fragment; fragFirst says
	// whether this fragment has offset 0.
	fragKey   string
	fragFirst bool
}

var gopacketOpts = gopacket.DecodeOptions{NoCopy: true}

// gopacketView decodes f with gopacket and reads the outermost IP header
// and the transport header that follows it.
func gopacketView(f *event.Frame) view {
	v := view{rec: event.PacketRec{TS: f.TS, WireLen: f.WireLen, CapLen: uint32(len(f.Data)), Iface: f.Iface}}
	var dec gopacket.Decoder = layers.LinkType(f.LinkType)
	switch f.LinkType {
	case linkIPv4: // gopacket has no decoder registered for these
		dec = layers.LayerTypeIPv4
	case linkIPv6:
		dec = layers.LayerTypeIPv6
	}
	pk := gopacket.NewPacket(f.Data, dec, gopacketOpts)
	ls := normalize(f.Data, pk.Layers())
	tags := 0
	for i, l := range ls {
		switch l := l.(type) {
		case *layers.Ethernet:
			v.rawEther = l.EthernetType == layers.EthernetTypeRaw
		case *layers.Dot1Q:
			v.rawEther = l.Type == layers.EthernetTypeRaw
			if tags == 0 {
				v.rec.VLAN = l.VLANIdentifier
			} else if tags == 1 {
				v.rec.InnerVLN = l.VLANIdentifier
			}
			tags++
		case *layers.IPv4:
			// gopacket adds a layer before decoding it: a layer whose
			// decoding failed has no contents.
			if len(l.Contents) < 20 || len(l.SrcIP.To4()) != 4 || len(l.DstIP.To4()) != 4 {
				v.why = "gopacket failed in the IPv4 header"
				return v
			}
			v.ipOff = cap(f.Data) - cap(l.Contents)
			v.ipVersionField = l.Version
			v.rec.IPVer = 4
			v.rec.Src = netip.AddrFrom4([4]byte(l.SrcIP.To4()))
			v.rec.Dst = netip.AddrFrom4([4]byte(l.DstIP.To4()))
			v.rec.Proto = uint8(l.Protocol)
			v.hdrLen = int(l.IHL) * 4
			if l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0 {
				v.rec.FragID = uint32(l.Id)
				v.fragKey = fmt.Sprintf("4|%v|%v|%d|%d", l.SrcIP, l.DstIP, l.Protocol, l.Id)
				if l.FragOffset != 0 {
					v.rec.Frag = event.FragLater
					v.clean = true
					return v
				}
				v.rec.Frag = event.FragFirst
				v.fragFirst = true
				// gopacket does not decode a fragment's payload; decode
				// the first fragment's transport header on its own.
				sub := gopacket.NewPacket(l.Payload, l.Protocol.LayerType(), gopacketOpts)
				v.transport(normalize(l.Payload, sub.Layers()), uint8(l.Protocol))
				return v
			}
			v.transport(ls[i+1:], uint8(l.Protocol))
			return v
		case *layers.IPv6:
			if len(l.Contents) < 40 || len(l.SrcIP) != 16 || len(l.DstIP) != 16 {
				v.why = "gopacket failed in the IPv6 header"
				return v
			}
			v.ipOff = cap(f.Data) - cap(l.Contents)
			v.ipVersionField = l.Version
			v.rec.IPVer = 6
			v.rec.Src = netip.AddrFrom16([16]byte(l.SrcIP.To16()))
			v.rec.Dst = netip.AddrFrom16([16]byte(l.DstIP.To16()))
			v.hdrLen = 40
			v.ipv6Chain(ls[i+1:], uint8(l.NextHeader), l)
			return v
		case *gopacket.DecodeFailure:
			v.why = "gopacket failed before IP: " + l.Error().Error()
			return v
		}
	}
	v.why = "no IP layer"
	return v
}

// ipv6Chain walks gopacket's extension header layers.
func (v *view) ipv6Chain(ls []gopacket.Layer, next uint8, ip *layers.IPv6) {
	for i, l := range ls {
		switch l := l.(type) {
		case *layers.IPv6HopByHop:
			next = uint8(l.NextHeader)
			v.hdrLen += len(l.Contents)
		case *layers.IPv6Routing:
			next = uint8(l.NextHeader)
			v.hdrLen += len(l.Contents)
		case *layers.IPv6Destination:
			next = uint8(l.NextHeader)
			v.hdrLen += len(l.Contents)
		case *layers.IPSecAH:
			next = uint8(l.NextHeader)
			v.hdrLen += len(l.Contents)
		case *layers.IPv6Fragment:
			v.hdrLen += 8
			if l.FragmentOffset == 0 && !l.MoreFragments {
				// An atomic fragment is a whole datagram, but gopacket
				// does not decode past it.
				sub := gopacket.NewPacket(l.Payload, l.NextHeader.LayerType(), gopacketOpts)
				v.ipv6Rest(normalize(l.Payload, sub.Layers()), uint8(l.NextHeader))
				return
			}
			v.rec.FragID = l.Identification
			v.fragKey = fmt.Sprintf("6|%v|%v|%d|%d", ip.SrcIP, ip.DstIP, l.NextHeader, l.Identification)
			if l.FragmentOffset != 0 {
				v.rec.Frag = event.FragLater
				v.rec.Proto = uint8(l.NextHeader)
				v.clean = true
				return
			}
			v.rec.Frag = event.FragFirst
			v.fragFirst = true
			sub := gopacket.NewPacket(l.Payload, l.NextHeader.LayerType(), gopacketOpts)
			sls := normalize(l.Payload, sub.Layers())
			// Headers after the fragment header (rare) are walked too.
			v.ipv6Rest(sls, uint8(l.NextHeader))
			return
		case *gopacket.DecodeFailure:
			switch next {
			case ipHopByHop, ipRouting, ipFragment, ipDstOpts, ipAH:
				v.why = "gopacket failed in IPv6 extension headers: " + l.Error().Error()
				return
			}
			// A protocol gopacket has no decoder for.
			v.transport(ls[i:], next)
			return
		default:
			v.transport(ls[i:], next)
			return
		}
	}
	v.transport(nil, next)
}

// ipv6Rest continues an extension header walk after a fragment header.
func (v *view) ipv6Rest(ls []gopacket.Layer, next uint8) {
	for i, l := range ls {
		switch l := l.(type) {
		case *layers.IPv6Destination:
			next = uint8(l.NextHeader)
		case *layers.IPv6Routing:
			next = uint8(l.NextHeader)
		default:
			v.transport(ls[i:], next)
			return
		}
	}
	v.transport(nil, next)
}

// transport reads the transport layer at ls[0] for protocol proto.
func (v *view) transport(ls []gopacket.Layer, proto uint8) {
	v.rec.Proto = proto
	// IPv4 authentication headers sit between IP and transport.
	for len(ls) > 0 {
		ah, ok := ls[0].(*layers.IPSecAH)
		if !ok {
			break
		}
		if len(ah.Contents) < 12 {
			v.why = "gopacket failed in the authentication header"
			return
		}
		proto = uint8(ah.NextHeader)
		v.rec.Proto = proto
		v.hdrLen += len(ah.Contents)
		ls = ls[1:]
	}
	switch proto {
	case ipAH, ipHopByHop, ipRouting, ipFragment, ipDstOpts:
		v.why = fmt.Sprintf("gopacket did not decode extension header %d", proto)
		return
	}
	switch proto {
	case ipTCP, ipUDP, ipSCTP, ipICMP, ipICMPv6:
	default:
		v.clean = true // addresses and protocol only
		return
	}
	if len(ls) == 0 {
		v.why = fmt.Sprintf("no transport layer for protocol %d", proto)
		return
	}
	if c := ls[0].LayerContents(); len(c) < minTransport[proto] {
		v.why = fmt.Sprintf("gopacket failed in the transport header of protocol %d", proto)
		return
	}
	switch l := ls[0].(type) {
	case *layers.TCP:
		v.rec.SrcPort, v.rec.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
		v.rec.Seq, v.rec.Ack = l.Seq, l.Ack
		for i, set := range []bool{l.FIN, l.SYN, l.RST, l.PSH, l.ACK, l.URG, l.ECE, l.CWR} {
			if set {
				v.rec.TCPFlags |= 1 << i
			}
		}
	case *layers.UDP:
		v.rec.SrcPort, v.rec.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.SCTP:
		v.rec.SrcPort, v.rec.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.ICMPv4:
		v.rec.ICMPType, v.rec.ICMPCode = l.TypeCode.Type(), l.TypeCode.Code()
	case *layers.ICMPv6:
		v.rec.ICMPType, v.rec.ICMPCode = l.TypeCode.Type(), l.TypeCode.Code()
	case *gopacket.DecodeFailure:
		v.why = "gopacket failed in the transport header: " + l.Error().Error()
		return
	default:
		v.why = fmt.Sprintf("unexpected layer %v for protocol %d", l.LayerType(), proto)
		return
	}
	v.clean = true
}

// minTransport is the fixed header size of each transport gopacket reads.
var minTransport = map[uint8]int{ipTCP: 20, ipUDP: 8, ipSCTP: 12, ipICMP: 8, ipICMPv6: 4}

// normalize makes "a layer is present" mean "it decoded". gopacket adds
// some layers before decoding them and, when that fails, appends a
// DecodeFailure after the half-decoded layer; the same DecodeFailure also
// follows a layer that decoded when the next one fails. Decoding the last
// layer again on its own input tells which, and a layer that fails is
// replaced by the failure. data is what the first layer was decoded from.
// fromBytes is the decoding method of gopacket's layer types; not all of
// them are full DecodingLayers.
type fromBytes interface {
	DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error
}

func normalize(data []byte, ls []gopacket.Layer) []gopacket.Layer {
	for i := 0; i+1 < len(ls); i++ {
		df, ok := ls[i+1].(*gopacket.DecodeFailure)
		if !ok {
			continue
		}
		in := data
		if i > 0 {
			in = ls[i-1].LayerPayload()
		}
		if dl, ok := ls[i].(fromBytes); ok {
			fresh := reflect.New(reflect.TypeOf(dl).Elem()).Interface().(fromBytes)
			if fresh.DecodeFromBytes(in, gopacket.NilDecodeFeedback) != nil {
				return append(ls[:i:i], df)
			}
		}
		return ls[:i+2]
	}
	return ls
}
