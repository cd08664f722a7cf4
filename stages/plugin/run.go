package plugin

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/codec"
	"github.com/nfpipe/nfpipe/plugins/host"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// metrics are the stage's counters; see the spec's Metrics.
type metrics struct {
	sent, processed, passed, dropped, evPassed, evDropped *atomic.Uint64
	alerts, errors, timeouts, restarts, startFailures     *atomic.Uint64
	undeclared                                            *atomic.Uint64
	// plugin are the plugin's declared counters by the name it sends;
	// built before the first answer and only read afterwards.
	plugin map[string]*atomic.Uint64
}

func newMetrics(st *pipeline.Stats, pluginCounters map[string]string) *metrics {
	plugin := make(map[string]*atomic.Uint64, len(pluginCounters))
	for sent, name := range pluginCounters {
		plugin[sent] = st.Counter(name)
	}
	return &metrics{
		plugin:        plugin,
		undeclared:    st.Counter("undeclared_counters"),
		sent:          st.Counter("batches_sent"),
		processed:     st.Counter("batches_processed"),
		passed:        st.Counter("batches_passed_through"),
		dropped:       st.Counter("batches_dropped"),
		evPassed:      st.Counter("events_passed_through"),
		evDropped:     st.Counter("events_dropped"),
		alerts:        st.Counter("alerts_raised"),
		errors:        st.Counter("plugin_errors"),
		timeouts:      st.Counter("timeouts"),
		restarts:      st.Counter("restarts"),
		startFailures: st.Counter("start_failures"),
	}
}

// inflight is a request sent and not yet answered. Each holds one
// reference to its batch.
type inflight struct {
	req      host.Request
	deadline time.Time
}

// runner is the state of one Run: everything but the supervisor's
// callbacks happens on Run's goroutine, which alone emits.
type runner struct {
	s       *stage
	env     *pipeline.Env
	m       *metrics
	cur     *host.Stream
	seq     uint64
	backlog []host.Request // cut from a batch, waiting for window room
	pending []inflight     // sent, in order
	lastLog time.Time
	// warnedUndeclared is set once an undeclared counter was logged.
	warnedUndeclared bool
}

// Run supervises the plugin and streams every input batch through it.
func (s *stage) Run(ctx context.Context, env *pipeline.Env) error {
	r := &runner{s: s, env: env, m: newMetrics(env.Stats(), s.counters)}
	supCtx, stopSup := context.WithCancel(ctx)
	ups := make(chan *host.Stream)
	firstFail := make(chan struct{})
	var failOnce sync.Once
	log := env.Logger()
	sup := &host.Supervisor{
		Config:         s.host,
		ConfigJSON:     s.configJSON,
		CallTimeout:    s.cfg.Timeout,
		Window:         s.cfg.MaxInFlight,
		BackoffInitial: s.cfg.RestartBackoff,
		BackoffMax:     s.cfg.RestartBackoffMax,
		OnUp: func(pid, restarts int) {
			if restarts > 0 {
				r.m.restarts.Add(1)
				log.Info("plugin restarted", "pid", pid)
			} else {
				log.Debug("plugin started", "pid", pid)
			}
			env.Stats().SetHealth(pipeline.Healthy, "")
		},
		OnDown: func(d host.Down) {
			if d.StartFailed {
				r.m.startFailures.Add(1)
			}
			msg := fmt.Sprintf("plugin down: %v; restarting in %v; batches are %s meanwhile", d.Err, d.RetryIn, r.fallbackVerb())
			env.Stats().SetHealth(pipeline.Unhealthy, msg)
			log.Warn("plugin down", "err", d.Err, "restart_in", d.RetryIn, "on_error", s.cfg.OnError)
			failOnce.Do(func() { close(firstFail) })
		},
	}
	var supDone sync.WaitGroup
	supDone.Add(1)
	go func() {
		defer supDone.Done()
		sup.Run(supCtx, ups)
	}()
	defer func() {
		stopSup()
		supDone.Wait()
	}()

	// Wait for the first start, so a pipeline does not pass its first
	// batches through unprocessed just because the plugin is starting.
	select {
	case r.cur = <-ups:
	case <-firstFail:
	case <-ctx.Done():
		return nil
	}
	return r.loop(ctx, ups)
}

func (r *runner) fallbackVerb() string {
	if r.s.cfg.OnError == "drop" {
		return "dropped"
	}
	return "passed on unchanged"
}

