package decode

import (
	"fmt"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the decode stage's configuration.
type Config struct {
	FragmentTableSize int           `yaml:"fragment_table_size"`
	FragmentTimeout   time.Duration `yaml:"fragment_timeout"`
	Tunnels           []string      `yaml:"tunnels"`
	VXLANPort         int           `yaml:"vxlan_port"`
}

// Spec is the decode stage's specification.
var Spec = &spec.Component{
	Name:      "decode",
	Role:      spec.RoleStage,
	Stability: spec.Beta,
	Summary:   "Decodes captured frames into packet summaries (addresses, ports, protocol, VLANs, TCP flags).",
	Description: `Reads each frame's link, IP and transport headers in place and emits one packet event per decodable frame. It allocates nothing per packet.

Link types: Ethernet (1), Linux cooked capture SLL (113) and SLL2 (276), raw IP (101, and 12 and 14 as some systems write it), raw IPv4 (228), raw IPv6 (229), BSD loopback NULL (0, in either byte order; IPv6 as family 24, 28, 30, 10 or 23), OpenBSD loopback LOOP (108, network byte order, though little-endian families are read too), PPP (9) and PPP in HDLC framing (50).
Encapsulations: 802.1Q, 802.1ad and 0x9100 VLAN tags (the packet's vlan is the outer tag, its inner VLAN the second), VN-Tag, LLC/SNAP, MPLS label stacks (the payload under the last label is IPv4 or IPv6 by its first nibble) and PPPoE sessions carrying IPv4 or IPv6.
IP: IPv4 with options and fragments, IPv6 with hop-by-hop, routing, destination options, fragment and authentication headers (also skipped in IPv4); ESP and "no next header" end the chain.
Transport: TCP (ports, flags, sequence and acknowledgement numbers), UDP and SCTP (ports), ICMP and ICMPv6 (type and code). Any other IP protocol gives addresses and protocol only.

Tunnels: by default a packet is accounted by its outer IP header, so a VXLAN packet is a UDP packet to port 4789 and a GRE packet has protocol 47 and no ports. The kinds listed in tunnels are opened instead, and the packet is accounted by the innermost packet (nested tunnels are opened up to 4 deep): its addresses, protocol, ports and flags, with the frame's wire length as its bytes (as Wireshark counts them); the vlan ids are the outer frame's, or those of the inner Ethernet frame when the outer one had none. gre opens GRE with checksum, key and sequence number carrying IPv4, IPv6, MPLS, Ethernet (transparent bridging, as gretap) and ERSPAN types I, II and III, and PPTP's enhanced GRE carrying PPP; vxlan opens UDP to vxlan_port; geneve opens UDP to port 6081 (Ethernet or IP inside); ip-in-ip opens IP protocols 4 and 41 (IPIP, 6in4/SIT, 4in6, 6in6). Teredo, GTP and L2TP are not opened. A fragmented outer packet is not opened (only its first fragment holds the tunnel header). The tunnel's identifiers (VNI, GRE key) are not part of the packet: flows of overlapping inner address spaces in different tunnels are counted together. A tunnel packet whose inner packet is broken or is not IP (ARP in VXLAN, PPP control in PPTP) keeps its outer header and is counted in tunnel_errors or tunnel_not_ip; nothing is dropped.

Fragments: the first fragment of a datagram is decoded normally and its protocol and ports are kept in a fragment table of fragment_table_size entries (the oldest is replaced when it is full) for fragment_timeout of packet time. Later fragments, which carry no transport header, take their ports from it, so every fragment counts for its flow; one whose first fragment was not seen has ports 0.

Frames that yield no packet are counted by reason and skipped. Broken input (a truncated header, an impossible header field, an IP length shorter than the headers it announces, an over-long chain of tags, labels or extension headers) and frames of a link type the stage does not read are errors. Well-formed frames that are not IP (ARP, LLDP, spanning tree, PPPoE discovery, ...) or that use an EtherType the stage does not look into are skipped without being errors. An IP or UDP length longer than the frame does not drop the packet: Wireshark counts such packets too, so the stage decodes them and counts them in length_mismatch.

Batches are decoded in order, one output batch per input batch; the stage blocks when its consumers do. With shards: N, each instance has its own fragment table, so the fragments of a datagram must reach the same shard; a capture sharded by flow with fragments kept together (AF_PACKET fanout hash with defragmentation) does that.`,
	Accepts:   event.KindsOf(event.Raw),
	Emits:     event.KindsOf(event.Packet),
	Shardable: true,
	Fields: []*spec.Field{
		spec.Int("fragment_table_size").Default("4096").Range(16, 1<<20).Adv().
			Description("Number of fragmented datagrams whose ports are kept for their later fragments (about 80 bytes each); the oldest is replaced when the table is full."),
		spec.Duration("fragment_timeout").Default("30s").Adv().
			Description("How long, in packet time, the ports of a fragmented datagram are kept after its first fragment.").
			Check(func(v any) error {
				if d, _ := v.(time.Duration); d <= 0 {
					return fmt.Errorf("must be positive; use e.g. 30s")
				}
				return nil
			}),
		spec.List("tunnels").Opt().Ex("[gre, vxlan, geneve, ip-in-ip]").Check(func(v any) error {
			_, err := parseTunnels(v.([]string))
			return err
		}).Description("Kinds of tunnel whose inner packets are decoded instead of the outer one: gre, vxlan, geneve, ip-in-ip. Empty accounts every packet by its outer header."),
		spec.Int("vxlan_port").Default("4789").Range(1, 65535).Adv().
			Description("UDP destination port of VXLAN when tunnels lists vxlan: 4789 is IANA's, 8472 the Linux kernel's historical default."),
	},
	Examples: []spec.Example{
		{Title: "Decode a capture", YAML: "inputs: [capture]\n"},
		{Title: "Account overlay traffic by the packets inside GRE, VXLAN and IP-in-IP tunnels", YAML: "inputs: [capture]\ntunnels: [gre, vxlan, ip-in-ip]\n"},
		{Title: "A larger, longer-lived fragment table for links with much fragmented traffic", YAML: "inputs: [capture]\nfragment_table_size: 65536\nfragment_timeout: 60s\n"},
	},
	Metrics: metricDocs(),
}

// metricDocs documents one counter per reason plus the fragment counters.
func metricDocs() []spec.Metric {
	var ms []spec.Metric
	for r := OK + 1; r < numReasons; r++ {
		ms = append(ms, spec.Metric{Name: counterName(r), Doc: reasonDocs[r]})
	}
	for k := range numTunnels {
		ms = append(ms, spec.Metric{Name: tunneledCounter(k), Doc: "Tunnel layers of kind " + tunnelNames[k] + " opened: packets accounted by what they carry (a packet nested in two counts twice)."})
	}
	ms = append(ms,
		spec.Metric{Name: "fragments", Doc: "IP fragments seen, first and later ones."},
		spec.Metric{Name: "fragments_unmatched", Doc: "Later fragments whose first fragment was not seen or had expired; they are emitted with ports 0."},
		spec.Metric{Name: "fragment_evictions", Doc: "Fragment table entries replaced before they expired because the table was full; raise fragment_table_size if this grows."},
		spec.Metric{Name: "tunnel_errors", Doc: "Packets of an enabled kind of tunnel whose inner packet is broken or truncated; they are accounted by their outer header."},
		spec.Metric{Name: "tunnel_not_ip", Doc: "Packets of an enabled kind of tunnel carrying something other than IP (ARP in VXLAN, PPP control in PPTP, ...); they are accounted by their outer header."},
		spec.Metric{Name: "length_mismatch", Doc: "Frames whose IPv4 total length or IPv6 payload length is longer than the frame was on the wire, or whose UDP length is longer than the IP payload. They are still decoded (as Wireshark does), because the headers that are there identify the traffic; a growing count points at a capture or NIC offload problem."},
	)
	return ms
}

// reasonDocs explain each reason's counter; errors also count in the
// component's errors total.
var reasonDocs = [numReasons]string{
	Truncated:            "Frames that end inside a header the decoder needs (short snap length or cut frame). Also counted as errors.",
	BadHeader:            "Frames with an impossible header field: an IP version that contradicts the framing, an IPv4 header length below 20 bytes, a TCP data offset below 5, a UDP length below 8, an authentication header shorter than 12 bytes, a PPPoE version other than 1, a PPP protocol with an even low byte, a Linux cooked header address longer than 8 bytes, or an EtherType field between 1501 and 1535. Also counted as errors.",
	BadLength:            "Frames whose IPv4 total length is shorter than the IPv4 header, or whose IP length is too short for the extension or transport headers that follow (including a TCP data offset beyond it). Also counted as errors.",
	TooManyHeaders:       "Frames with more than 8 VLAN tags, 12 EtherType headers in all, 16 MPLS labels, 12 IPv6 extension headers or 2 IPv4 authentication headers. Also counted as errors.",
	UnsupportedLinkType:  "Frames from an interface whose link type the decoder does not read (the first one of each link type is logged). Also counted as errors.",
	NotIP:                "Well-formed frames of a protocol other than IP (ARP, LLDP, LLC/spanning tree, PPPoE discovery, PPP control protocols, non-IP loopback families). Not errors.",
	UnsupportedEtherType: "Frames with an EtherType or MPLS payload the decoder does not look into (for example 802.1ah provider backbone bridging, MACsec, Ethernet pseudowires over MPLS). Not errors.",
}

// counterName is the stage's counter for frames skipped for reason r.
func counterName(r Reason) string {
	if r.IsError() {
		return "decode_errors_" + r.String()
	}
	return "skipped_" + r.String()
}

func init() {
	pipeline.Register(Spec, New)
}

// New builds a decode stage from its configuration.
func New(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	tunnels, err := parseTunnels(cfg.Tunnels)
	if err != nil {
		return nil, err // the spec's check has reported it already
	}
	return &Stage{opts: Options{
		FragmentTableSize: cfg.FragmentTableSize,
		FragmentTimeout:   cfg.FragmentTimeout,
		Tunnels:           tunnels,
		VXLANPort:         uint16(cfg.VXLANPort),
	}}, nil
}

// parseTunnels reads the tunnels field.
func parseTunnels(names []string) (Tunnels, error) {
	var ts Tunnels
	for _, n := range names {
		t, err := ParseTunnel(n)
		if err != nil {
			return 0, err
		}
		ts |= t
	}
	return ts, nil
}

// tunneledCounter is the counter of packets opened from tunnel kind k
// (a bit number).
func tunneledCounter(k int) string {
	return "tunneled_" + strings.ReplaceAll(tunnelNames[k], "-", "_")
}
