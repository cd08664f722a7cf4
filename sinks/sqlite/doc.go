// Package sqlite is the history sink: it stores flows, per-IP rollups,
// alerts and system events in SQLite (or PostgreSQL with dsn), prunes them
// by itself, and hands the dashboard the query layer of package store
// through (*Sink).Store.
//
// One goroutine reads input batches into a bounded buffer; one writer
// goroutine owns the database and writes a transaction per batch of rows,
// retrying with backoff while the database is locked, unreachable or full.
package sqlite
