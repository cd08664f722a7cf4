package decode

import (
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestSnapLengthSweep cuts every frame of the valid and exotic captures
// at every length, as a capture with that snap length would (the wire
// length stays). The Decoder must report truncated exactly while a header
// it needs is cut (the link headers, the IP and extension headers and the
// fixed part of the transport header, as gopacket measures them) and
// decode the same packet once they are all there.
func TestSnapLengthSweep(t *testing.T) {
	cuts := 0
	for _, name := range append(corpusFiles(t, "valid"), corpusFiles(t, "exotic")...) {
		frames, _ := readCapture(t, name)
		for i := range frames {
			full := frames[i]
			// One decoder per frame: a later fragment must not find the
			// ports of an earlier frame's first fragment.
			d := NewDecoder(Options{FragmentTableSize: 16})
			var want event.PacketRec
			if d.Decode(&full, &want) != OK {
				continue
			}
			v := gopacketView(&full)
			if !v.clean {
				continue
			}
			need := v.ipOff + v.hdrLen
			if v.rec.Frag != event.FragLater {
				need += minTransport[v.rec.Proto]
			}
			for n := 0; n < len(full.Data); n++ {
				cut := full
				cut.Data = full.Data[:n]
				var got event.PacketRec
				r := d.Decode(&cut, &got)
				cuts++
				if n < need {
					if r != Truncated {
						t.Fatalf("%s #%d cut at %d of %d (headers end at %d): got %v, want truncated", name, i, n, len(full.Data), need, r)
					}
					continue
				}
				w := want
				w.CapLen = uint32(n)
				if r != OK || got != w {
					t.Fatalf("%s #%d cut at %d (headers end at %d): got %v %+v, want %+v", name, i, n, need, r, got, w)
				}
			}
		}
	}
	if cuts < 100000 {
		t.Errorf("only %d cuts decoded", cuts)
	}
}
