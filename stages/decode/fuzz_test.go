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

// FuzzDecodeTunnels decodes arbitrary frames with every kind of tunnel
// open. Opening tunnels never changes a frame's outcome (an inner packet
// that cannot be decoded leaves the outer one), a packet differs from the
// outer one only when a tunnel was counted as opened, and what is emitted
// passes checkInvariants. Seeds: the tunnel captures' frames and the
// malformed corpus.
func FuzzDecodeTunnels(f *testing.F) {
	for _, name := range tunnelFiles {
		for _, fr := range mustRead(f, name) {
			f.Add(fr.Data, fr.LinkType, uint16(0))
		}
	}
	for _, name := range corpusFiles(f, "malformed") {
		frames, _ := readCapture(f, name)
		for _, fr := range frames {
			f.Add(fr.Data, fr.LinkType, uint16(0))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, linkType uint16, uncaptured uint16) {
		fr := event.Frame{TS: 1, WireLen: uint32(len(data)) + uint32(uncaptured), LinkType: linkType, Iface: 3, Data: data}
		d := NewDecoder(Options{FragmentTableSize: 16, Tunnels: allTunnels})
		var p, outer event.PacketRec
		r := d.Decode(&fr, &p)
		if ro := NewDecoder(Options{FragmentTableSize: 16}).Decode(&fr, &outer); r != ro {
			t.Fatalf("with tunnels %v, without %v", r, ro)
		}
		if r != OK {
			return
		}
		checkInvariants(t, &fr, &p)
		s := d.Stats()
		opened := uint64(0)
		for _, n := range s.Tunneled {
			opened += n
		}
		if p != outer && opened == 0 {
			t.Fatalf("packet changed without a tunnel opened:\n got %+v\nouter %+v", p, outer)
		}
	})
}
