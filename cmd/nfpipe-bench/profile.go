package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts a CPU profile of a child and returns the function
// that stops it and writes the allocation profile. Every 4 KiB allocated
// is sampled, so the rare steady-state allocations show up; that slows
// the run, so figures taken with -profile are not comparable.
func startProfiles(dir, id string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("profile dir: %w", err)
	}
	runtime.MemProfileRate = 4096
	cpu, err := os.Create(filepath.Join(dir, id+".cpu.pprof"))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		f, err := os.Create(filepath.Join(dir, id+".allocs.pprof"))
		if err != nil {
			logf("allocation profile: %v", err)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			logf("allocation profile: %v", err)
		}
	}, nil
}
