package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nfpipe/nfpipe/pipeline"
)

// StatusFunc returns the current status of the pipeline to export. It is
// called once per scrape; a supervisor that replaces the pipeline on
// reload returns the running one.
type StatusFunc func() pipeline.Status

// Labels of the per-component metrics.
var (
	componentLabels = []string{"component", "type"}
	counterLabels   = []string{"component", "type", "counter"}
	gaugeLabels     = []string{"component", "type", "gauge"}
	healthLabels    = []string{"component", "type", "state"}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics every component has.
var (
	descIn      = desc("nfpipe_component_events_in_total", "Events the component received.", componentLabels...)
	descOut     = desc("nfpipe_component_events_out_total", "Events the component emitted.", componentLabels...)
	descDropped = desc("nfpipe_component_dropped_total", "Events dropped at the component's input queue because it was full (when_full: drop_newest).", componentLabels...)
	descErrors  = desc("nfpipe_component_errors_total", "Errors the component counted.", componentLabels...)
	descDepth   = desc("nfpipe_component_queue_depth", "Batches waiting in the component's input queue.", componentLabels...)
	descCap     = desc("nfpipe_component_queue_capacity", "Batches the component's input queue holds.", componentLabels...)
	descBusy    = desc("nfpipe_component_busy_seconds_total", "Time the component spent processing input batches.", componentLabels...)
	descLatency = desc("nfpipe_component_batch_duration_seconds", "Time the component took to process one input batch.", componentLabels...)
	descHealth  = desc("nfpipe_component_health", "The component's health: 1 for its current state, 0 for the others.", healthLabels...)
	descCounter = desc("nfpipe_component_counter_total", "A counter of the component's own, by name (see nfpipe stages TYPE for each type's counters).", counterLabels...)
	descGauge   = desc("nfpipe_component_gauge", "A gauge of the component's own, by name (see nfpipe stages TYPE for each type's gauges).", gaugeLabels...)

	descRunning = desc("nfpipe_pipeline_running", "1 while the pipeline runs.")
	descPaused  = desc("nfpipe_pipeline_paused", "1 while the pipeline's sources are paused (stop-monitoring).")
	descStarted = desc("nfpipe_pipeline_start_time_seconds", "When the running pipeline started, in seconds since the epoch.")
	descGeoRate = desc("nfpipe_geoip_cache_hit_ratio", "Share of geo lookups answered by the cache since the stage started.", "component")
)

// healthStates are the values of the state label, in a fixed order.
var healthStates = []pipeline.Health{pipeline.Healthy, pipeline.Degraded, pipeline.Unhealthy, pipeline.Stopped}

// wellKnown is a component counter or gauge that also gets a name of its
// own, so dashboards and alerts need no counter= label matching.
type wellKnown struct {
	typ, name string
	gauge     bool
	desc      *prometheus.Desc
}

// wellKnownMetrics are keyed by component type, then counter or gauge
// name as the component registers it.
var wellKnownMetrics = func() map[string]map[string]wellKnown {
	list := []wellKnown{
		{typ: "capture", name: "kernel_drops", desc: desc("nfpipe_capture_kernel_drops_total", "Packets the kernel dropped because a capture ring was full.", "component")},
		{typ: "capture", name: "kernel_packets", desc: desc("nfpipe_capture_kernel_packets_total", "Packets that passed the capture filter and reached a capture socket, dropped ones included.", "component")},
		{typ: "capture", name: "kernel_freezes", desc: desc("nfpipe_capture_kernel_freezes_total", "Times a capture ring froze because every block was full.", "component")},
		{typ: "capture", name: "packets_read", desc: desc("nfpipe_capture_packets_total", "Frames the capture stage read and sent downstream.", "component")},
		{typ: "capture", name: "bytes_read", desc: desc("nfpipe_capture_bytes_total", "Wire bytes of the frames the capture stage read.", "component")},
		{typ: "sessionize", name: "active_flows", gauge: true, desc: desc("nfpipe_flows_active", "Flows open in the flow table.", "component")},
		{typ: "sessionize", name: "flows_started", desc: desc("nfpipe_flows_started_total", "Flows opened.", "component")},
		{typ: "sessionize", name: "flows_ended", desc: desc("nfpipe_flows_ended_total", "Flows ended, for any reason.", "component")},
		{typ: "sessionize", name: "flows_evicted", desc: desc("nfpipe_flows_evicted_total", "Flows ended early because the flow table was full (max_sessions).", "component")},
		{typ: "geoip", name: "cache_hits", desc: desc("nfpipe_geoip_cache_hits_total", "Geo lookups answered by the cache.", "component")},
		{typ: "geoip", name: "cache_misses", desc: desc("nfpipe_geoip_cache_misses_total", "Geo lookups that walked the databases.", "component")},
		{typ: "webhook", name: "retries", desc: desc("nfpipe_webhook_retries_total", "Webhook deliveries retried after a failed attempt.", "component")},
		{typ: "webhook", name: "sent", desc: desc("nfpipe_webhook_sent_total", "Webhook deliveries the receiver accepted.", "component")},
		{typ: "webhook", name: "failed_attempts", desc: desc("nfpipe_webhook_failed_attempts_total", "Webhook attempts that failed (each may be retried).", "component")},
		{typ: "webhook", name: "queue_depth", gauge: true, desc: desc("nfpipe_webhook_queue_depth", "Webhook deliveries waiting to be sent.", "component")},
	}
	m := map[string]map[string]wellKnown{}
	for _, w := range list {
		if m[w.typ] == nil {
			m[w.typ] = map[string]wellKnown{}
		}
		m[w.typ][w.name] = w
	}
	return m
}()

// Collector reads a pipeline's status at scrape time.
type Collector struct {
	status StatusFunc
}

// NewCollector returns a collector over status.
func NewCollector(status StatusFunc) *Collector { return &Collector{status: status} }

// Describe sends every metric's description: the set is fixed, only
// label values vary with the pipeline.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIn, descOut, descDropped, descErrors, descDepth, descCap, descBusy,
		descLatency, descHealth, descCounter, descGauge, descRunning, descPaused, descStarted, descGeoRate} {
		ch <- d
	}
	for _, byName := range wellKnownMetrics {
		for _, w := range byName {
			ch <- w.desc
		}
	}
}

