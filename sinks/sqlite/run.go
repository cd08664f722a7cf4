package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// writer is the goroutine that owns every database write.
type writer struct {
	k     *Sink
	st    *store.Store
	env   *pipeline.Env
	stats *pipeline.Stats
	p     *pending
	rl    *rateLog
	bo    *backoff
	rows  store.Rows

	flows, ipstats, alerts, events, txs, retries, pruned *atomic.Uint64

	lastPrune  time.Time
	stopWarned bool
}

// Run connects, then converts input batches into rows while the writer
// goroutine stores them; when the input ends it waits for everything
// buffered to be written.
func (k *Sink) Run(ctx context.Context, env *pipeline.Env) error {
	st, err := k.store()
	if err != nil {
		return err
	}
	stats := env.Stats()
	w := &writer{
		k: k, st: st, env: env, stats: stats,
		p:         newPending(k.set.maxPend, stats),
		rl:        newRateLog(env.Logger()),
		bo:        newBackoff(),
		flows:     stats.Counter("flows_written"),
		ipstats:   stats.Counter("ip_stats_written"),
		alerts:    stats.Counter("alerts_written"),
		events:    stats.Counter("events_written"),
		txs:       stats.Counter("transactions"),
		retries:   stats.Counter("write_retries"),
		pruned:    stats.Counter("pruned_rows"),
		lastPrune: time.Now(),
	}
	done := make(chan error, 1)
	go func() { done <- w.loop(ctx) }()
	probe := st.Probe()
	in := env.Input()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				w.p.close()
				return <-done
			}
			env.Received(b)
			start := time.Now()
			if n := w.p.add(b, probe, k.set.widths); n > 0 {
				w.rl.logf(slog.LevelWarn, "drop", "history buffer full while the database fails: rows dropped", "rows", n, "max_pending", k.set.maxPend)
			}
			stats.AddBusy(time.Since(start))
			b.Release()
		case err := <-done:
			// The writer gave up (the database cannot be used, or a
			// forced stop); the engine drains the input.
			return err
		}
	}
}

// loop writes until the input has ended and everything is stored.
func (w *writer) loop(ctx context.Context) error {
	// Whatever happens, a reader waiting for space must not wait for ever.
	defer w.p.setFailing(true)
	if err := w.connect(ctx); err != nil {
		w.p.discard()
		if ctx.Err() != nil {
			return nil // forced stop: the buffered rows are counted as dropped
		}
		return err
	}
	w.k.ready.Store(true)
	tick := time.NewTicker(w.k.set.flush)
	defer tick.Stop()
	for {
		flows, rows := w.p.size()
		closed := w.p.isClosed()
		if rows == 0 && closed {
			break
		}
		// Write when a full transaction is ready, or on the flush tick,
		// or to drain at the end; otherwise wait.
		if flows < w.k.set.batch && !closed {
			select {
			case <-w.p.work:
				if f, _ := w.p.size(); f < w.k.set.batch && !w.p.isClosed() {
					continue
				}
			case <-tick.C:
			case <-ctx.Done():
				w.p.discard()
				return nil
			}
		}
		if err := w.writeOnce(ctx); err != nil {
			w.p.discard()
			return nil // forced stop: counted as dropped
		}
		w.maybePrune(ctx, false)
	}
	// The input ended and everything is written.
	if err := w.st.Flush(ctx); err != nil {
		w.rl.logf(slog.LevelWarn, "flush", "cannot store the last block filter; queries will scan that block", "err", err)
	}
	w.maybePrune(ctx, true)
	return nil
}

// connect opens and migrates the database, retrying what may pass (a
// server still starting, a lock) and failing on what will not (a bad
// path, a failed migration).
func (w *writer) connect(ctx context.Context) error {
	for {
		err := w.st.Init(ctx)
		if err == nil {
			w.bo.reset()
			w.p.setFailing(false)
			w.stats.SetHealth(pipeline.Healthy, "")
			w.env.Logger().Info("history database ready", "db", w.k.Where(), "probe", w.st.Probe())
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch classify(err) {
		case permanent:
			return fmt.Errorf("history database %s: %w", w.k.Where(), err)
		case diskFull:
			w.stats.SetHealth(pipeline.Unhealthy, "disk full: "+err.Error())
			w.rl.logf(slog.LevelError, "connect", "disk full: cannot create the history database; free space or shorten retention", "db", w.k.Where(), "err", err)
		default:
			w.stats.SetHealth(pipeline.Degraded, "database unreachable, retrying: "+err.Error())
			w.rl.logf(slog.LevelWarn, "connect", "cannot open the history database; retrying", "db", w.k.Where(), "err", err)
		}
		w.p.setFailing(true)
		w.retries.Add(1)
		w.warnIfStopping()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.bo.next()):
		}
	}
}

