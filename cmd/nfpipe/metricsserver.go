package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/metrics"
)

// metricsServer serves /metrics on the address of a pipeline's metrics:
// block. It belongs to the process, not to one pipeline: it keeps
// serving across reloads, reporting on whichever pipeline runs.
type metricsServer struct {
	listen string // as configured
	srv    *http.Server
	done   chan struct{}
}

// startMetricsServer binds the address and serves in the background.
func startMetricsServer(listen string, status metrics.StatusFunc) (*metricsServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: cannot listen on %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(status, slog.Default()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "nfpipe: Prometheus metrics at /metrics")
	})
	m := &metricsServer{
		listen: listen,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server stopped", "err", err)
		}
	}()
	slog.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	if host, _, _ := net.SplitHostPort(listen); !isLoopbackHost(host) {
		// Metrics hold no secret but tell about the traffic; the
		// dashboard's /metrics is the one behind a token.
		slog.Warn("metrics are served without authentication beyond this machine; restrict access to the port, or scrape the dashboard's /metrics with its token", "listen", listen)
	}
	return m, nil
}

// close stops serving and releases the address.
func (m *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
	<-m.done
}
