package decode

import (
	"encoding/binary"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// mixFrames is one frame of each kind the decoder reads, malformed ones
// included, from the corpus.
func mixFrames(t testing.TB) []event.Frame {
	picks := []struct {
		file  string
		frame int
	}{
		{"valid/zeek_http_get.pcap", 3},                         // Ethernet/IPv4/TCP
		{"valid/zeek_ftp_ipv6.pcap", 5},                         // Ethernet/IPv6/TCP
		{"valid/zeek_vlan-pcp-dei.pcapng", 0},                   // QinQ
		{"valid/zeek_mpls-in-vlan.pcap", 2},                     // VLAN + MPLS
		{"valid/zeek_pppoe-over-qinq.pcap", 3},                  // PPPoE
		{"valid/zeek_ipv6-hbh-routing0.pcap", 0},                // IPv6 extension headers
		{"valid/zeek_icmp_5-pings.pcap", 0},                     // ICMP
		{"exotic/tcpdump_isup.pcap", 0},                         // SCTP
		{"exotic/tcpdump_tcp-handshake-nano.pcap", 0},           // SLL
		{"exotic/zeek_linux_dlt_sll2.pcap", 4},                  // SLL2 ARP (skipped)
		{"exotic/zeek_tls_pop3-starttls.pcap", 0},               // NULL
		{"exotic/zeek_dns_ech.pcap", 0},                         // raw IPv6
		{"exotic/zeek_nflog-http.pcap", 0},                      // unsupported link type
		{"malformed/tcpdump_ipv4_invalid_hdr_length.pcap", 0},   // bad header
		{"malformed/zeek_trunc_ip6-ext-trunc.pcap", 0},          // truncated
		{"malformed/tcpdump_ipv4_invalid_total_length.pcap", 0}, // length mismatch, kept
	}
	var out []event.Frame
	for _, p := range picks {
		out = append(out, mustRead(t, p.file)[p.frame])
	}
	return out
}

// TestDecodeAllocatesNothing decodes a mix of frames, fragments whose
// identification changes on every run (so the fragment table inserts,
// looks up and replaces entries) included, and requires zero allocations.
func TestDecodeAllocatesNothing(t *testing.T) {
	frames := mixFrames(t)
	first, later, with := fragments(t)
	first, later = with(first, 1, 0), with(later, 1, 0)
	frames = append(frames, first, later)
	d := NewDecoder(Options{FragmentTableSize: 16})
	var p event.PacketRec
	id := uint16(0)
	run := func() {
		id++
		binary.BigEndian.PutUint16(first.Data[14+4:], id)
		binary.BigEndian.PutUint16(later.Data[14+4:], id)
		first.TS++
		later.TS++
		for i := range frames {
			d.Decode(&frames[i], &p)
		}
		d.Decode(&first, &p)
		d.Decode(&later, &p)
	}
	for i := 0; i < 100; i++ {
		run()
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%v allocations per run of %d frames", n, len(frames)+2)
	}
	if s := d.Stats(); s.FragmentEvictions == 0 || s.Fragments == 0 {
		t.Errorf("the fragment table was not exercised: %+v", s)
	}
}

// TestBatchDecodeAllocatesNothing checks the stage's batch loop once the
// output batch has grown to the batch size, as pooled batches have.
func TestBatchDecodeAllocatesNothing(t *testing.T) {
	frames := mixFrames(t)
	bd := batchDecoder{d: NewDecoder(Options{})}
	out := event.NewBatch(event.Packet)
	bd.decode(frames, out)
	n := testing.AllocsPerRun(1000, func() {
		out.Packets = out.Packets[:0]
		bd.decode(frames, out)
	})
	if n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
	if len(out.Packets) == 0 || len(out.Packets) == len(frames) {
		t.Errorf("%d packets from %d frames: the mix should hold both kinds", len(out.Packets), len(frames))
	}
}
