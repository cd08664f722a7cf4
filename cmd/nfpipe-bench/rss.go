package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
)

// rssResult is the flow table's memory at its measuring point.
type rssResult struct {
	Flows       uint64 `json:"flows"`  // sessionize active_flows at the point
	Target      uint64 `json:"target"` // the truth's peak of tracked flows
	AtPacket    uint64 `json:"at_packet"`
	BaseLive    uint64 `json:"base_live"`
	PeakLive    uint64 `json:"peak_live"`
	BaseRSS     uint64 `json:"base_rss"`
	PeakRSS     uint64 `json:"peak_rss"`
	HWM         uint64 `json:"hwm"`
	BaseHeapSys uint64 `json:"base_heap_sys"`
	PeakHeapSys uint64 `json:"peak_heap_sys"`
}

// runRSS measures what the flow table costs per flow: it replays a
// capture in which about a million flows are open at once, pauses the
// pipeline at the packet where the truth says the most flows are open,
// lets the queues drain, collects garbage and reads the live heap and the
// resident set. The baseline is the same figures after the pipeline is
// built, before it runs.
func runRSS(file string, truth *gen.Truth) (*result, error) {
	p, err := build(rssYAML(file, int(truth.Flows)), filepath.Dir(file))
	if err != nil {
		return nil, err
	}
	var ms runtime.MemStats
	measure := func() (live, rss, heapSys uint64) {
		runtime.GC()
		runtime.GC() // the second cycle frees what the first one's finalizers let go
		debug.FreeOSMemory()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, procStatus("VmRSS")["VmRSS"], ms.HeapSys
	}
	r := &rssResult{Target: truth.PeakTrackedFlows}
	r.BaseLive, r.BaseRSS, r.BaseHeapSys = measure()

	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	paused := false
	for !paused {
		select {
		case err := <-errc:
			return nil, fmt.Errorf("the replay ended before the measuring point: %v", err)
		case <-tick.C:
		}
		if counter(p.Status(), "capture", "packets_read") >= truth.PeakTrackedAt {
			p.Pause()
			paused = true
		}
	}
	// Wait until every frame read has been through the sessionizer.
	for {
		st := p.Status()
		dec, _ := st.Component("decode")
		sess, _ := st.Component("sessionize")
		if dec.EventsIn == counter(st, "capture", "packets_read") && sess.EventsIn == dec.EventsOut && sess.QueueDepth == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if counter(p.Status(), "capture", "packets_read") >= truth.Packets {
		p.Stop()
		<-errc
		return nil, fmt.Errorf("the whole capture was read before the pause took effect; use a larger capture")
	}
	r.PeakLive, r.PeakRSS, r.PeakHeapSys = measure()
	st := p.Status()
	sess, _ := st.Component("sessionize")
	r.Flows = uint64(sess.Gauges["active_flows"])
	r.AtPacket = counter(st, "capture", "packets_read")
	r.HWM = procStatus("VmHWM")["VmHWM"]
	// Stop ends every open flow (reason shutdown) and drains.
	p.Stop()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	return &result{
		ID:     "rss",
		Procs:  runtime.GOMAXPROCS(0),
		WallNS: int64(time.Since(start)),
		Status: p.Status(),
		RSS:    r,
	}, nil
}
