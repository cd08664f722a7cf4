package pipeline

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Health of a component.
type Health string

// Health values.
const (
	Healthy   Health = "ok"
	Degraded  Health = "degraded"
	Unhealthy Health = "unhealthy"
	Stopped   Health = "stopped"
)

// Stats are a component's live counters. The runtime counts events in and
// out, queue drops and busy time; components add errors and their own
// named counters. All updates are atomic: no lock on the hot path.
type Stats struct {
	In      atomic.Uint64
	Out     atomic.Uint64
	Dropped atomic.Uint64
	Errors  atomic.Uint64
	busy    atomic.Int64 // nanoseconds spent processing
	latency latencyHist  // processing time per input batch

	mu        sync.Mutex
	health    Health
	healthMsg string
	counters  map[string]*atomic.Uint64
	gauges    map[string]*atomic.Int64
}

func newStats() *Stats {
	return &Stats{health: Healthy, counters: map[string]*atomic.Uint64{}, gauges: map[string]*atomic.Int64{}}
}

// Counter returns the named counter, creating it. Call it once at start
// and keep the pointer; updating it is lock-free.
func (s *Stats) Counter(name string) *atomic.Uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[name]
	if c == nil {
		c = new(atomic.Uint64)
		s.counters[name] = c
	}
	return c
}

// Gauge returns the named gauge, creating it.
func (s *Stats) Gauge(name string) *atomic.Int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gauges[name]
	if g == nil {
		g = new(atomic.Int64)
		s.gauges[name] = g
	}
	return g
}

// SetHealth records the component's health with a reason.
func (s *Stats) SetHealth(h Health, msg string) {
	s.mu.Lock()
	s.health, s.healthMsg = h, msg
	s.mu.Unlock()
}

// AddBusy adds the processing time of one input batch: to the busy
// total and to the batch latency histogram. Components that read Input
// themselves call it once per batch; Batches does it for the others.
func (s *Stats) AddBusy(d time.Duration) {
	s.busy.Add(int64(d))
	s.latency.observe(d)
}

// ComponentStatus is a snapshot of one component.
type ComponentStatus struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Role        string            `json:"role"`
	Inputs      []string          `json:"inputs,omitempty"`
	EventsIn    uint64            `json:"events_in"`
	EventsOut   uint64            `json:"events_out"`
	Dropped     uint64            `json:"dropped"`
	Errors      uint64            `json:"errors"`
	QueueDepth  int               `json:"queue_depth"`
	QueueCap    int               `json:"queue_capacity"`
	BusySeconds float64           `json:"busy_seconds"`
	Health      Health            `json:"health"`
	HealthMsg   string            `json:"health_message,omitempty"`
	Counters    map[string]uint64 `json:"counters,omitempty"`
	Gauges      map[string]int64  `json:"gauges,omitempty"`
	// BatchLatency is the processing time per input batch (none for
	// sources), for the metrics endpoint; the JSON status leaves it out.
	BatchLatency BatchLatency `json:"-"`
}

// Status is a snapshot of the whole pipeline.
type Status struct {
	Running    bool              `json:"running"`
	Paused     bool              `json:"paused"`
	Started    time.Time         `json:"started"`
	Components []ComponentStatus `json:"components"`
}

// Component returns the status of the named component.
func (s Status) Component(name string) (ComponentStatus, bool) {
	for _, c := range s.Components {
		if c.Name == name {
			return c, true
		}
	}
	return ComponentStatus{}, false
}

func (s *Stats) snapshot() ComponentStatus {
	cs := ComponentStatus{
		EventsIn:     s.In.Load(),
		EventsOut:    s.Out.Load(),
		Dropped:      s.Dropped.Load(),
		Errors:       s.Errors.Load(),
		BusySeconds:  time.Duration(s.busy.Load()).Seconds(),
		BatchLatency: s.latency.snapshot(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs.Health, cs.HealthMsg = s.health, s.healthMsg
	if len(s.counters) > 0 {
		cs.Counters = make(map[string]uint64, len(s.counters))
		for k, v := range s.counters {
			cs.Counters[k] = v.Load()
		}
	}
	if len(s.gauges) > 0 {
		cs.Gauges = make(map[string]int64, len(s.gauges))
		for k, v := range s.gauges {
			cs.Gauges[k] = v.Load()
		}
	}
	return cs
}

// SortedKeys returns a map's keys in order, for stable printing.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
