package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// floors are what this machine charges for the two things the packet
// path cannot avoid, measured without nfpipe: reading the capture file,
// and loading state from memory at the sizes flow tables reach. They make
// the pipeline figures comparable across machines and say how much of a
// packet's time is left for the stages.
type floors struct {
	// ReadNS is the CPU time per packet of reading the whole capture with
	// read() into one reused buffer, as dd does: the kernel's copy out of
	// the page cache.
	ReadNS float64
	// Latency is the time of one dependent random load (a pointer chase)
	// in a buffer of each size: when it jumps, the working set has left
	// the last-level cache.
	Latency []latency
	// TLBFlush says whether system calls and interrupts flush the TLB:
	// page-table isolation without PCID.
	TLBFlush bool
}

type latency struct {
	MB int
	NS float64
}

// latencySizes are the buffer sizes probed, in MB: the sessionize and
// ipstats tables of the bench capture are about 17 and 15 MB.
var latencySizes = []int{1, 4, 8, 16, 32, 64}

// measureFloors reads file (packets frames) and probes memory latency.
func measureFloors(file string, packets uint64) (*floors, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	start := cpuTime()
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
	}
	fl := &floors{ReadNS: float64(cpuTime()-start) / float64(packets), TLBFlush: tlbFlushed()}
	for _, mb := range latencySizes {
		fl.Latency = append(fl.Latency, latency{mb, chaseNS(mb << 20)})
	}
	return fl, nil
}

// chaseNS is the mean time of a load whose address depends on the
// previous one, over a random cycle through every 64-byte line of a
// buffer of size bytes, so neither caches beyond their size nor the
// prefetchers help.
func chaseNS(size int) float64 {
	const stride = 64 / 4 // int32s per cache line
	lines := size / 64
	next := make([]int32, lines*stride)
	perm := rand.Perm(lines)
	for i, l := range perm {
		next[l*stride] = int32(perm[(i+1)%lines] * stride)
	}
	p := int32(0)
	for range lines { // once round, to settle caches and TLB
		p = next[p]
	}
	const steps = 2_000_000
	t := time.Now()
	for range steps {
		p = next[p]
	}
	ns := float64(time.Since(t).Nanoseconds()) / steps
	sink += p
	return ns
}

// sink keeps the chase from being optimised away.
var sink int32

// tlbFlushed reports page-table isolation on a processor without PCID,
// where every system call and interrupt empties the TLB.
func tlbFlushed() bool {
	pti, err := os.ReadFile("/sys/devices/system/cpu/vulnerabilities/meltdown")
	if err != nil || !strings.Contains(string(pti), "PTI") {
		return false
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			return !strings.Contains(" "+v+" ", " pcid ")
		}
	}
	return false
}

// print writes the floors section of the report.
func (fl *floors) print(p func(string, ...any)) {
	p("\nmachine floors, measured without nfpipe:\n")
	p("  read() of the capture into one reused 1 MB buffer (the kernel's copy): %.1f CPU ns per packet\n", fl.ReadNS)
	var parts []string
	for _, l := range fl.Latency {
		parts = append(parts, fmt.Sprintf("%d MB %.0f ns", l.MB, l.NS))
	}
	p("  one dependent random load in a buffer of %s\n", strings.Join(parts, ", "))
	if fl.TLBFlush {
		p("  page-table isolation without PCID: every system call and interrupt empties the TLB\n")
	}
}