func (r *runner) loop(ctx context.Context, ups <-chan *host.Stream) error {
	in := r.env.Input()
	window := r.s.cfg.MaxInFlight
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer r.abandon()
	for {
		r.flushBacklog()
		if in == nil && len(r.pending) == 0 && len(r.backlog) == 0 {
			break
		}
		var inCh <-chan *event.Batch
		if in != nil && len(r.backlog) == 0 && (r.cur == nil || len(r.pending) < window) {
			inCh = in
		}
		var resps <-chan *pluginv1.ProcessResponse
		var done <-chan struct{}
		var upCh <-chan *host.Stream
		var timeout <-chan time.Time
		if r.cur != nil {
			resps, done = r.cur.Responses(), r.cur.Done()
			if len(r.pending) > 0 {
				timer.Reset(time.Until(r.pending[0].deadline))
				timeout = timer.C
			}
		} else {
			upCh = ups
		}
		select {
		case b, ok := <-inCh:
			if !ok {
				in = nil
				continue
			}
			r.env.Received(b)
			r.take(b)
		case resp := <-resps:
			r.answer(resp)
		case <-done:
			r.lost(r.cur.Err())
		case <-timeout:
			if len(r.pending) > 0 && !time.Now().Before(r.pending[0].deadline) {
				r.m.timeouts.Add(1)
				r.lost(fmt.Errorf("no answer to a batch within %v; killing the plugin", r.s.cfg.Timeout))
			}
		case st := <-upCh:
			r.cur = st
		case <-ctx.Done():
			return nil
		}
	}
	if r.cur != nil {
		// Every batch is answered: close our side and let the plugin end
		// the stream, then the supervisor stops it.
		r.cur.CloseSend()
		select {
		case <-r.cur.Done():
		case <-time.After(r.s.cfg.Timeout):
		case <-ctx.Done():
		}
		r.cur = nil
	}
	return nil
}

// take cuts a batch into requests. The stage holds the batch (one
// reference per request) until each part is answered or given up.
func (r *runner) take(b *event.Batch) {
	n := b.Len()
	switch {
	case n == 0:
		b.Release()
		return
	case !r.s.accepts.Has(b.Kind):
		r.env.Emit(b) // not for this plugin: pass it on as it is
		return
	}
	parts := (n + r.s.cfg.MaxBatch - 1) / r.s.cfg.MaxBatch
	b.Retain(int32(parts - 1))
	for lo := 0; lo < n; lo += r.s.cfg.MaxBatch {
		r.seq++
		r.backlog = append(r.backlog, host.Request{Seq: r.seq, Batch: b, Lo: lo, Hi: min(lo+r.s.cfg.MaxBatch, n)})
	}
}

// flushBacklog sends queued requests while the window has room, or
// gives them up when the plugin is down.
func (r *runner) flushBacklog() {
	for len(r.backlog) > 0 {
		req := r.backlog[0]
		if r.cur == nil {
			r.fallback(req)
		} else {
			if len(r.pending) >= r.s.cfg.MaxInFlight {
				return
			}
			if !r.cur.Send(req) {
				r.lost(r.cur.Err())
				continue // the plugin is down now: the next round falls back
			}
			r.m.sent.Add(1)
			r.pending = append(r.pending, inflight{req: req, deadline: time.Now().Add(r.s.cfg.Timeout)})
		}
		r.backlog = r.backlog[1:]
	}
	r.backlog = r.backlog[:0]
}

// answer applies the plugin's answer to the oldest request.
func (r *runner) answer(resp *pluginv1.ProcessResponse) {
	if len(r.pending) == 0 || resp.GetSeq() != r.pending[0].req.Seq {
		r.m.errors.Add(1)
		want := "none"
		if len(r.pending) > 0 {
			want = fmt.Sprint(r.pending[0].req.Seq)
		}
		r.lost(fmt.Errorf("the plugin answered batch %d where %s was due; protocol error", resp.GetSeq(), want))
		return
	}
	req := r.pending[0].req
	r.pending = r.pending[1:]
	r.count(resp.GetCounters()) // a failed batch's work counts too
	if msg := resp.GetError(); msg != "" {
		r.m.errors.Add(1)
		r.logError("plugin failed on a batch", fmt.Errorf("%s", msg))
		r.fallback(req)
		return
	}
	var out *event.Batch
	if !resp.GetUnchanged() {
		out = r.env.NewBatch(req.Batch.Kind)
		out.Shard = req.Batch.Shard
		if err := codec.Decode(resp.GetBatch(), out); err != nil {
			out.Release()
			r.m.errors.Add(1)
			r.logError("plugin answer rejected", err)
			r.fallback(req)
			return
		}
	}
	var alerts *event.Batch
	if len(resp.GetAlerts()) > 0 {
		alerts = r.env.NewBatch(event.Alert)
		alerts.Shard = req.Batch.Shard
		for _, a := range resp.GetAlerts() {
			alerts.Alerts = append(alerts.Alerts, codec.AlertFromProto(a))
		}
		r.m.alerts.Add(uint64(len(alerts.Alerts)))
	}
	r.m.processed.Add(1)
	if out == nil {
		r.forward(req)
	} else {
		req.Batch.Release()
		r.env.Emit(out)
	}
	if alerts != nil {
		r.env.Emit(alerts)
	}
}

