package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

// smallCapture is generated once per test into its temp dir.
func smallCapture(t *testing.T) (string, string, *gen.Truth) {
	t.Helper()
	dir := t.TempDir()
	file, truth, err := ensureCapture(dir, gen.Config{Packets: 60_000, Flows: 3_000, Concurrent: 300, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	return dir, file, truth
}

// TestScenariosMatchTruth runs every benchmark pipeline over a small
// generated capture and checks the components' counts against the
// capture's truth: every frame read and decoded, every flow found
// (idle flows twice), every record delivered.
func TestScenariosMatchTruth(t *testing.T) {
	dir, file, truth := smallCapture(t)
	if truth.IdleGapFlows == 0 {
		t.Fatal("the capture has no idle flows; the idle-timeout check would be vacuous")
	}
	for _, s := range scenarios {
		t.Run(s.id, func(t *testing.T) {
			r, err := runScenario(s, file, dir, truth, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			if r.Packets != truth.Packets {
				t.Errorf("read %d packets, truth %d", r.Packets, truth.Packets)
			}
			for _, f := range r.Failed {
				t.Error(f)
			}
			if strings.HasPrefix(s.id, "full-jsonl") && r.OutBytes == 0 {
				t.Error("the jsonl sink wrote nothing")
			}
		})
	}
}

// TestRSSPipelineBuilds checks the flow-table pipeline against the
// registered specs (field names, types, graph).
func TestRSSPipelineBuilds(t *testing.T) {
	dir, file, truth := smallCapture(t)
	if _, err := build(rssYAML(file, int(truth.Flows)), dir); err != nil {
		t.Fatal(err)
	}
}

func TestSteadyWindow(t *testing.T) {
	samples := []sample{{packets: 0, mallocs: 100}, {packets: 300, mallocs: 150}, {packets: 600, mallocs: 160}, {packets: 950, mallocs: 400}}
	m, p := steadyWindow(samples, 1000)
	if m != 10 || p != 300 {
		t.Errorf("steadyWindow = %d mallocs over %d packets, want 10 over 300", m, p)
	}
	if m, p := steadyWindow(samples[:1], 1000); m != 0 || p != 0 {
		t.Errorf("one sample gave a window: %d, %d", m, p)
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFloors measures the floors on a small capture: reading it costs
// CPU time, and every probed size gives a load time.
func TestFloors(t *testing.T) {
	_, file, truth := smallCapture(t)
	fl, err := measureFloors(file, truth.Packets)
	if err != nil {
		t.Fatal(err)
	}
	if fl.ReadNS <= 0 || len(fl.Latency) != len(latencySizes) {
		t.Fatalf("floors %+v", fl)
	}
	for _, l := range fl.Latency {
		if l.NS <= 0 || l.NS > 1e5 {
			t.Errorf("%d MB: %.1f ns per load", l.MB, l.NS)
		}
	}
	var b strings.Builder
	fl.print(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) })
	if !strings.Contains(b.String(), "read() of the capture") || !strings.Contains(b.String(), "64 MB") {
		t.Errorf("report:\n%s", b.String())
	}
}
