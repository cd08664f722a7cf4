package decode

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func benchDecode(b *testing.B, frames []event.Frame) {
	d := NewDecoder(Options{})
	var p event.PacketRec
	for i := range frames {
		if r := d.Decode(&frames[i], &p); r != OK {
			b.Fatalf("frame %d: %v", i, r)
		}
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for i, j := 0, 0; i < b.N; i++ {
		d.Decode(&frames[j], &p)
		if j++; j == len(frames) {
			j = 0
		}
	}
	cpu.stop()
}

// BenchmarkDecodeTCPv4 decodes an Ethernet/IPv4/TCP data segment.
func BenchmarkDecodeTCPv4(b *testing.B) {
	benchDecode(b, mustRead(b, "valid/zeek_http_get.pcap")[5:6])
}

// BenchmarkDecodeIPv6 decodes an Ethernet/IPv6/TCP segment.
func BenchmarkDecodeIPv6(b *testing.B) {
	benchDecode(b, mustRead(b, "valid/zeek_ftp_ipv6.pcap")[5:6])
}

// BenchmarkDecodeVLAN decodes an Ethernet/802.1Q/IPv4/TCP segment.
func BenchmarkDecodeVLAN(b *testing.B) {
	benchDecode(b, mustRead(b, "valid/zeek_http-vlan-0.pcap")[5:6])
}

// BenchmarkDecodeQinQ decodes an Ethernet/802.1Q/802.1Q/IPv4/TCP segment.
func BenchmarkDecodeQinQ(b *testing.B) {
	benchDecode(b, mustRead(b, "valid/zeek_vlan-pcp-dei.pcapng")[6:7])
}

// BenchmarkDecodeMix cycles through every frame of the valid captures
// that decodes.
func BenchmarkDecodeMix(b *testing.B) {
	benchDecode(b, validPackets(b))
}

// BenchmarkDecodeFragments decodes a first and a later fragment of a new
// datagram each time: one table insert (replacing the oldest entry once
// the table is full) and one lookup.
func BenchmarkDecodeFragments(b *testing.B) {
	first, later, with := fragments(b)
	first, later = with(first, 0, 0), with(later, 0, 0)
	d := NewDecoder(Options{})
	var p event.PacketRec
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint16(first.Data[14+4:], uint16(i))
		binary.BigEndian.PutUint16(later.Data[14+4:], uint16(i))
		d.Decode(&first, &p)
		d.Decode(&later, &p)
	}
	cpu.stop()
	if p.SrcPort != 123 {
		b.Fatalf("later fragment got port %d", p.SrcPort)
	}
}

// BenchmarkStageBatch runs the stage's batch loop over batches of 256
// frames of the valid captures (skipped frames included) and reports the
// cost per frame.
func BenchmarkStageBatch(b *testing.B) {
	var all []event.Frame
	for _, name := range corpusFiles(b, "valid") {
		all = append(all, mustRead(b, name)...)
	}
	frames := make([]event.Frame, 256)
	for i := range frames {
		frames[i] = all[i%len(all)]
	}
	bd := batchDecoder{d: NewDecoder(Options{})}
	out := event.NewBatch(event.Packet)
	bd.decode(frames, out)
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		out.Packets = out.Packets[:0]
		bd.decode(frames, out)
	}
	cpu.stop()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/frame")
	b.ReportMetric(cpu.perOp/float64(len(frames)), "cpu-ns/frame")
}

// BenchmarkGopacketParserTCPv4 is the reference the hand decoder replaces:
// gopacket's DecodingLayerParser on the same frame as
// BenchmarkDecodeTCPv4, reading the same fields.
func BenchmarkGopacketParserTCPv4(b *testing.B) {
	f := mustRead(b, "valid/zeek_http_get.pcap")[5]
	var (
		eth  layers.Ethernet
		ip4  layers.IPv4
		tcp  layers.TCP
		pay  gopacket.Payload
		recs []gopacket.LayerType
		p    event.PacketRec
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp, &pay)
	parser.IgnoreUnsupported = true
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if err := parser.DecodeLayers(f.Data, &recs); err != nil {
			b.Fatal(err)
		}
		p.SrcPort, p.DstPort, p.Seq = uint16(tcp.SrcPort), uint16(tcp.DstPort), tcp.Seq
	}
	cpu.stop()
}

// validPackets returns the frames of the valid captures that decode.
func validPackets(b *testing.B) []event.Frame {
	var out []event.Frame
	d := NewDecoder(Options{})
	var p event.PacketRec
	for _, name := range corpusFiles(b, "valid") {
		for _, f := range mustRead(b, name) {
			if d.Decode(&f, &p) == OK {
				out = append(out, f)
			}
		}
	}
	return out
}
