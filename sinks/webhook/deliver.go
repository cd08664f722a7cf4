package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
)

// counters are the sink's metrics, looked up once.
type counters struct {
	stats                                                     *pipeline.Stats
	sent, requests, failed, retries, rejected, dropped, dupes *atomic.Uint64
	depth                                                     *atomic.Int64
}

func newCounters(st *pipeline.Stats) *counters {
	return &counters{
		stats:    st,
		sent:     st.Counter("sent"),
		requests: st.Counter("requests"),
		failed:   st.Counter("failed_attempts"),
		retries:  st.Counter("retries"),
		rejected: st.Counter("rejected"),
		dropped:  st.Counter("dropped"),
		dupes:    st.Counter("duplicates"),
		depth:    st.Gauge("queue_depth"),
	}
}

// drop counts n alerts that will not be delivered, also in the
// component's dropped total shown in status.
func (c *counters) drop(n int) {
	c.dropped.Add(uint64(n))
	c.stats.Dropped.Add(uint64(n))
}

// deliverer is the delivery goroutine: it takes requests' worth of
// alerts from the queue and sends each until it succeeds, is refused,
// runs out of retries or the sink stops.
type deliverer struct {
	s   *sink
	log *slog.Logger
	q   *queue
	c   *counters
	bo  backoff

	// failures counts failed attempts since the last success; the first
	// of a run is logged as a warning, the rest at debug level.
	failures int
	// abandoned counts alerts that were being sent when the sink stopped.
	abandoned int
}

// run delivers until ctx ends, or draining is closed and the queue is
// empty.
func (d *deliverer) run(ctx context.Context, draining <-chan struct{}) {
	for {
		items := d.q.take(ctx, draining, d.s.cfg.BatchSize, d.s.cfg.BatchWait)
		d.c.depth.Store(int64(d.q.len()))
		if items == nil {
			return
		}
		d.deliver(ctx, items)
		if ctx.Err() != nil {
			return
		}
	}
}

// deliver sends one request's alerts, retrying as configured.
func (d *deliverer) deliver(ctx context.Context, items []*item) {
	body, err := d.body(items)
	if err != nil {
		d.c.drop(len(items))
		d.log.Error("cannot render the webhook body template; alerts dropped", "alerts", len(items), "err", d.s.scrub.scrub(err.Error()))
		return
	}
	delivery := newDeliveryID()
	for n := 1; ; n++ {
		if n > 1 {
			d.c.retries.Add(1)
		}
		res := d.s.attempt(ctx, body, delivery, n)
		switch res.outcome {
		case delivered:
			d.c.sent.Add(uint64(len(items)))
			d.c.requests.Add(1)
			d.recovered()
			return
		case refused:
			d.c.rejected.Add(uint64(len(items)))
			d.c.drop(len(items))
			d.log.Error("webhook receiver refused the alerts; they are dropped", "endpoint", d.s.endpoint, "problem", res.problem, "alerts", len(items))
			d.c.stats.SetHealth(pipeline.Degraded, fmt.Sprintf("receiver %s refused alerts: %s", d.s.endpoint, res.problem))
			return
		}
		if ctx.Err() != nil {
			d.abandon(len(items))
			return
		}
		d.c.failed.Add(1)
		d.failures++
		if limit := d.s.cfg.MaxRetries; limit > 0 && n > limit {
			d.c.drop(len(items))
			d.log.Error("webhook delivery failed too often; alerts dropped", "endpoint", d.s.endpoint, "problem", res.problem, "attempts", n, "alerts", len(items))
			return
		}
		wait := d.bo.wait(n, res.retryAfter)
		d.failing(res.problem, n, wait)
		if !sleep(ctx, wait) {
			d.abandon(len(items))
			return
		}
	}
}

// abandon counts alerts in flight when the sink had to stop.
func (d *deliverer) abandon(n int) {
	d.abandoned += n
	d.c.drop(n)
}

// failing reports a failed attempt: health, and a log line (a warning
// for the first failure after a success, debug for the rest).
func (d *deliverer) failing(problem string, attempt int, wait time.Duration) {
	queued := d.q.len()
	d.c.stats.SetHealth(pipeline.Degraded, fmt.Sprintf("receiver %s failing: %s; %d alerts queued", d.s.endpoint, problem, queued))
	level := slog.LevelDebug
	if d.failures == 1 {
		level = slog.LevelWarn
	}
	d.log.Log(context.Background(), level, "webhook delivery failed; retrying", "endpoint", d.s.endpoint, "problem", problem,
		"attempt", attempt, "retry_in", wait.Round(time.Millisecond), "queued", queued)
}

// recovered ends a run of failures.
func (d *deliverer) recovered() {
	if d.failures > 0 {
		d.log.Info("webhook delivery works again", "endpoint", d.s.endpoint, "failed_attempts", d.failures)
		d.failures = 0
	}
	d.c.stats.SetHealth(pipeline.Healthy, "")
}

// body is the request body of some alerts: the template's output, the
// alert's JSON (batch_size 1) or a JSON array of alerts.
func (d *deliverer) body(items []*item) ([]byte, error) {
	if d.s.tmpl != nil {
		views := make([]Alert, len(items))
		for i, it := range items {
			views[i] = it.view
		}
		return render(d.s.tmpl, views)
	}
	if d.s.cfg.BatchSize == 1 {
		return items[0].json, nil
	}
	n := 2
	for _, it := range items {
		n += len(it.json) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.json...)
	}
	return append(b, ']'), nil
}

// newDeliveryID is a random id for one body, kept across its retries.
func newDeliveryID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// sleep waits d, or less if ctx ends; it reports whether the wait was
// complete.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
