package pipeline

import (
	"sync/atomic"
	"time"
)

// BatchLatencyBuckets are the upper bounds, in seconds, of the batch
// latency histogram every component keeps. A batch of a few hundred
// events takes from a few microseconds (decode) to milliseconds (a
// database write), so the buckets span 5µs to 2.5s, about 2.5x apart;
// slower batches land in the implicit +Inf bucket.
var BatchLatencyBuckets = latencyBounds[:]

var latencyBounds = [...]float64{
	5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5,
}

// latencyBoundsNS are BatchLatencyBuckets in nanoseconds, so observing
// compares integers.
var latencyBoundsNS = func() []int64 {
	out := make([]int64, len(latencyBounds))
	for i, s := range latencyBounds {
		out[i] = int64(s * 1e9)
	}
	return out
}()

// latencyHist counts batches by processing time. One observation per
// batch: a short scan of the bounds and two atomic adds, no lock.
type latencyHist struct {
	counts [len(latencyBounds) + 1]atomic.Uint64 // one per bound, then +Inf
	sumNS  atomic.Int64
}

func (h *latencyHist) observe(d time.Duration) {
	ns := int64(d)
	i := 0
	for i < len(latencyBoundsNS) && ns > latencyBoundsNS[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(ns)
}

// BatchLatency is a snapshot of a component's batch latency histogram.
type BatchLatency struct {
	// Buckets are cumulative counts: Buckets[i] batches took at most
	// BatchLatencyBuckets[i] seconds.
	Buckets []uint64
	// Count is the number of batches observed (the +Inf bucket).
	Count uint64
	// SumSeconds is their total processing time.
	SumSeconds float64
}

func (h *latencyHist) snapshot() BatchLatency {
	out := BatchLatency{Buckets: make([]uint64, len(latencyBoundsNS))}
	// Read the sum first: an observation racing with the snapshot then
	// shows in a count but not the sum, never the reverse.
	out.SumSeconds = time.Duration(h.sumNS.Load()).Seconds()
	var cum uint64
	for i := range latencyBoundsNS {
		cum += h.counts[i].Load()
		out.Buckets[i] = cum
	}
	out.Count = cum + h.counts[len(latencyBoundsNS)].Load()
	return out
}