// Collect sends the current values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, boolValue(st.Running))
	ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, boolValue(st.Paused))
	if !st.Started.IsZero() {
		ch <- prometheus.MustNewConstMetric(descStarted, prometheus.GaugeValue, float64(st.Started.UnixNano())/1e9)
	}
	for _, cs := range st.Components {
		collectComponent(ch, cs)
	}
}

func collectComponent(ch chan<- prometheus.Metric, cs pipeline.ComponentStatus) {
	lv := []string{cs.Name, cs.Type}
	counter := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append(lv, extra...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv, extra...)...)
	}
	counter(descIn, float64(cs.EventsIn))
	counter(descOut, float64(cs.EventsOut))
	counter(descDropped, float64(cs.Dropped))
	counter(descErrors, float64(cs.Errors))
	counter(descBusy, cs.BusySeconds)
	if cs.Role != "source" {
		gauge(descDepth, float64(cs.QueueDepth))
		gauge(descCap, float64(cs.QueueCap))
		h := cs.BatchLatency
		buckets := make(map[float64]uint64, len(h.Buckets))
		for i, n := range h.Buckets {
			buckets[pipeline.BatchLatencyBuckets[i]] = n
		}
		ch <- prometheus.MustNewConstHistogram(descLatency, h.Count, h.SumSeconds, buckets, lv...)
	}
	for _, s := range healthStates {
		gauge(descHealth, boolValue(cs.Health == s), string(s))
	}
	known := wellKnownMetrics[cs.Type]
	for name, v := range cs.Counters {
		counter(descCounter, float64(v), name)
		if w, ok := known[name]; ok && !w.gauge {
			ch <- prometheus.MustNewConstMetric(w.desc, prometheus.CounterValue, float64(v), cs.Name)
		}
	}
	for name, v := range cs.Gauges {
		gauge(descGauge, float64(v), name)
		if w, ok := known[name]; ok && w.gauge {
			ch <- prometheus.MustNewConstMetric(w.desc, prometheus.GaugeValue, float64(v), cs.Name)
		}
	}
	if cs.Type == "geoip" {
		hits, misses := cs.Counters["cache_hits"], cs.Counters["cache_misses"]
		if hits+misses > 0 {
			ch <- prometheus.MustNewConstMetric(descGeoRate, prometheus.GaugeValue, float64(hits)/float64(hits+misses), cs.Name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var _ prometheus.Collector = (*Collector)(nil)
