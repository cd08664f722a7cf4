package main

import (
	"os"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
)

// TestLiveDefaultPipeline turns the default pipeline into a live one and
// checks it decodes and passes the graph checks with the capture stage
// reading the interface.
func TestLiveDefaultPipeline(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	path, err := liveDefaultPipeline(liveOptions{iface: "lo", bpf: "tcp port 80", user: "nobody", workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{`interface: "lo"`, `bpf: "tcp port 80"`, `user: "nobody"`, "workers: 2", "type: decode", "type: sessionize"} {
		if !strings.Contains(s, want) {
			t.Errorf("live pipeline lacks %q:\n%s", want, s)
		}
	}
	for _, gone := range []string{"file:", "speed:", "loop:"} {
		if strings.Contains(s, gone) {
			t.Errorf("live pipeline still has %q:\n%s", gone, s)
		}
	}
	cfg, errs := config.Load(path)
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	if _, errs := pipeline.Check(cfg); len(errs.Fatal()) > 0 {
		t.Fatalf("%v\n%s", errs, s)
	}
}
