package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

// capturePath names a cached capture after its config, so captures of
// different shapes live side by side.
func capturePath(dir string, c gen.Config) string {
	return filepath.Join(dir, fmt.Sprintf("gen-v%d-%dp-%df-%dc-s%d.pcap", gen.Version, c.Packets, c.Flows, c.Concurrent, c.Seed))
}

// ensureCapture returns the capture for c, generating it unless a
// complete one with a matching truth file is cached.
func ensureCapture(dir string, c gen.Config) (string, *gen.Truth, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create cache dir: %w", err)
	}
	path := capturePath(dir, c)
	if t, ok := gen.Matches(path, c); ok {
		logf("using cached %s", path)
		return path, t, nil
	}
	logf("generating %s ...", path)
	start := time.Now()
	t, err := gen.WriteFile(path, c)
	if err != nil {
		return "", nil, err
	}
	el := time.Since(start)
	logf("generated %d frames (%.0f MB) in %s: %.2f M frames/s",
		t.Packets, float64(t.FileBytes)/1e6, el.Round(time.Millisecond), float64(t.Packets)/el.Seconds()/1e6)
	return path, t, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "nfpipe-bench: "+format+"\n", args...)
}
