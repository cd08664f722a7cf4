// Package metrics exports a pipeline's status as Prometheus metrics: per
// component events in and out, queue drops, errors, queue depth, busy
// time, health and batch latency histograms; every component's own
// counters and gauges, the well-known ones (kernel drops, active flows,
// geo cache hits, webhook retries) under names of their own; configuration
// reloads; and the Go runtime and process collectors.
//
// The metrics are read from pipeline.Status at scrape time, so the hot
// path pays nothing for them: the counters it already keeps are the
// metrics. The dashboard sink serves them at /metrics; without a
// dashboard, nfpipe run serves them on the address of the pipeline's
// top-level metrics: block.
package metrics
