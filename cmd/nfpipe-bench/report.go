package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

// report collects the results and prints them as fixed-width tables.
type report struct {
	loadStart string
	file      string
	truth     *gen.Truth
	rssFile   string
	rssTruth  *gen.Truth
	rows      []row
	rss       *result
	floors    *floors
	failed    bool
	total     time.Duration
}

type row struct {
	s scenario
	r *result
}

func (rep *report) add(s scenario, r *result) {
	rep.rows = append(rep.rows, row{s, r})
	if len(r.Failed) > 0 {
		rep.failed = true
	}
}

func (rep *report) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	t := rep.truth
	p("\nnfpipe bench: %s %s/%s, %d CPUs (%s), load average %s at start, %s at end\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), rep.loadStart, loadAvg())
	p("capture %s\n", rep.file)
	p("  %s packets, %s flows (%s open at once), %s MB on the wire, %s of packet time\n",
		group(t.Packets), group(t.Flows), group(uint64(t.Config.Concurrent)), group(t.Bytes/1e6),
		time.Duration(t.LastNS-t.FirstNS).Round(time.Second))
	p("  packets/s, ns/pkt and MB/s (wire bytes) use the wall-clock time of the whole run, start to drained;\n")
	p("  CPU ns/pkt is the process's user+system time; allocs/pkt are runtime mallocs per packet over the run,\n")
	p("  and steady over the window from 25%% to 90%% of the packets; check compares the counts with the truth\n")
	if l, err := strconv.ParseFloat(rep.loadStart, 64); err == nil && l > float64(runtime.NumCPU()) {
		p("  the machine was busy (load above its CPU count): wall-clock figures are pessimistic, CPU ns/pkt is steadier\n")
	}
	p("\n")

	const head = "%-44s %5s %11s %9s %11s %8s %10s %10s %4s  %s\n"
	p(head, "pipeline", "procs", "packets/s", "ns/pkt", "CPU ns/pkt", "MB/s", "allocs/pkt", "steady", "GCs", "check")
	p("%s\n", strings.Repeat("-", 127))
	for _, x := range rep.rows {
		r := x.r
		wall := time.Duration(r.WallNS)
		pps := float64(r.Packets) / wall.Seconds()
		steady := "n/a"
		if r.SteadyPackets > 0 {
			steady = fmt.Sprintf("%.4f", float64(r.SteadyMallocs)/float64(r.SteadyPackets))
		}
		check := "ok"
		if len(r.Failed) > 0 {
			check = "FAILED"
		}
		p(head, x.s.label, strconv.Itoa(r.Procs), group(uint64(pps)),
			fmt.Sprintf("%.1f", float64(r.WallNS)/float64(r.Packets)),
			fmt.Sprintf("%.1f", float64(r.CPUNS)/float64(r.Packets)),
			fmt.Sprintf("%.0f", float64(t.Bytes)/1e6/wall.Seconds()),
			fmt.Sprintf("%.4f", float64(r.Mallocs)/float64(r.Packets)),
			steady, strconv.Itoa(int(r.NumGC)), check)
	}
	p("\n  time inside each stage's batch loop, ns per packet (wall time; at GOMAXPROCS 1 close to CPU time,\n")
	p("  and the rest of the CPU time is the capture source, the runtime and the garbage collector):\n")
	for _, x := range rep.rows {
		r := x.r
		p("  %-44s %5d  %s\n", x.s.label, r.Procs, busyLine(r))
	}
	p("\n  steady window (25%% to 90%% of the packets): allocations / packets\n")
	for _, x := range rep.rows {
		r := x.r
		p("  %-44s %5d  %s / %s\n", x.s.label, r.Procs, group(r.SteadyMallocs), group(r.SteadyPackets))
	}
	for _, x := range rep.rows {
		r := x.r
		if r.OutBytes > 0 {
			p("  %s wrote %s MB of JSON lines (%s flow and ipstat records)\n", x.s.label, group(uint64(r.OutBytes)/1e6), group(outEvents(r)))
		}
		for _, f := range r.Failed {
			p("  %s (GOMAXPROCS %d): check failed: %s\n", x.s.label, r.Procs, f)
		}
	}
	if rep.rss != nil && rep.rss.RSS != nil {
		m := rep.rss.RSS
		per := func(a, b uint64) string {
			if m.Flows == 0 || b < a {
				return "n/a"
			}
			return fmt.Sprintf("%.0f", float64(b-a)/float64(m.Flows))
		}
		p("\nflow table: capture→decode→sessionize→discard, idle_timeout 24h, over %s\n", rep.rssFile)
		p("  %s packets, %s flows opened together at the start; paused at packet %s, where the most are open\n",
			group(rep.rssTruth.Packets), group(rep.rssTruth.Flows), group(m.AtPacket))
		p("  %-34s %14s\n", "active flows (sessionize gauge)", group(m.Flows))
		p("  %-34s %14s %10s %14s\n", "", "before run", "at pause", "bytes/flow")
		p("  %-34s %11s MB %7s MB %14s\n", "live heap (after GC)", mb(m.BaseLive), mb(m.PeakLive), per(m.BaseLive, m.PeakLive))
		p("  %-34s %11s MB %7s MB %14s\n", "heap reserved from the OS", mb(m.BaseHeapSys), mb(m.PeakHeapSys), per(m.BaseHeapSys, m.PeakHeapSys))
		p("  %-34s %11s MB %7s MB %14s\n", "resident set (VmRSS)", mb(m.BaseRSS), mb(m.PeakRSS), per(m.BaseRSS, m.PeakRSS))
		p("  %-34s %25s MB\n", "peak resident set (VmHWM)", mb(m.HWM))
		p("  large flow tables live outside the Go heap (populated huge-page arenas), so the resident set is the figure\n")
	}
	if rep.floors != nil {
		rep.floors.print(p)
	}
	p("\ntotal bench time %s\n", rep.total.Round(time.Second))
}

// busyLine lists the busy time per packet of every component with an
// input, in pipeline order, and at GOMAXPROCS 1 what is left of the CPU
// time.
func busyLine(r *result) string {
	var parts []string
	var sum float64
	for _, c := range r.Status.Components {
		if c.Role == "source" {
			continue
		}
		ns := c.BusySeconds * 1e9 / float64(r.Packets)
		sum += ns
		parts = append(parts, fmt.Sprintf("%s %.1f", c.Name, ns))
	}
	if r.Procs == 1 {
		parts = append(parts, fmt.Sprintf("rest %.1f", float64(r.CPUNS)/float64(r.Packets)-sum))
	}
	return strings.Join(parts, ", ")
}

func outEvents(r *result) uint64 {
	c, _ := r.Status.Component("out")
	return c.EventsIn
}

func mb(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// group formats n with thousands separators.
func group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// cpuModel is the processor's name from /proc/cpuinfo, if readable.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg is the one-minute load average: figures taken while other work
// competes for the CPUs are wall-clock pessimistic, and this says so.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
