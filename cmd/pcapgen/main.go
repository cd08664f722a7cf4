// Command pcapgen writes a deterministic synthetic capture for benchmarks
// and tests: a classic Ethernet pcap whose traffic (TCP, UDP and ICMP
// flows over IPv4 and IPv6, some VLAN-tagged, IMIX frame sizes) is fixed
// by a seed, and beside it FILE.truth.json with the ground truth.
//
// Usage:
//
//	pcapgen -o bench.pcap [-packets N] [-flows N] [-concurrent N] [-seed N] [-nano]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

func main() {
	def := gen.DefaultConfig()
	out := flag.String("o", "", "output pcap `file` (required); the truth goes to FILE.truth.json")
	packets := flag.Int("packets", def.Packets, "exact number of frames")
	flows := flag.Int("flows", def.Flows, "exact number of distinct flows")
	conc := flag.Int("concurrent", def.Concurrent, "flows open at once")
	seed := flag.Uint64("seed", def.Seed, "random seed; the same flags give the same bytes")
	nano := flag.Bool("nano", false, "nanosecond timestamps (pcap magic a1b23c4d) instead of microseconds")
	spacing := flag.Duration("spacing", time.Microsecond, "mean time between frames while flows are open")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: pcapgen -o FILE [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	cfg := gen.Config{Packets: *packets, Flows: *flows, Concurrent: *conc, Seed: *seed, Nanosecond: *nano, Spacing: *spacing}
	if *spacing == time.Microsecond {
		cfg.Spacing = 0 // the default, spelled the same in cached truth files
	}
	start := time.Now()
	t, err := gen.WriteFile(*out, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pcapgen:", err)
		os.Exit(1)
	}
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "pcapgen: wrote %s in %s (%.2f M frames/s, %.0f MB/s)\n",
		*out, el.Round(time.Millisecond), float64(t.Packets)/el.Seconds()/1e6, float64(t.FileBytes)/el.Seconds()/1e6)
	gen.PrintSummary(os.Stderr, t)
}
