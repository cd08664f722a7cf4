package webhook

import (
	"context"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
)

// Run queues every alert it receives for the delivery goroutine, and when
// the input ends gives that goroutine drain_timeout to deliver the rest.
func (s *sink) Run(ctx context.Context, env *pipeline.Env) error {
	log := env.Logger()
	c := newCounters(env.Stats())
	q := newQueue(s.cfg.QueueSize, s.cfg.WhenQueueFull == "drop_oldest")
	d := &deliverer{s: s, log: log, q: q, c: c, bo: newBackoff(s.cfg.BackoffInitial, s.cfg.BackoffMax)}

	// dctx ends delivery: on a forced stop, or when drain_timeout runs
	// out after the input ended.
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	draining := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.run(dctx, draining)
	}()

	dedupe := newDeduper(s.cfg.DedupeWindow)
	full := false // in a queue-full episode, logged once
	var overflowed int
	for b := range env.Batches() {
		now := time.Now()
		for i := range b.Alerts {
			a := &b.Alerts[i]
			if dedupe.duplicate(a.ID, now) {
				c.dupes.Add(1)
				continue
			}
			js := a.AppendJSON(nil)
			if q.push(&item{id: a.ID, json: js, view: newAlert(a, js), queued: now}) != nil {
				c.drop(1)
				overflowed++
				if !full {
					full = true
					log.Warn("webhook queue full; dropping alerts until the receiver catches up", "endpoint", s.endpoint,
						"queue_size", s.cfg.QueueSize, "drop", s.cfg.WhenQueueFull)
				}
			}
		}
		depth := q.len()
		c.depth.Store(int64(depth))
		if full && depth <= s.cfg.QueueSize/2 {
			full = false
			log.Info("webhook queue has room again", "endpoint", s.endpoint, "dropped", overflowed)
			overflowed = 0
		}
	}

	// The input ended: deliver what is queued, for at most drain_timeout.
	close(draining)
	timer := time.NewTimer(s.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		stop()
		<-done
	case <-ctx.Done():
		stop()
		<-done
	}
	left := len(q.drainAll())
	c.drop(left)
	c.depth.Store(0)
	if lost := left + d.abandoned; lost > 0 {
		log.Error("webhook sink stopped with alerts not delivered; they are dropped", "endpoint", s.endpoint,
			"alerts", lost, "drain_timeout", s.cfg.DrainTimeout)
		env.Stats().SetHealth(pipeline.Degraded, "stopped with undelivered alerts")
	}
	s.client.CloseIdleConnections()
	return nil
}
