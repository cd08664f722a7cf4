// Package store is nfpipe's flow history: the tables the sqlite sink
// writes and the query layer the dashboard and the CLI read, on SQLite
// (pure Go, one file) or PostgreSQL (several probes sharing one server).
//
// # Opening
//
//	s, err := store.Open(ctx, store.Options{Path: "data/nfpipe.db"})
//	s, err := store.Open(ctx, store.Options{DSN: "postgres://…", Probe: "edge-1"})
//	s, err := store.Open(ctx, store.Options{Path: p, ReadOnly: true}) // query only
//
// Open connects and brings the schema up to date with the versioned SQL
// files under migrations/ (one directory per database, same versions), so
// an upgrade keeps the data. SQLite runs in WAL mode with
// synchronous=NORMAL (a committed transaction survives the process being
// killed), a busy timeout, and incremental auto-vacuum.
//
// # Tables
//
// Times are integer nanoseconds since the Unix epoch: packet time for
// flows, ip_stats and alerts, wall-clock time for events and batches.
// Every row names the probe that wrote it.
//
//   - flows: every ended flow with all fields of the JSON contract; geo
//     per end, tags and attrs as JSON text. FlowFromRecord and
//     (*Flow).Record convert without loss.
//   - flow_blocks: the index of flows — time bounds and a Bloom filter of
//     addresses and ports per block of up to 4096 rows (see bloom.go for
//     why not B-tree indexes).
//   - ip_stats: per-address counters rolled up into buckets of several
//     widths (1m, 5m, 1h by default), aligned in packet time; writes add
//     to a bucket, so it may be written in pieces.
//   - alerts, events: alert records and system events.
//   - batches: one row per write transaction with its row counts.
//
// # Writing
//
// Write stores a Rows (flows, ip_stats increments, alerts, events) in one
// transaction; a crash leaves whole transactions or nothing. Prune
// applies a Retention per table. Writes from one Store are serialised.
//
// # Queries
//
// Ranges are [Since, Until) of packet time; a zero bound is open. Probe ""
// means all probes. Paged results come newest first with an opaque
// cursor.
//
//	TopTalkers(ctx, TopQuery{Since, Until, By: "bytes"|"packets"|"flows", Limit, Probe}) (TopResult, error)
//	Flows(ctx, FlowQuery{Since, Until, IP, Port, Proto, State, Probe, Limit, Cursor}) (FlowPage, error)
//	TimeSeries(ctx, SeriesQuery{IP, Since, Until, Bucket, Probe}) ([]Point, error)
//	IPHistory(ctx, IPHistoryQuery{IP, Since, Until, Bucket, Probe}) ([]IPPoint, error)
//	Countries(ctx, CountryQuery{Since, Until, Probe, Limit}) ([]CountryTraffic, error)
//	Alerts(ctx, AlertQuery{Since, Until, Rule, Severity, State, Subject, Probe, Limit, Cursor}) (AlertPage, error)
//	Events(ctx, EventQuery{Since, Until, Kind, Component, Probe, Limit, Cursor}) (EventPage, error)
//	Latest(ctx, probe) (time.Time, error) // newest packet time stored
//	Probes(ctx) ([]string, error)
//
// Rankings, series and histories read ip_stats at the finest resolution
// that still covers the range (fine levels are kept for less time), and
// fall back to the flows table when there are no rollups. Invalid
// parameters return errors wrapping ErrBadQuery.
package store
