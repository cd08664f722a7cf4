package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	"github.com/nfpipe/nfpipe/ui"
)

// Config is the dashboard sink's configuration.
type Config struct {
	Listen         string        `yaml:"listen"`
	AuthToken      string        `yaml:"auth_token"`
	History        string        `yaml:"history"`
	MaxFlows       int           `yaml:"max_flows"`
	MaxIPs         int           `yaml:"max_ips"`
	AllowedOrigins []string      `yaml:"allowed_origins"`
	PushInterval   time.Duration `yaml:"push_interval"`
	ClientQueue    int           `yaml:"client_queue"`
	MaxClients     int           `yaml:"max_clients"`
	UIDir          string        `yaml:"ui_dir"`
}

// generateToken is the auth_token value that asks for a random token.
const generateToken = "generate"

// Validate checks relations between fields: a token is required off
// loopback, and allowed origins must be origins.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	host, _, err := net.SplitHostPort(c.Listen)
	if err == nil && !isLoopbackHost(host) && c.AuthToken == "" {
		errs = append(errs, &spec.FieldError{Field: "listen", Msg: fmt.Sprintf(
			"%s is not a loopback address, so the dashboard needs a token: set auth_token (e.g. auth_token: ${NFPIPE_TOKEN}), or auth_token: %s to print a random one at start, or listen on 127.0.0.1",
			c.Listen, generateToken)})
	}
	// A literal ${VAR} is a reference not expanded here (docs, examples).
	unexpanded := strings.HasPrefix(c.AuthToken, "${") && strings.HasSuffix(c.AuthToken, "}")
	if c.AuthToken != "" && c.AuthToken != generateToken && !unexpanded && len(c.AuthToken) < 16 {
		errs = append(errs, &spec.FieldError{Field: "auth_token", Msg: "the token is too short; use at least 16 characters (e.g. openssl rand -hex 16)"})
	}
	for _, o := range c.AllowedOrigins {
		if _, err := parseOrigin(o); err != nil {
			errs = append(errs, &spec.FieldError{Field: "allowed_origins", Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Spec is the dashboard sink's specification.
var Spec = &spec.Component{
	Name:      "dashboard",
	Role:      spec.RoleSink,
	Summary:   "Web dashboard: REST API, WebSocket live push and the embedded UI with an offline world map",
	Stability: spec.Beta,
	Description: `Serves the web dashboard at listen: live throughput, top talkers, a sessions table, per-IP detail, a world map drawn from country outlines shipped in the binary (no tile server, no request leaves the machine), alerts, the system event log and the pipeline graph with live rates and drops.

It keeps a bounded live view of what it receives (at most max_flows flows, active and recently ended, and max_ips addresses) and reads longer ranges from the sqlite sink named by history, when there is one. Without history the UI says so and shows what the live view holds.

REST API (JSON, errors as {"error": "..."}; the full description is served at /api/openapi.json): GET /api/status, /api/sessions, /api/sessions/{id}, /api/ip-stats, /api/ip/{ip}, /api/top-talkers, /api/timeseries, /api/geo, /api/alerts, /api/events, /api/pipeline; POST /api/start-monitoring and /api/stop-monitoring resume and pause the pipeline's sources. Bad parameters (unknown ones included) get a 400 that lists every problem.

Prometheus metrics of the whole pipeline (per component events, drops, errors, queue depth, batch latency; kernel drops, active flows, geo cache, webhook retries; Go runtime) are served at /metrics in the text format; with auth_token set, scrape them with the token as a bearer token.

WebSocket /ws?topics=summary,events,sessions (default summary,events) sends JSON text messages, each with "type" and "ts" (unix milliseconds): first {"type":"hello"} with history, geo_stage, alerts_stage and push_interval; then every push_interval {"type":"summary"} with seq, monitoring (running, paused, stopped), rates (pps, bps, fps), totals (packets, bytes, flows, flows_ended), active_sessions, top_talkers (five, by bytes over five minutes), protocols, alerts (the alerts received since the previous summary), alerts_firing, drops, health, clock (the latest packet time) and clients; {"type":"event","event":{time, kind, component, message}} as system events happen; and, for the sessions topic, {"type":"sessions","flows":[…],"more":n} with the flows updated since the previous summary in the JSON contract (at most 500; more counts the rest).

Security: listen defaults to loopback. A non-loopback address requires auth_token (or auth_token: generate, which prints a random token once at start); then the API and WebSocket need the token as "Authorization: Bearer ..." or the cookie the login page sets. State-changing requests are refused cross-origin, WebSocket origins must be the page's own or listed in allowed_origins, and without a token only loopback Host names are answered (which defeats DNS rebinding).

Backpressure: the input buffer drops the newest batch when full (counted as dropped), so a slow dashboard never slows capture. Each WebSocket client has a queue of client_queue messages; a client that falls that far behind is disconnected (counted in ws_kicked) and the UI reconnects.`,
	Accepts:      event.KindsOf(event.Flow, event.IPStat, event.Alert),
	DropWhenFull: true,
	Fields: []*spec.Field{
		spec.Address("listen").Default("127.0.0.1:8080").Description("Address to serve the dashboard on. A non-loopback address requires auth_token."),
		spec.String("auth_token").Opt().Sensitive().Ex("${NFPIPE_TOKEN}").Description(`Token required by the API, the UI and the WebSocket (at least 16 characters); "generate" makes a random one and prints it once at start. Required when listen is not a loopback address.`),
		spec.String("history").Opt().Ex("history").Description("Name of a sqlite sink of this pipeline to read ranges longer than the live view from (top talkers over 7 days, history charts)."),
		spec.Int("max_flows").Default("20000").Range(100, 10_000_000).Description("Flows (active and recently ended) kept in the live view; the least recently updated go first."),
		spec.Int("max_ips").Default("50000").Range(100, 10_000_000).Description("Addresses kept in the live per-IP statistics; the least active go first."),
		spec.List("allowed_origins").Opt().Ex("[https://noc.example.com]").Description("Extra origins (scheme://host[:port]) allowed to open the WebSocket and send state-changing requests, e.g. behind a reverse proxy. The dashboard's own origin is always allowed."),
		spec.Duration("push_interval").Default("1s").Description("How often the summary is computed and pushed to WebSocket clients, and the rate series sampled."),
		spec.Int("client_queue").Default("64").Range(4, 4096).Adv().Description("Messages queued per WebSocket client; a client further behind is disconnected so it never slows the others."),
		spec.Int("max_clients").Default("1000").Range(1, 100000).Adv().Description("Concurrent WebSocket clients accepted; more get 503."),
		spec.String("ui_dir").Opt().Adv().Ex("ui/static").Description("Serve the UI from this directory instead of the embedded copy (for developing the UI)."),
	},
	Examples: []spec.Example{
		{Title: "Loopback dashboard reading history from a sqlite sink", YAML: "inputs: [sessions, stats]\nlisten: 127.0.0.1:8080\nhistory: history\n"},
		{Title: "Reachable from the network, with a token from the environment", YAML: "inputs: [sessions, stats]\nlisten: 0.0.0.0:8080\nauth_token: ${NFPIPE_TOKEN}\n"},
	},
	Metrics: []spec.Metric{
		{Name: "ws_clients", Doc: "WebSocket clients connected (gauge)"},
		{Name: "ws_messages", Doc: "WebSocket messages queued to clients"},
		{Name: "ws_kicked", Doc: "WebSocket clients disconnected for falling behind"},
		{Name: "http_requests", Doc: "HTTP requests served"},
		{Name: "auth_failures", Doc: "requests refused for a missing or wrong token"},
		{Name: "flows_evicted", Doc: "flows pushed out of the live view by max_flows"},
		{Name: "ips_evicted", Doc: "addresses pushed out of the live view by max_ips"},
	},
}

func init() { pipeline.Register(Spec, New) }

// Dashboard is the running sink.
type Dashboard struct {
	cfg     Config
	name    string
	log     *slog.Logger
	ctl     pipeline.Control
	lookup  func(string) (pipeline.Component, bool)
	token   string
	assets  fs.FS
	live    *liveView
	hub     *hub
	sampler *sampler
	stats   serverStats
	seq     uint64 // summaries sent; only the sink goroutine writes it

	mu       sync.Mutex
	summary  []byte        // latest summary message, for new clients
	addr     net.Addr      // bound address, once serving
	ready    chan struct{} // closed once serving
	history  History
	histNote string // why there is no history, for the UI
	geoStage bool   // the pipeline has a geoip stage
	alertsOn bool   // the pipeline has a filter stage
}

// New builds the dashboard sink. It binds nothing: the server starts in
// Run.
func New(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	d := &Dashboard{
		cfg:    *cfg,
		name:   bc.Name,
		log:    bc.Logger,
		ctl:    bc.Control,
		lookup: bc.Lookup,
		token:  cfg.AuthToken,
		ready:  make(chan struct{}),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.assets = ui.Assets()
	if cfg.UIDir != "" {
		if st, err := os.Stat(cfg.UIDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("ui_dir %q is not a readable directory", cfg.UIDir)
		}
		d.assets = os.DirFS(cfg.UIDir)
	}
	if d.token == generateToken {
		tok, err := randomToken()
		if err != nil {
			return nil, fmt.Errorf("cannot generate a token: %w", err)
		}
		d.token = tok
	}
	d.stats = serverStats{requests: new(atomic.Uint64), authFailures: new(atomic.Uint64)}
	d.live = newLiveView(cfg.MaxFlows, cfg.MaxIPs)
	d.hub = newHub(cfg.ClientQueue, cfg.MaxClients)
	d.sampler = newSampler(3600, cfg.PushInterval)
	return d, nil
}

// Addr returns the address the server listens on, after it started (for
// tests that listen on port 0).
func (d *Dashboard) Addr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// Ready is closed once the server accepts connections.
func (d *Dashboard) Ready() <-chan struct{} { return d.ready }

// Run serves HTTP until the input ends, folding every batch into the live
// view and pushing summaries on the push interval.
func (d *Dashboard) Run(ctx context.Context, env *pipeline.Env) error {
	d.bindStats(env.Stats())
	d.resolvePipeline()
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", d.cfg.Listen, err)
	}
	d.mu.Lock()
	d.addr = ln.Addr()
	d.mu.Unlock()
	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.announce(ln.Addr())
	close(d.ready)

	unsub := func() {}
	if d.ctl != nil {
		unsub = d.ctl.SubscribeEvents(d.onSystemEvent)
	}
	defer unsub()

	tick := time.NewTicker(d.cfg.PushInterval)
	defer tick.Stop()
	in := env.Input()
	d.tick(time.Now()) // a first sample, so rates exist from the start
loop:
	for {
		select {
		case b, ok := <-in:
			if !ok {
				break loop
			}
			env.Received(b)
			start := time.Now()
			d.ingest(b)
			env.Stats().AddBusy(time.Since(start))
			b.Release()
		case now := <-tick.C:
			d.tick(now)
		case err := <-serveErr:
			return fmt.Errorf("dashboard server stopped: %w", err)
		}
	}
	// The input ended: the pipeline is stopping. Push a last summary,
	// close the clients and stop serving.
	d.tick(time.Now())
	d.hub.closeAll()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("dashboard shutdown: %w", err)
	}
	return nil
}

// ingest folds one input batch into the live view and queues session
// updates for WebSocket subscribers.
func (d *Dashboard) ingest(b *event.Batch) {
	switch b.Kind {
	case event.Flow:
		d.live.addFlows(b.Flows)
	case event.IPStat:
		d.live.addIPStats(b.IPStats)
	case event.Alert:
		d.live.addAlerts(b.Alerts)
	}
}

// announce logs where the dashboard is, and prints a generated token once.
func (d *Dashboard) announce(addr net.Addr) {
	url := "http://" + displayAddr(addr)
	d.log.Info("dashboard listening", "url", url, "auth", d.token != "")
	if d.cfg.AuthToken == generateToken {
		// Printed on stderr rather than logged: logs are kept and shipped,
		// and no secret goes into them.
		fmt.Fprintf(os.Stderr, "nfpipe dashboard %s: login token (shown once): %s\n", url, d.token)
	}
}

// resolvePipeline finds the history sink and notes which optional stages
// the pipeline has, so the UI can say plainly what is missing.
func (d *Dashboard) resolvePipeline() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctl != nil {
		for _, c := range d.ctl.Status().Components {
			switch c.Type {
			case "geoip":
				d.geoStage = true
			case "filter":
				d.alertsOn = true
			}
		}
	}
	if d.cfg.History == "" {
		d.histNote = "no history configured: add a sqlite sink and set history: on the dashboard"
		return
	}
	comp, ok := d.lookup(d.cfg.History)
	if !ok {
		d.histNote = fmt.Sprintf("history: no component named %q in this pipeline", d.cfg.History)
		d.log.Warn("history sink not found", "history", d.cfg.History)
		return
	}
	h, ok := historyOf(comp)
	if !ok {
		d.histNote = fmt.Sprintf("history: %q does not offer queries (it must be a sqlite sink)", d.cfg.History)
		d.log.Warn("history component offers no queries", "history", d.cfg.History)
		return
	}
	d.history = h
}

func (d *Dashboard) onSystemEvent(e pipeline.SystemEvent) {
	d.hub.publishEvent(e)
}

// displayAddr renders a bound address for a URL, using 127.0.0.1 for an
// unspecified host.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

var _ pipeline.Component = (*Dashboard)(nil)
