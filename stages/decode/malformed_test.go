package decode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// lenient lists the frames of malformed captures where gopacket fails in
// a header but the Decoder deliberately decodes the packet, and why. The
// test fails if one of them stops decoding, so the list cannot go stale.
var lenient = map[string]string{
	"malformed/tcpdump_heapoverflow-tcp_print.pcap#0": tcpOptionsCut,
	"malformed/tcpdump_tcp-auth-heapoverflow.pcap#0":  tcpOptionsCut,
	"malformed/zeek_tcp_truncated-header.pcap#0":      tcpOptionsCut,
	"malformed/tcpdump_icmpv6-length-zero.pcapng#0":   ipv6LengthZero,
	// gopacket requires a jumbo payload option when the length is 0.
	"malformed/tcpdump_ipv6_missing_jumbo_payload_option.pcap#0": ipv6LengthZero,
	"malformed/zeek_ipv6-mobility-dst-opts.pcap#0":               optionsNotParsed,
	"malformed/zeek_ipv6-mobility-dst-opts.pcap#2":               optionsNotParsed,
}

const (
	tcpOptionsCut    = "TCP options cut by the snap length: only the fixed 20-byte header is read, and the data offset fits the IP length"
	ipv6LengthZero   = "IPv6 payload length 0 means as long as the frame (jumbograms, receive offload)"
	optionsNotParsed = "the options inside a destination options header are skipped by its length, not parsed"
)

// TestMalformedAndTruncated decodes every frame of the malformed and
// truncated captures (a panic fails the test) and holds the Decoder to
// gopacket's verdict: where gopacket fails in an IP, extension or
// transport header the Decoder must report an error reason, and where it
// fails in a link header the Decoder must not emit a packet, except for
// the frames in lenient.
func TestMalformedAndTruncated(t *testing.T) {
	checked, filesWithErrors := 0, 0
	for _, name := range append(corpusFiles(t, "malformed"), corpusFiles(t, "truncated")...) {
		frames, _ := readCapture(t, name) // read errors are expected here
		bd := batchDecoder{d: NewDecoder(Options{})}
		out := event.NewBatch(event.Packet)
		bd.decode(frames, out)
		d := NewDecoder(Options{})
		failures := 0
		for i := range frames {
			f := &frames[i]
			var p event.PacketRec
			r := d.Decode(f, &p)
			if r == OK {
				checkInvariants(t, f, &p)
			}
			key := fmt.Sprintf("%s#%d", name, i)
			v := gopacketView(f)
			kind := failureKind(v.why)
			if kind == "" || !supportedLink(f.LinkType) {
				if why, ok := lenient[key]; ok {
					t.Errorf("%s: listed as lenient (%s) but gopacket reads it: %q", key, why, v.why)
				}
				continue
			}
			checked++
			if why, ok := lenient[key]; ok {
				if r != OK {
					t.Errorf("%s: expected the decoder to accept it (%s), got %v", key, why, r)
				}
				continue
			}
			if kind == "ip" {
				failures++
			}
			switch {
			case kind == "ip" && !r.IsError():
				t.Errorf("%s: gopacket: %s; decoder says %v, want an error reason", key, v.why, r)
			case kind == "link" && r == OK:
				t.Errorf("%s: gopacket: %s; decoder emitted a packet", key, v.why)
			}
		}
		var errs uint64
		for r, n := range bd.tally {
			if Reason(r).IsError() {
				errs += n
			}
		}
		if failures > 0 && errs == 0 {
			t.Errorf("%s: gopacket fails in the IP or transport headers of %d frames but no error was counted", name, failures)
		}
		if errs > 0 {
			filesWithErrors++
		}
	}
	t.Logf("%d frames that gopacket fails on checked; %d files with errors counted", checked, filesWithErrors)
	if checked < 40 {
		t.Errorf("only %d failing frames checked", checked)
	}
}

// failureKind classifies the oracle's reason for not reading a frame:
// "ip" for a failure in the IP, extension or transport header, "link"
// for one in the link layer, "" when gopacket merely has no decoder for
// the protocol (nothing to hold the Decoder to).
func failureKind(why string) string {
	switch {
	case why == "" || why == "no IP layer":
		return ""
	case strings.HasPrefix(why, "gopacket failed before IP"):
		if strings.Contains(why, "Unable to decode") || strings.Contains(why, "not currently supported") {
			return ""
		}
		return "link"
	}
	return "ip"
}

// supportedLink reports whether the Decoder reads a link type.
func supportedLink(lt uint16) bool {
	switch lt {
	case linkNull, linkEthernet, linkPPP, linkRawBSD, linkRawOpen, linkPPPHDLC,
		linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
		return true
	}
	return false
}

// checkInvariants holds for every packet the Decoder emits.
func checkInvariants(t testing.TB, f *event.Frame, p *event.PacketRec) {
	t.Helper()
	switch p.IPVer {
	case 4:
		if !p.Src.Is4() || !p.Dst.Is4() {
			t.Errorf("IPv4 packet with addresses %v > %v", p.Src, p.Dst)
		}
	case 6:
		if !p.Src.Is6() || !p.Dst.Is6() {
			t.Errorf("IPv6 packet with addresses %v > %v", p.Src, p.Dst)
		}
	default:
		t.Errorf("packet with IP version %d", p.IPVer)
	}
	if p.TS != f.TS || p.WireLen != f.WireLen || p.CapLen != uint32(len(f.Data)) || p.Iface != f.Iface {
		t.Errorf("frame metadata not copied: %+v from %+v", p, f)
	}
	if p.Frag&^(event.FragFirst|event.FragLater) != 0 || p.Frag == event.FragFirst|event.FragLater {
		t.Errorf("fragment flags %b", p.Frag)
	}
	if p.Frag == 0 && p.FragID != 0 {
		t.Errorf("fragment id %d on an unfragmented packet", p.FragID)
	}
	if p.Proto != ipTCP && (p.TCPFlags != 0 || p.Seq != 0 || p.Ack != 0) {
		t.Errorf("TCP fields on protocol %d", p.Proto)
	}
	if p.Proto != ipICMP && p.Proto != ipICMPv6 && (p.ICMPType != 0 || p.ICMPCode != 0) {
		t.Errorf("ICMP fields on protocol %d", p.Proto)
	}
}
