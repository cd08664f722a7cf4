package metrics

import (
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is nfpipe's version, exported as nfpipe_build_info. The nfpipe
// command sets it at start.
var Version = "dev"

// Reload outcomes, for RecordReload.
const (
	ReloadSuccess = "success"
	ReloadFailure = "failure"
)

// Reload metrics are process-wide: the process outlives the pipelines it
// reloads, and every metrics endpoint of the process shows them.
var (
	reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nfpipe_config_reloads_total",
		Help: "Configuration reloads (SIGHUP), by result: success replaced the pipeline, failure kept the running one.",
	}, []string{"result"})
	lastReloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "nfpipe_config_last_reload_successful",
		Help: "1 if the last configuration reload succeeded (or none was tried), 0 if it was rejected.",
	})
	lastReloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "nfpipe_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration was last loaded successfully (at start or on reload), in seconds since the epoch.",
	})
)

func init() {
	reloads.WithLabelValues(ReloadSuccess)
	reloads.WithLabelValues(ReloadFailure)
	lastReloadOK.Set(1)
	lastReloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
}

// RecordReload counts a configuration reload and its result.
func RecordReload(ok bool) {
	if ok {
		reloads.WithLabelValues(ReloadSuccess).Inc()
		lastReloadOK.Set(1)
		lastReloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
		return
	}
	reloads.WithLabelValues(ReloadFailure).Inc()
	lastReloadOK.Set(0)
}

// NewRegistry returns a registry with the pipeline collector, the reload
// metrics, nfpipe_build_info and the Go runtime and process collectors.
func NewRegistry(status StatusFunc) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "nfpipe_build_info",
		Help:        "Always 1; the labels say which nfpipe is running.",
		ConstLabels: prometheus.Labels{"version": Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(
		NewCollector(status),
		reloads, lastReloadOK, lastReloadTime, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the metrics of NewRegistry(status) in the Prometheus
// text format. A metric that fails to collect is logged and left out;
// the rest are still served.
func Handler(status StatusFunc, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return promhttp.HandlerFor(NewRegistry(status), promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// slogPrinter adapts a slog logger to promhttp's error log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("metrics", "err", slogFmt(v))
}

func slogFmt(v []any) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		if e, ok := x.(error); ok {
			s += e.Error()
			continue
		}
		if st, ok := x.(string); ok {
			s += st
			continue
		}
		s += "?"
	}
	return s
}
