// Package examples holds runnable pipelines and the bundled sample
// capture. The default pipeline and the sample are embedded in the
// nfpipe binary so that `nfpipe run` works with no files at all.
package examples

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed default.yaml
var defaultPipeline []byte

//go:embed sample.pcapng
var sampleCapture []byte

// DefaultPipeline returns the YAML of the built-in default pipeline.
func DefaultPipeline() []byte { return defaultPipeline }

// SampleCapture returns the bundled sample capture.
func SampleCapture() []byte { return sampleCapture }

// Default writes the default pipeline and the sample capture into the
// user's cache directory (only when they changed) and returns the
// pipeline's path. The pipeline reads its geolocation databases from
// NFPIPE_DATA; when that is unset it is set to ./data of the working
// directory, where make geoip puts them.
func Default() (string, error) {
	if os.Getenv("NFPIPE_DATA") == "" {
		abs, err := filepath.Abs("data")
		if err == nil {
			os.Setenv("NFPIPE_DATA", abs)
		}
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "nfpipe", "default")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot prepare the default pipeline: %w", err)
	}
	files := map[string][]byte{"default.yaml": defaultPipeline, "sample.pcapng": sampleCapture}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return "", fmt.Errorf("cannot prepare the default pipeline: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("cannot prepare the default pipeline: %w", err)
		}
	}
	return filepath.Join(dir, "default.yaml"), nil
}
