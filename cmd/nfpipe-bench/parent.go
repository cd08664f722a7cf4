package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

// runParent prepares the captures, runs every scenario in a child and
// prints the figures.
func runParent(o options) error {
	begin, loadStart := time.Now(), loadAvg()
	// Pipelines resolve relative paths from their own directory: hand
	// the children absolute ones.
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	o.out = out
	cfg := gen.Config{Packets: o.packets, Flows: o.flows, Concurrent: o.concurrent, Seed: o.seed}
	file, truth, err := ensureCapture(o.out, cfg)
	if err != nil {
		return err
	}
	var rssFile string
	var rssTruth *gen.Truth
	if !o.skipRSS {
		rc := gen.Config{Packets: o.rssPackets, Flows: o.rssFlows, Concurrent: o.rssFlows, Seed: o.seed}
		if rssFile, rssTruth, err = ensureCapture(o.out, rc); err != nil {
			return err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	rep := report{loadStart: loadStart, file: file, truth: truth, rssFile: rssFile, rssTruth: rssTruth}
	for _, s := range scenarios {
		if o.only != "" && !strings.Contains(s.id, o.only) {
			continue
		}
		logf("running %s (GOMAXPROCS %s)", s.label, procsLabel(s.procs))
		r, err := runChildProcess(exe, o, s.id, file, s.procs)
		if err != nil {
			return fmt.Errorf("%s: %w", s.id, err)
		}
		rep.add(s, r)
	}
	if !o.skipRSS && (o.only == "" || strings.Contains("rss", o.only)) {
		logf("running the flow table with %s flows open at once", group(rssTruth.PeakTrackedFlows))
		r, err := runChildProcess(exe, o, "rss", rssFile, 0)
		if err != nil {
			return fmt.Errorf("rss: %w", err)
		}
		rep.rss = r
	}
	if o.only == "" || strings.Contains("floors", o.only) {
		logf("measuring the machine's floors: reading the capture, memory latency")
		if rep.floors, err = measureFloors(file, truth.Packets); err != nil {
			return err
		}
	}
	rep.total = time.Since(begin)
	rep.print(os.Stdout)
	if rep.failed {
		return fmt.Errorf("some counts differ from the capture's truth (see above)")
	}
	return nil
}

func procsLabel(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

// runChildProcess runs one scenario in a child process and decodes its
// result.
func runChildProcess(exe string, o options, id, file string, procs int) (*result, error) {
	cmd := exec.Command(exe, "-child", id, "-file", file, "-out", o.out, "-warmup", strconv.Itoa(o.warmup), "-profile", o.profile)
	cmd.Env = os.Environ()
	if procs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("child: %w", err)
	}
	r := new(result)
	if err := json.Unmarshal(out.Bytes(), r); err != nil {
		return nil, fmt.Errorf("child result: %w", err)
	}
	return r, nil
}
