package dashboard

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline"
)

// serverStats are the sink's own counters, reported in the pipeline's
// status. They exist before Run so handlers under test can count too.
type serverStats struct {
	requests, authFailures *atomic.Uint64
}

func (d *Dashboard) bindStats(st *pipeline.Stats) {
	d.stats = serverStats{requests: st.Counter("http_requests"), authFailures: st.Counter("auth_failures")}
	d.hub.bind(st.Counter("ws_messages"), st.Counter("ws_kicked"), st.Gauge("ws_clients"))
	d.live.flowsEvicted = st.Counter("flows_evicted")
	d.live.ipsEvicted = st.Counter("ips_evicted")
}

// apiError is the body of every error response.
type apiError struct {
	Error   string   `json:"error"`
	Details []string `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// writeRaw writes JSON already encoded.
func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: "method not allowed; use " + allow})
}

// route is one API endpoint, also listed in the OpenAPI document (a test
// checks that the two agree).
type route struct {
	method, path string
	h            http.HandlerFunc
}

func (d *Dashboard) apiRoutes() []route {
	return []route{
		{"GET", "/api/status", d.apiStatus},
		{"GET", "/api/sessions", d.apiSessions},
		{"GET", "/api/sessions/{id}", d.apiSession},
		{"GET", "/api/ip-stats", d.apiIPStats},
		{"GET", "/api/ip/{ip}", d.apiIP},
		{"GET", "/api/top-talkers", d.apiTopTalkers},
		{"GET", "/api/timeseries", d.apiTimeseries},
		{"GET", "/api/geo", d.apiGeo},
		{"GET", "/api/alerts", d.apiAlerts},
		{"GET", "/api/events", d.apiEvents},
		{"GET", "/api/pipeline", d.apiPipeline},
		{"GET", "/api/openapi.json", d.apiOpenAPI},
		{"POST", "/api/start-monitoring", d.apiStart},
		{"POST", "/api/stop-monitoring", d.apiStop},
	}
}

// routes builds the whole handler: API, WebSocket, login and UI, behind
// the guard.
func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range d.apiRoutes() {
		mux.HandleFunc(rt.path, onlyMethod(rt.method, rt.h))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "no such endpoint " + r.URL.Path + "; see /api/openapi.json"})
	})
	mux.HandleFunc("/ws", d.serveWS)
	mux.HandleFunc(metricsPath, d.metricsHandler())
	mux.HandleFunc("/login", d.serveLogin)
	mux.HandleFunc("/logout", d.serveLogout)
	mux.Handle("/", d.staticHandler())
	return d.guard(mux)
}

// onlyMethod answers other methods with a JSON 405 (GET routes also
// answer HEAD).
func onlyMethod(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			methodNotAllowed(w, method)
			return
		}
		h(w, r)
	}
}

// isAPI reports whether a path belongs to the JSON API.
func isAPI(p string) bool { return strings.HasPrefix(p, "/api/") }
