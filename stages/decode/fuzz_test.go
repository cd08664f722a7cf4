package decode

import (
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// FuzzDecode feeds arbitrary bytes to the Decoder under any link type,
// with any number of uncaptured bytes. It must never panic, must return a
// known reason, must emit only packets that pass checkInvariants, and must
// agree with gopacket wherever gopacket reads the headers cleanly (with
// the exceptions TestDifferentialGopacket documents). The seeds are every
// frame of the malformed captures and one of each kind of valid frame.
func FuzzDecode(f *testing.F) {
	for _, name := range corpusFiles(f, "malformed") {
		frames, _ := readCapture(f, name)
		for _, fr := range frames {
			f.Add(fr.Data, fr.LinkType, uint16(0))
		}
	}
	for _, fr := range mixFrames(f) {
		f.Add(fr.Data, fr.LinkType, uint16(0))
		f.Add(fr.Data, fr.LinkType, uint16(1000))
	}
	first, later, _ := fragments(f)
	f.Add(first.Data, first.LinkType, uint16(0))
	f.Add(later.Data, later.LinkType, uint16(0))

	f.Fuzz(func(t *testing.T, data []byte, linkType uint16, uncaptured uint16) {
		fr := event.Frame{TS: 1, WireLen: uint32(len(data)) + uint32(uncaptured), LinkType: linkType, Iface: 3, Data: data}
		d := NewDecoder(Options{FragmentTableSize: 16})
		var p event.PacketRec
		r := d.Decode(&fr, &p)
		if r >= numReasons {
			t.Fatalf("unknown reason %d", r)
		}
		if r == OK {
			checkInvariants(t, &fr, &p)
		}
		v := gopacketView(&fr)
		if !v.clean || explain(r, &v) != "" {
			return
		}
		if r != OK {
			t.Fatalf("decoder says %v; gopacket reads %+v", r, v.rec)
		}
		if p != v.rec {
			t.Fatalf("\n got %+v\nwant %+v (gopacket)", p, v.rec)
		}
	})
}
