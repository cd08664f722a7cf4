// Command nfpipe-bench measures nfpipe end to end on generated captures
// and prints a table of figures: packets per second and nanoseconds per
// packet for whole pipelines built from YAML, CPU time and allocations per
// packet, the same on one core, the memory each flow costs in the flow
// table with a million flows open at once, and the machine's floors:
// what reading the capture and a load from memory cost here.
//
// The captures are generated once into a cache directory (bench-out by
// default) and reused while their truth files match. Each measurement runs
// in a child process of its own, so heaps, GC state and GOMAXPROCS do not
// leak from one figure into the next.
//
// Usage:
//
//	go run ./cmd/nfpipe-bench [-out bench-out] [-packets N] [-flows N] [-concurrent N] [-rss-flows N]
package main

import (
	"flag"
	"fmt"
	"os"
)

// options are the command-line settings shared by parent and children.
type options struct {
	out        string
	packets    int
	flows      int
	concurrent int
	seed       uint64
	rssFlows   int
	rssPackets int
	warmup     int
	skipRSS    bool
	only       string
	profile    string
	child      string
	file       string
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "bench-out", "cache `dir` for captures and sink output")
	flag.IntVar(&o.packets, "packets", 5_000_000, "frames in the throughput capture")
	flag.IntVar(&o.flows, "flows", 200_000, "flows in the throughput capture")
	flag.IntVar(&o.concurrent, "concurrent", 20_000, "flows open at once in the throughput capture")
	flag.Uint64Var(&o.seed, "seed", 1, "capture seed")
	flag.IntVar(&o.rssFlows, "rss-flows", 1_000_000, "flows open at once for the flow-table memory figure")
	flag.IntVar(&o.rssPackets, "rss-packets", 3_000_000, "frames in the flow-table memory capture")
	flag.IntVar(&o.warmup, "warmup", 1_000_000, "frames of a warm-up pass before each measured run; 0 skips it")
	flag.BoolVar(&o.skipRSS, "skip-rss", false, "skip the flow-table memory figure")
	flag.StringVar(&o.only, "only", "", "run only the scenarios whose id contains this text")
	flag.StringVar(&o.profile, "profile", "", "write a CPU and an allocation profile of each scenario into `dir`")
	flag.StringVar(&o.child, "child", "", "internal: run one scenario and print its result as JSON")
	flag.StringVar(&o.file, "file", "", "internal: the capture a child reads")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: nfpipe-bench [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	var err error
	if o.child != "" {
		err = runChild(o)
	} else {
		err = runParent(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nfpipe-bench:", err)
		os.Exit(1)
	}
}