// count adds the increases an answer carries to the plugin's counters.
// Only names the spec declared count: a plugin cannot create counters at
// will, and the first undeclared name is logged (all are counted).
func (r *runner) count(increases map[string]uint64) {
	for name, n := range increases {
		if c := r.m.plugin[name]; c != nil {
			c.Add(n)
			continue
		}
		r.m.undeclared.Add(1)
		if !r.warnedUndeclared {
			r.warnedUndeclared = true
			r.env.Logger().Warn("the plugin sent a counter its spec does not declare; ignoring it and any other (undeclared_counters counts them)", "counter", name)
		}
	}
}

// forward passes a request's records on unchanged, giving up its
// reference: the whole batch as it is, or a copy of a part.
func (r *runner) forward(req host.Request) {
	b := req.Batch
	if req.Lo == 0 && req.Hi == b.Len() {
		r.env.Emit(b)
		return
	}
	out := r.env.NewBatch(b.Kind)
	out.Shard = b.Shard
	switch b.Kind {
	case event.Flow:
		out.Flows = append(out.Flows, b.Flows[req.Lo:req.Hi]...)
	case event.IPStat:
		out.IPStats = append(out.IPStats, b.IPStats[req.Lo:req.Hi]...)
	case event.Alert:
		out.Alerts = append(out.Alerts, b.Alerts[req.Lo:req.Hi]...)
	case event.Packet:
		out.Packets = append(out.Packets, b.Packets[req.Lo:req.Hi]...)
	}
	b.Release()
	r.env.Emit(out)
}

// fallback applies on_error to a request the plugin did not process.
func (r *runner) fallback(req host.Request) {
	n := uint64(req.Hi - req.Lo)
	if r.s.cfg.OnError == "drop" {
		r.m.dropped.Add(1)
		r.m.evDropped.Add(n)
		req.Batch.Release()
		return
	}
	r.m.passed.Add(1)
	r.m.evPassed.Add(n)
	r.forward(req)
}

// lost gives up on the current stream: answers that already arrived are
// applied, every other request in flight falls back, and the stream is
// closed so the supervisor kills the process and starts another.
func (r *runner) lost(err error) {
	if r.cur == nil {
		return
	}
	st := r.cur
	r.cur = nil
	// Close first: it waits for the stream's sender, which may still be
	// reading queued batches; only then may they be passed on or freed.
	st.Close(err)
drain:
	for len(r.pending) > 0 {
		select {
		case resp := <-st.Responses():
			if resp.GetSeq() != r.pending[0].req.Seq {
				break drain
			}
			r.answer(resp)
		default:
			break drain
		}
	}
	for _, p := range r.pending {
		r.fallback(p.req)
	}
	r.pending = r.pending[:0]
	r.env.Stats().SetHealth(pipeline.Unhealthy, fmt.Sprintf("plugin down: %v; batches are %s until it is restarted", err, r.fallbackVerb()))
	r.env.Logger().Warn("giving up on the plugin", "err", err, "on_error", r.s.cfg.OnError)
}

// abandon releases what is still held when Run returns early (a forced
// stop): nothing more can be emitted then.
func (r *runner) abandon() {
	if r.cur != nil {
		r.cur.Close(context.Canceled) // before freeing what its sender reads
		r.cur = nil
	}
	for _, p := range r.pending {
		p.req.Batch.Release()
	}
	for _, q := range r.backlog {
		q.Batch.Release()
	}
	r.pending, r.backlog = nil, nil
}

// logError logs a batch failure at most once a second, so a plugin that
// fails on every batch does not flood the log (plugin_errors counts all).
func (r *runner) logError(msg string, err error) {
	if time.Since(r.lastLog) < time.Second {
		return
	}
	r.lastLog = time.Now()
	r.env.Logger().Warn(msg, "err", err, "on_error", r.s.cfg.OnError)
}
