package gen

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Generate writes the capture described by cfg to w as a classic pcap
// and returns its ground truth.
func Generate(w io.Writer, cfg Config) (*Truth, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	pw, err := newPcapWriter(w, cfg.Nanosecond)
	if err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	for {
		ts, frame, ok := g.Next()
		if !ok {
			break
		}
		if err := pw.write(ts, frame); err != nil {
			return nil, fmt.Errorf("write frame: %w", err)
		}
	}
	if err := pw.flush(); err != nil {
		return nil, fmt.Errorf("write frame: %w", err)
	}
	return g.Truth(), nil
}

// WriteFile generates the capture into path and its truth into
// TruthPath(path). The pcap is written under a temporary name and renamed
// before the truth is written, so a truth file always describes a
// complete capture.
func WriteFile(path string, cfg Config) (*Truth, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("create capture: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("create capture: %w", err)
	}
	truth, err := Generate(tmp, cfg)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close capture: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	if err := os.Remove(TruthPath(path)); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove stale truth: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("install capture: %w", err)
	}
	if err := truth.WriteFile(TruthPath(path)); err != nil {
		return nil, err
	}
	return truth, nil
}

// Matches reports whether an existing capture at path was generated from
// cfg by this model version and is complete, so it can be reused.
func Matches(path string, cfg Config) (*Truth, bool) {
	t, err := ReadTruth(TruthPath(path))
	if err != nil || t.Version != Version || t.Config != cfg {
		return nil, false
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != t.FileBytes {
		return nil, false
	}
	return t, true
}
