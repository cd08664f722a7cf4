package websocket

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the websocket sink's configuration; see the spec for each
// field.
type Config struct {
	Listen         string        `yaml:"listen"`
	Path           string        `yaml:"path"`
	AuthToken      string        `yaml:"auth_token"`
	AllowedOrigins []string      `yaml:"allowed_origins"`
	Format         string        `yaml:"format"`
	ClientQueue    int           `yaml:"client_queue"`
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	MaxClients     int           `yaml:"max_clients"`
}

// streamKinds are the kinds the sink streams.
var streamKinds = event.KindsOf(event.Flow, event.IPStat, event.Alert)

// Spec is the websocket sink's specification.
var Spec = &spec.Component{
	Name:         "websocket",
	Role:         spec.RoleSink,
	Summary:      "Streams flows, per-IP statistics and alerts as JSON over WebSocket, with per-client kinds and filters.",
	Stability:    spec.Beta,
	Accepts:      streamKinds,
	DropWhenFull: true,
	Description: `A WebSocket server at ws://listen/path that streams every event it receives, in the JSON contract ({"kind":"flow",...}, {"kind":"ipstat",...}, {"kind":"alert",...}), to any number of clients. It starts listening when the pipeline starts.

Subscribing. A client chooses what it receives with query parameters: kinds=flow,alert (default: every kind), filter=EXPR (an expr-lang expression; only events for which it is true are sent), format=event (each WebSocket text message is one JSON event; the default comes from format) or format=array (each message is a JSON array of the events of one pipeline batch that pass the filter; far cheaper at high rates), and token=... when auth_token is set and the client cannot send headers (browsers). Example: ws://127.0.0.1:8081/events?kinds=flow&filter=flow.server_port%20==%20443%20%26%26%20flow.bytes%20%3E%201e6. A bad parameter or a filter that does not compile is refused with 400 and a JSON body {"error": "..."} that quotes the compiler's message and position.

Filters use the names of the filter stage's rules, so an expression written for one works in the other. They see kind ("flow", "ipstat" or "alert"), time (the record's packet time) and the event under its kind's name: flow.id, event ("update" or "end"), proto ("tcp", "udp", ...), proto_num, client_ip, client_port, server_ip, server_port, vlan, bytes and packets (both directions), bytes_c2s, bytes_s2c, packets_c2s, packets_s2c, first_seen, last_seen, duration (seconds), state (TCP), flags_c2s, flags_s2c, rtt_ms, end_reason, tags, attrs, and client_/server_ country, city, asn, as_org and label; ipstat.ip, bytes_in, bytes_out, bytes, packets_in, packets_out, packets, flows, peers, dst_ports, start, end, interval, country, city, asn, as_org, label; alert.id, rule, severity, state, subject, message, dedup_key, labels. Addresses are strings (flow.client_ip == "10.0.0.1"); in_cidr(flow.client_ip, "10.0.0.0/8", "fd00::/8") and port_in(flow.server_port, 22, "8000-8999", "80,443") test networks and ports. The records of the other kinds are empty, so a filter over several kinds tests kind first: kind == "alert" || (kind == "flow" && flow.bytes > 1e6). A filter is compiled, its types and constant arguments checked, when the client connects, and evaluated by the client's own goroutine.

Security. listen defaults to loopback; a non-loopback address requires auth_token, which clients send as "Authorization: Bearer <token>" or ?token=. A browser page may connect only from the server's own origin or one listed in allowed_origins; clients that send no Origin (programs) are not browsers and are not restricted by it. Without a token only loopback Host names are answered, which defeats DNS rebinding. Refusals: 401 (token), 403 (origin or Host), 404 (another path), 503 (max_clients reached, or the pipeline is stopping).

Backpressure. Each batch is encoded once, whatever the number of clients, and handed to every client's queue of client_queue batches without waiting. A client whose queue is full is disconnected at once (close code 1008, "client too slow") and counted in clients_dropped; the others and the pipeline are not slowed at all. A single write that takes longer than write_timeout also ends the connection. The input buffer drops the newest batch when full (counted as dropped), so even this sink falling behind never stalls capture; set buffer.when_full: block for a replay where clients must get everything.

Stopping. When the input ends, every client receives what is queued for it and then a close with code 1001, "pipeline stopped"; new connections are refused with 503.`,
	Fields: []*spec.Field{
		spec.Address("listen").Default("127.0.0.1:8081").Description("Address to listen on. A non-loopback address requires auth_token."),
		spec.String("path").Default("/events").Description("URL path of the stream; other paths answer 404."),
		spec.String("auth_token").Opt().Sensitive().Ex("${NFPIPE_STREAM_TOKEN}").Description("Token clients must present (Authorization: Bearer, or ?token=); at least 16 characters. Required when listen is not a loopback address. Never printed."),
		spec.List("allowed_origins").Opt().Ex("[https://noc.example.com]").Description("Origins (scheme://host[:port]) of web pages allowed to connect besides the server's own; * allows any page."),
		spec.Enum("format", "event", "array").Default("event").Description("Message format for clients that do not choose one with ?format=: event (one JSON event per message) or array (one JSON array per batch)."),
		spec.Int("client_queue").Default("256").Range(1, 1_000_000).Description("Batches queued per client; a client further behind is disconnected and counted in clients_dropped."),
		spec.Duration("write_timeout").Default("10s").Description("Longest time one message may take to write to a client before its connection is closed."),
		spec.Int("max_clients").Default("100").Range(1, 100_000).Description("Concurrent clients accepted; more are refused with 503."),
	},
	Examples: []spec.Example{
		{Title: "Flows, per-IP statistics and alerts on loopback", YAML: "inputs: [sessions, stats, rules.alerts]\nlisten: 127.0.0.1:8081\npath: /events\n"},
		{Title: "Reachable from the network, with a token from the environment", YAML: "inputs: [sessions]\nlisten: 0.0.0.0:8081\nauth_token: ${NFPIPE_STREAM_TOKEN}\nallowed_origins: [https://noc.example.com]\n"},
	},
	Metrics: []spec.Metric{
		{Name: "clients", Doc: "clients connected (gauge)"},
		{Name: "messages_sent", Doc: "WebSocket messages written to clients"},
		{Name: "events_sent", Doc: "events written to clients (an event sent to three clients counts three times)"},
		{Name: "events_filtered", Doc: "events a client's filter did not pass (per client)"},
		{Name: "clients_dropped", Doc: "clients disconnected for falling behind (queue full or write timeout)"},
		{Name: "clients_refused", Doc: "connections refused: token, origin, Host, bad parameters or max_clients"},
	},
}

func init() { pipeline.Register(Spec, New) }

// Sink is the running websocket sink.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	token   string
	origins []string // normalised allowed origins
	format  format
	hub     *hub
	m       *metrics

	mu    sync.Mutex
	addr  net.Addr
	ready chan struct{}
}

var _ pipeline.Component = (*Sink)(nil)

// New builds the websocket sink. It resolves the listen address but binds
// nothing: the server starts in Run.
func New(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	if _, err := net.ResolveTCPAddr("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("cannot resolve listen address %s: %w", cfg.Listen, err)
	}
	s := &Sink{
		cfg:    *cfg,
		log:    bc.Logger,
		token:  cfg.AuthToken,
		format: formatNames[cfg.Format],
		hub:    newHub(cfg.MaxClients),
		ready:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, o := range cfg.AllowedOrigins {
		n, err := parseOrigin(o)
		if err != nil {
			return nil, err
		}
		s.origins = append(s.origins, n)
	}
	return s, nil
}

// Addr is the address the server listens on, once Ready is closed (for
// listen: 127.0.0.1:0 in tests).
func (s *Sink) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Ready is closed once the server accepts connections.
func (s *Sink) Ready() <-chan struct{} { return s.ready }
