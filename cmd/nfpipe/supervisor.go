package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/metrics"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// supervisor runs the pipeline of a source, replaces it on SIGHUP and
// drains it on SIGINT/SIGTERM.
type supervisor struct {
	src    *pipelineSource
	g      *globalFlags
	stderr io.Writer

	cur     atomic.Pointer[pipeline.Pipeline] // the pipeline metrics report on
	metrics *metricsServer                    // the metrics: block's listener, if any
}

// build loads, checks and builds the pipeline. The pipeline is nil when
// there are fatal errors.
func (s *supervisor) build() (*pipeline.Pipeline, *loaded, spec.Errors) {
	ld, errs := s.src.load()
	if ld == nil || len(errs.Fatal()) > 0 {
		return nil, ld, errs
	}
	p, berrs := pipeline.FromConfig(ld.cfg, pipeline.WithLogger(slog.Default()))
	errs = append(errs, berrs...)
	if p == nil || len(errs.Fatal()) > 0 {
		if p != nil {
			p.Close()
		}
		return nil, ld, errs
	}
	return p, ld, errs
}

// name is the source as the operator knows it, for messages.
func (s *supervisor) name() string {
	switch {
	case s.src.path != "":
		return s.src.path
	case s.src.live.iface != "":
		return "the built-in default pipeline, live on " + s.src.live.iface
	}
	return "the built-in default pipeline"
}

// adopt applies what a loaded configuration says besides its pipeline:
// the log level (the old config's web.debug) and the notes.
func (s *supervisor) adopt(ld *loaded, warnings spec.Errors) {
	level := slog.LevelInfo
	if s.g.debug || (ld.old != nil && ld.old.debug) {
		level = slog.LevelDebug
	}
	s.g.level.Set(level)
	if ld.old != nil {
		slog.Info("read the old config.yaml layout; nfpipe migrate-config prints it as a pipeline", "file", s.src.path)
	}
	for _, n := range ld.notes {
		slog.Warn(n)
	}
	for _, w := range warnings.Warnings() {
		slog.Warn(w.Error())
	}
}

// run runs until the pipeline ends or a stop signal has drained it.
func (s *supervisor) run(ctx context.Context) error {
	if s.src.path == "" && s.src.live.iface == "" {
		slog.Info("running the built-in default pipeline")
	}
	p, ld, errs := s.build()
	if p == nil {
		s.reportErrors(errs.Fatal())
		return &exitError{code: exitConfig, err: fmt.Errorf("%s: invalid pipeline", s.name())}
	}
	s.adopt(ld, errs)
	slog.Debug("pipeline built", "file", ld.cfg.File, "components", len(p.Status().Components))
	s.cur.Store(p)
	if err := s.serveMetrics(ld.cfg.Metrics); err != nil {
		p.Close()
		return &exitError{code: 1, err: err}
	}
	defer s.serveMetrics(nil)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	start := time.Now()
	stopping := false
	for {
		s.cur.Store(p)
		done := make(chan error, 1)
		go func(p *pipeline.Pipeline) { done <- p.Run(ctx) }(p)
		next, err := s.watch(p, done, sigs, &stopping)
		if next == nil {
			s.summary(s.cur.Load().Status(), time.Since(start))
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		}
		p = next
	}
}

// watch waits for the running pipeline to end, handling signals. It
// returns the pipeline to run next after a reload, or nil and the
// pipeline's error when the process should exit.
func (s *supervisor) watch(p *pipeline.Pipeline, done <-chan error, sigs <-chan os.Signal, stopping *bool) (*pipeline.Pipeline, error) {
	for {
		select {
		case err := <-done:
			return nil, err
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				s.stop(p, sig, stopping)
				continue
			}
			if *stopping {
				slog.Warn("reload ignored: the pipeline is stopping")
				continue
			}
			np, ld, errs := s.reload(p)
			if np == nil {
				continue
			}
			slog.Info("reloading: draining the running pipeline before starting the new one", "file", s.name())
			p.Stop()
			err := s.drain(p, done, sigs, stopping)
			logDrained(p.Status(), err)
			if *stopping {
				np.Close()
				return nil, err
			}
			s.adopt(ld, errs)
			if err := s.serveMetrics(ld.cfg.Metrics); err != nil {
				slog.Error("metrics: the new listen address failed; no standalone metrics until the next reload", "err", err)
			}
			np.RecordEvent(pipeline.SystemEvent{Kind: "reload", Message: "configuration reloaded from " + s.name()})
			metrics.RecordReload(true)
			slog.Info("reloaded: the new pipeline starts", "file", s.name())
			return np, nil
		}
	}
}

