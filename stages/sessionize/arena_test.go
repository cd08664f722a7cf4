package sessionize

import (
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// TestLargeTableUsesArenas grows a table past its heap chunks, so that
// most of its flows live in mapped arenas and its index is mapped too,
// and checks every flow's counters when the table is flushed, then that
// Release unmaps it all.
func TestLargeTableUsesArenas(t *testing.T) {
	const flows = 5 * heapChunks * chunkSize // about 80,000: two arenas
	got := map[uint64]event.FlowRec{}
	tb := NewTable(DefaultConfig(), func(f *event.FlowRec) { got[f.ID] = *f })
	for round := 0; round < 3; round++ {
		for n := uint32(0); n < flows; n++ {
			p := flowPacket(n, round == 1)
			p.TS = event.Time(round*flows + int(n) + 1)
			tb.Add(&p)
		}
	}
	if tb.slab.arenas == nil || len(tb.slab.arenas.mapped) < 2 {
		t.Fatalf("slab of %d flows is not in mapped arenas", flows)
	}
	tb.Flush(event.ReasonShutdown)
	if len(got) != flows {
		t.Fatalf("%d flows reported, want %d", len(got), flows)
	}
	for _, f := range got {
		if f.C2S.Packets != 2 || f.S2C.Packets != 1 || f.C2S.Bytes != 2*590 || f.S2C.Bytes != 590 {
			t.Fatalf("flow %s: c2s %+v s2c %+v, want 2 and 1 packets of 590 bytes", f.Client.IP, f.C2S, f.S2C)
		}
	}
	tb.Release()
	if tb.slab.arenas != nil || tb.index.slots != nil {
		t.Error("Release left memory mapped")
	}
}
