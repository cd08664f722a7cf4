package decode

import (
	"sort"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestDifferentialGopacket decodes every frame of the corpus with the
// Decoder and with gopacket's layer decoders, and requires the same packet
// summary wherever gopacket decodes the link, IP, extension and transport
// headers cleanly (see oracle_test.go). The accepted disagreements are
// an IP version nibble that contradicts the framing (EtherType or link
// type), where gopacket trusts the framing and the Decoder reports
// bad_header, and EtherType 0xffff (reserved), which gopacket reads as
// raw IP and the Decoder as an unsupported EtherType.
//
// gopacket does not decode the payload of fragments; the oracle decodes a
// first fragment's transport header on its own and gives later fragments
// the ports of the first one it saw, as the fragment table should.
func TestDifferentialGopacket(t *testing.T) {
	var files []string
	for _, dir := range []string{"valid", "exotic", "malformed", "truncated"} {
		files = append(files, corpusFiles(t, dir)...)
	}
	var compared, unclean int
	excused := map[string]int{}
	for _, name := range files {
		frames, err := readCapture(t, name)
		if err != nil {
			t.Logf("%s: read stopped after %d frames: %v", name, len(frames), err)
		}
		d := NewDecoder(Options{})
		firsts := map[string]event.PacketRec{}
		for i := range frames {
			f := &frames[i]
			var got event.PacketRec
			r := d.Decode(f, &got)
			v := gopacketView(f)
			if !v.clean {
				unclean++
				if testing.Verbose() {
					t.Logf("%s #%d: not compared (%s); decoder says %v", name, i, v.why, r)
				}
				continue
			}
			if v.fragFirst {
				firsts[v.fragKey] = v.rec
			}
			if v.rec.Frag == event.FragLater {
				if first, ok := firsts[v.fragKey]; ok {
					v.rec.Proto, v.rec.SrcPort, v.rec.DstPort = first.Proto, first.SrcPort, first.DstPort
					v.rec.ICMPType, v.rec.ICMPCode = first.ICMPType, first.ICMPCode
				}
			}
			if r != OK {
				if why := explain(r, &v); why != "" {
					excused[why]++
					if testing.Verbose() {
						t.Logf("%s #%d: excused %v: %s", name, i, r, why)
					}
					continue
				}
				t.Errorf("%s #%d: decoder says %v; gopacket decodes it as %+v", name, i, r, v.rec)
				continue
			}
			if got != v.rec {
				t.Errorf("%s #%d:\n got %+v\nwant %+v (gopacket)", name, i, got, v.rec)
			}
			compared++
		}
	}
	var whys []string
	nexcused := 0
	for w, n := range excused {
		whys = append(whys, w)
		nexcused += n
	}
	sort.Strings(whys)
	for _, w := range whys {
		t.Logf("excused %d frames: %s", excused[w], w)
	}
	t.Logf("%d frames agree with gopacket, %d not decoded cleanly by gopacket, %d excused", compared, unclean, nexcused)
	// The corpus holds about 1,700 frames, 1,490 of which gopacket reads
	// cleanly.
	if compared < 1400 {
		t.Errorf("only %d frames compared", compared)
	}
}

// explain returns why the Decoder may reject a frame gopacket reads, or ""
// if it may not.
func explain(r Reason, v *view) string {
	switch {
	case r == BadHeader && v.ipVersionField != v.rec.IPVer:
		return "IP version field disagrees with the framing"
	case r == UnsupportedEtherType && v.rawEther:
		return "EtherType 0xffff, which gopacket takes for raw IP"
	}
	return ""
}