// stop drains the pipeline on the first stop signal and exits at once on
// the second.
func (s *supervisor) stop(p *pipeline.Pipeline, sig os.Signal, stopping *bool) {
	if *stopping {
		slog.Warn("second signal: exiting without draining")
		os.Exit(130)
	}
	*stopping = true
	slog.Info("stopping: draining the pipeline; send the signal again to exit at once", "signal", sig.String())
	p.Stop()
}

// reload loads and builds the configuration again. With errors, they are
// logged, the running pipeline is told (its event log and history record
// the rejection) and nil is returned: it goes on unchanged.
func (s *supervisor) reload(p *pipeline.Pipeline) (*pipeline.Pipeline, *loaded, spec.Errors) {
	slog.Info("SIGHUP: checking the configuration again", "file", s.name())
	np, ld, errs := s.build()
	if np != nil {
		return np, ld, errs
	}
	fatal := errs.Fatal()
	slog.Error("reload rejected: the configuration has errors; the running pipeline goes on unchanged", "file", s.name(), "errors", len(fatal))
	for _, e := range fatal {
		slog.Error("configuration error", "error", e.Error())
	}
	p.RecordEvent(pipeline.SystemEvent{Kind: "error", Message: fmt.Sprintf("reload of %s rejected with %d configuration errors; the running pipeline goes on unchanged", s.name(), len(fatal))})
	metrics.RecordReload(false)
	return nil, nil, nil
}

// drain waits for the stopped pipeline to finish. A stop signal meanwhile
// means exit once drained (a second one exits at once); SIGHUP is
// ignored.
func (s *supervisor) drain(p *pipeline.Pipeline, done <-chan error, sigs <-chan os.Signal, stopping *bool) error {
	for {
		select {
		case err := <-done:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				slog.Warn("reload already in progress; signal ignored")
				continue
			}
			s.stop(p, sig, stopping)
		}
	}
}

// reportErrors prints configuration errors, one per line, or logs them
// when the log is JSON.
func (s *supervisor) reportErrors(errs spec.Errors) {
	if !s.g.jsonLogs {
		printErrors(s.stderr, errs)
		return
	}
	for _, e := range errs {
		slog.Error("configuration error", "error", e.Error())
	}
}

// summary prints the table of what each component did, or logs it one
// line per component when the log is JSON.
func (s *supervisor) summary(st pipeline.Status, elapsed time.Duration) {
	if !s.g.jsonLogs {
		printSummary(s.stderr, st, elapsed)
		return
	}
	for _, c := range st.Components {
		slog.Info("summary", "component", c.Name, "type", c.Type, "in", c.EventsIn, "out", c.EventsOut,
			"dropped", c.Dropped, "errors", c.Errors, "counters", c.Counters, "elapsed", elapsed.Round(time.Millisecond).String())
	}
}

// logDrained logs what the replaced pipeline handled, one line per
// component, since its summary is not printed.
func logDrained(st pipeline.Status, err error) {
	if err != nil {
		slog.Warn("the previous pipeline stopped with errors", "err", err)
	}
	for _, c := range st.Components {
		slog.Info("previous pipeline drained", "component", c.Name, "type", c.Type,
			"in", c.EventsIn, "out", c.EventsOut, "dropped", c.Dropped, "errors", c.Errors)
	}
}

// status is the status of the running pipeline, for metrics.
func (s *supervisor) status() pipeline.Status {
	if p := s.cur.Load(); p != nil {
		return p.Status()
	}
	return pipeline.Status{}
}

// serveMetrics starts, moves or stops the metrics: block's listener.
func (s *supervisor) serveMetrics(m *config.Metrics) error {
	if s.metrics != nil && (m == nil || m.Listen != s.metrics.listen) {
		s.metrics.close()
		s.metrics = nil
	}
	if m == nil || s.metrics != nil {
		return nil
	}
	ms, err := startMetricsServer(m.Listen, s.status)
	if err != nil {
		return err
	}
	s.metrics = ms
	return nil
}
