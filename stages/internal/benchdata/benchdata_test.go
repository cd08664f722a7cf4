package benchdata

import (
	"testing"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

// TestPacketsMatchTheGenerator decodes a small capture and checks it
// against the generator's own account of it.
func TestPacketsMatchTheGenerator(t *testing.T) {
	cfg := gen.Config{Packets: 20_000, Flows: 800, Concurrent: 400, Seed: 3}
	ps, err := Packets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != cfg.Packets {
		t.Fatalf("%d packets, want %d", len(ps), cfg.Packets)
	}
	var wire uint64
	for i := range ps {
		wire += uint64(ps[i].WireLen)
		if i > 0 && ps[i].TS < ps[i-1].TS {
			t.Fatalf("packet %d is older than the one before", i)
		}
		if !ps[i].Src.IsValid() || !ps[i].Dst.IsValid() {
			t.Fatalf("packet %d has no addresses", i)
		}
	}
	truth, err := gen.Generate(discard{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if wire != truth.Bytes {
		t.Errorf("%d wire bytes, the generator wrote %d", wire, truth.Bytes)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