// warnIfStopping says, once, that a stop waits for the database.
func (w *writer) warnIfStopping() {
	if w.stopWarned || !w.p.isClosed() {
		return
	}
	w.stopWarned = true
	_, rows := w.p.size()
	w.env.Logger().Warn("the pipeline is stopping but the history database fails; the sink keeps retrying to save the buffered rows (stop again to exit without them)", "db", w.k.Where(), "rows", rows+w.rows.Len())
}

// writeOnce takes one transaction's rows and stores them, retrying
// transient faults until they pass or ctx ends (a forced stop), which is
// the only error it returns.
func (w *writer) writeOnce(ctx context.Context) error {
	w.rows.Reset()
	w.p.take(&w.rows, w.k.set.batch)
	if d := w.k.events.take(&w.rows); d > 0 {
		w.p.drop(d)
	}
	if w.rows.Len() == 0 {
		return nil
	}
	for {
		start := time.Now()
		err := w.st.Write(ctx, &w.rows)
		if err == nil {
			w.committed(time.Since(start))
			return nil
		}
		if ctx.Err() != nil {
			w.p.drop(w.rows.Len())
			return ctx.Err()
		}
		w.stats.Errors.Add(1)
		switch classify(err) {
		case permanent:
			// Retrying cannot help; keep the rest of the history flowing.
			w.p.drop(w.rows.Len())
			w.rl.logf(slog.LevelError, "reject", "the database rejected a batch; its rows are dropped", "db", w.k.Where(), "rows", w.rows.Len(), "err", err)
			return nil
		case diskFull:
			w.stats.SetHealth(pipeline.Unhealthy, "disk full: "+err.Error())
			w.rl.logf(slog.LevelError, "full", "disk full: the history database cannot grow; free space or shorten retention. Retrying; rows beyond max_pending are dropped", "db", w.k.Where(), "err", err)
		default:
			w.stats.SetHealth(pipeline.Degraded, "database failing, retrying: "+err.Error())
			w.rl.logf(slog.LevelWarn, "retry", "history write failed; retrying with backoff", "db", w.k.Where(), "err", err)
		}
		w.p.setFailing(true)
		w.retries.Add(1)
		w.warnIfStopping()
		select {
		case <-ctx.Done():
			w.p.drop(w.rows.Len())
			return ctx.Err()
		case <-time.After(w.bo.next()):
		}
	}
}

func (w *writer) committed(took time.Duration) {
	if w.bo.cur != 0 {
		w.env.Logger().Info("history writes work again", "db", w.k.Where())
	}
	w.bo.reset()
	w.p.setFailing(false)
	w.stats.SetHealth(pipeline.Healthy, "")
	w.flows.Add(uint64(len(w.rows.Flows)))
	w.ipstats.Add(uint64(len(w.rows.IPStats)))
	w.alerts.Add(uint64(len(w.rows.Alerts)))
	w.events.Add(uint64(len(w.rows.Events)))
	w.txs.Add(1)
	w.env.Logger().Debug("history batch committed", "flows", len(w.rows.Flows), "ip_stats", len(w.rows.IPStats), "alerts", len(w.rows.Alerts), "events", len(w.rows.Events), "took", took)
}

// maybePrune runs retention when it is due (or when final).
func (w *writer) maybePrune(ctx context.Context, final bool) {
	if !final && time.Since(w.lastPrune) < w.k.set.retEvery {
		return
	}
	w.lastPrune = time.Now()
	now := time.Now()
	packetNow := w.p.newestPacket()
	// A clock far in the future (a corrupt capture) must not wipe the
	// history: packet time counts only up to a day past the wall clock.
	if limit := now.Add(24 * time.Hour); packetNow.After(limit) {
		packetNow = limit
	}
	pr, err := w.st.Prune(ctx, w.k.set.retention, packetNow, now)
	w.pruned.Add(uint64(pr.Total()))
	if err != nil && !errors.Is(err, context.Canceled) {
		w.rl.logf(slog.LevelWarn, "prune", "retention failed; it will run again", "err", err)
		return
	}
	if pr.Total() > 0 {
		w.env.Logger().Info("retention pruned the history", "flows", pr.Flows, "ip_stats", pr.IPStats, "alerts", pr.Alerts, "events", pr.Events, "batches", pr.Batches, "freed_pages", pr.FreedPages)
	}
}

// Close stores the system events recorded since Run returned (the
// pipeline's "stopped" among them), stops listening for events and closes
// the database. It is safe to call more than once.
func (k *Sink) Close() error {
	k.closeMu.Lock()
	defer k.closeMu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	if k.unsub != nil {
		k.unsub()
	}
	if k.st == nil {
		return nil // never used: nothing was opened
	}
	var err error
	// Only a database Run reached is worth the wait; an unreachable one
	// would hold the exit up for nothing.
	if k.ready.Load() && k.events.len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), k.finalTimeout)
		var rows store.Rows
		k.events.take(&rows)
		if werr := k.st.Write(ctx, &rows); werr != nil {
			err = fmt.Errorf("cannot store the last system events: %w", werr)
		}
		cancel()
	}
	return errors.Join(err, k.st.Close())
}
