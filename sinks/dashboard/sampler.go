package dashboard

import (
	"sync"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
)

// sample is one point of the live rate series.
type sample struct {
	T       int64   // wall time, unix milliseconds
	PPS     float64 // packets per second at the sources
	BPS     float64 // bits per second at the sources
	FPS     float64 // new flows per second
	Active  int     // active flows
	Packets uint64  // totals at the sources
	Bytes   uint64
}

// nodeRate is a component's event rates between the last two samples.
type nodeRate struct {
	InPS, OutPS, DropPS float64
}

// sampler turns the pipeline's cumulative counters into rates and keeps
// the last n samples (an hour at the default one-second interval).
type sampler struct {
	mu     sync.RWMutex
	ring   []sample
	next   int
	full   bool
	last   time.Time
	lastPk uint64
	lastBy uint64
	nodes  map[string]pipeline.ComponentStatus // previous snapshot
	rates  map[string]nodeRate
	status pipeline.Status // latest snapshot
	every  time.Duration
}

func newSampler(n int, every time.Duration) *sampler {
	if every <= 0 {
		every = time.Second
	}
	return &sampler{ring: make([]sample, n), every: every, nodes: map[string]pipeline.ComponentStatus{}, rates: map[string]nodeRate{}}
}

// sourceTotals sums what the sources read: the capture stage's
// packets_read and bytes_read (or packets and bytes of other sources),
// else the events they emitted. hasBytes is false when no source counts
// bytes, and the caller then uses the bytes seen in flows.
func sourceTotals(st pipeline.Status) (packets, bytes uint64, hasBytes bool) {
	for _, c := range st.Components {
		if c.Role != "source" {
			continue
		}
		if v, ok := firstCounter(c.Counters, "packets_read", "packets"); ok {
			packets += v
		} else {
			packets += c.EventsOut
		}
		if v, ok := firstCounter(c.Counters, "bytes_read", "bytes"); ok {
			bytes += v
			hasBytes = true
		}
	}
	return
}

func firstCounter(m map[string]uint64, names ...string) (uint64, bool) {
	for _, n := range names {
		if v, ok := m[n]; ok {
			return v, true
		}
	}
	return 0, false
}

// add records a snapshot taken at now. flowBytes and newFlows are what
// the live view saw in flows since the previous call.
func (s *sampler) add(now time.Time, st pipeline.Status, flowBytes, newFlows uint64, active int) sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	pk, by, hasBytes := sourceTotals(st)
	if !hasBytes {
		by = s.lastBy + flowBytes
	}
	sm := sample{T: now.UnixMilli(), Active: active, Packets: pk, Bytes: by}
	if !s.last.IsZero() {
		if dt := now.Sub(s.last).Seconds(); dt > 0 {
			sm.PPS = float64(sub(pk, s.lastPk)) / dt
			sm.BPS = float64(sub(by, s.lastBy)) * 8 / dt
			sm.FPS = float64(newFlows) / dt
			for _, c := range st.Components {
				if p, ok := s.nodes[c.Name]; ok {
					s.rates[c.Name] = nodeRate{
						InPS:   float64(sub(c.EventsIn, p.EventsIn)) / dt,
						OutPS:  float64(sub(c.EventsOut, p.EventsOut)) / dt,
						DropPS: float64(sub(c.Dropped, p.Dropped)) / dt,
					}
				}
			}
		}
	}
	for _, c := range st.Components {
		s.nodes[c.Name] = c
	}
	s.last, s.lastPk, s.lastBy, s.status = now, pk, by, st
	s.ring[s.next] = sm
	s.next = (s.next + 1) % len(s.ring)
	s.full = s.full || s.next == 0
	return sm
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// latest returns the newest sample and the status it was taken from.
func (s *sampler) latest() (sample, pipeline.Status, map[string]nodeRate) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.next - 1
	if i < 0 {
		if !s.full {
			return sample{}, s.status, nil
		}
		i = len(s.ring) - 1
	}
	rates := make(map[string]nodeRate, len(s.rates))
	for k, v := range s.rates {
		rates[k] = v
	}
	return s.ring[i], s.status, rates
}

// series returns the samples newer than since (unix ms), oldest first.
func (s *sampler) series(since int64) []sample {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []sample
	add := func(ss []sample) {
		for _, x := range ss {
			if x.T > since {
				out = append(out, x)
			}
		}
	}
	if s.full {
		add(s.ring[s.next:])
	}
	add(s.ring[:s.next])
	return out
}

// span is how much time the series covers.
func (s *sampler) span() time.Duration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return time.Duration(len(s.ring)) * s.every
}
