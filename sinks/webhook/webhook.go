package webhook

import (
	"fmt"
	"net/http"
	"net/url"
	"text/template"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the webhook sink's configuration; see the spec for each field.
type Config struct {
	URL            string            `yaml:"url"`
	Method         string            `yaml:"method"`
	Headers        map[string]string `yaml:"headers"`
	Secret         string            `yaml:"secret"`
	Timeout        time.Duration     `yaml:"timeout"`
	BatchSize      int               `yaml:"batch_size"`
	BatchWait      time.Duration     `yaml:"batch_wait"`
	QueueSize      int               `yaml:"queue_size"`
	WhenQueueFull  string            `yaml:"when_queue_full"`
	MaxRetries     int               `yaml:"max_retries"`
	BackoffInitial time.Duration     `yaml:"backoff_initial"`
	BackoffMax     time.Duration     `yaml:"backoff_max"`
	Template       string            `yaml:"template"`
	CustomTemplate string            `yaml:"custom_template"`
	DedupeWindow   time.Duration     `yaml:"dedupe_window"`
	DrainTimeout   time.Duration     `yaml:"drain_timeout"`
}

// Spec is the webhook sink's specification.
var Spec = &spec.Component{
	Name:      "webhook",
	Role:      spec.RoleSink,
	Summary:   "Delivers alerts to an HTTP endpoint as signed JSON, with retries, backoff, a bounded queue and chat templates.",
	Stability: spec.Beta,
	Accepts:   event.KindsOf(event.Alert),
	Description: `Sends every alert it receives to url, by default as a POST of the alert in the JSON contract ({"kind":"alert","id":...,"rule":...}). With batch_size above 1 the alerts that arrive within batch_wait of each other (up to batch_size) go in one request whose body is a JSON array of alerts. template: slack, discord or teams sends a message those services' incoming webhooks accept instead, and template: custom executes custom_template (Go text/template; see Templates below).

Headers. Every request carries Content-Type: application/json (headers may override it), User-Agent: nfpipe-webhook, X-Nfpipe-Timestamp (Unix seconds when the request was signed), X-Nfpipe-Delivery (an id of the body that stays the same on every retry of it) and X-Nfpipe-Attempt (1, 2, ...), plus the configured headers. With secret set, X-Nfpipe-Signature is "sha256=" followed by the hex HMAC-SHA256, keyed with secret, of the timestamp, a dot and the exact body bytes.

Verifying a request (receivers should): read X-Nfpipe-Timestamp as T and the raw body as B, compute hex(HMAC-SHA256(secret, T + "." + B)), compare it with the part of X-Nfpipe-Signature after "sha256=" in constant time, and refuse T more than 5 minutes from the receiver's clock, which defeats replays of a recorded request. In Go, webhook.Verify does all of this. In a shell: { printf '%s.' "$T"; cat body; } | openssl dgst -sha256 -hmac "$SECRET".

Delivery is at least once. A request that fails with a network error, a timeout, 408, 425, 429 or a 5xx status is retried after an exponential backoff with full jitter: a random wait between 0 and min(backoff_max, backoff_initial * 2^retry), or longer if the receiver sent Retry-After (capped at backoff_max). Retries go on until the request succeeds, or max_retries times when that is set. Any other status (a 3xx or a 4xx) means the receiver will never take this body: it is dropped, counted in rejected and logged with its status. Redirects are not followed, so headers and signatures never go to another host. An alert can arrive twice (the receiver took it but its answer was lost); every body carries the alert's id, and a receiver drops repeats by id or by X-Nfpipe-Delivery. An alert whose id was already queued within dedupe_window is not sent again (counted in duplicates).

Backpressure. Delivery runs in its own goroutine, so a slow or unreachable receiver never slows the pipeline: while requests fail, new alerts wait in a queue of queue_size alerts, and when it is full the oldest (when_queue_full: drop_oldest) or the newest alert is dropped, counted in dropped (and in the component's dropped total) and logged once per episode. The input buffer (buffer.when_full, block by default) only fills if the sink cannot even queue, which does not happen in practice.

Stopping. When the input ends (SIGTERM, or the end of a replay) the sink keeps delivering for at most drain_timeout; what is still queued then is counted in dropped and logged with its number.

Secrets. url, headers and secret are never printed: not in logs, errors, health messages, nfpipe validate or the docs. Logs name the receiver by scheme and host only, because webhook URLs often carry their token in the path or query.

Templates. A custom template is executed with .Alerts (a list), .Alert (the first), .Count, .Firing, .Resolved, .Title (a one-line heading) and .Text (one line per alert, each naming the alert's id). Each alert has .ID, .Rule, .Severity, .State, .Time, .Subject, .Message, .DedupeKey, .Labels, .JSON (the alert in the JSON contract) and .Line. Helpers: json (any value as JSON, e.g. {{json .Alert.Message}}), upper, lower and truncate N. The template is parsed and tried on a sample alert when the pipeline is checked.`,
	Fields: []*spec.Field{
		spec.String("url").Sensitive().Ex("${ALERT_WEBHOOK_URL}").Description("Receiver URL (http or https). Never printed: it often carries a token; set it from the environment."),
		spec.Enum("method", "POST", "PUT", "PATCH").Default("POST").Description("HTTP method of each request."),
		spec.Map("headers").Opt().Sensitive().Ex("{Authorization: \"Bearer ${HOOK_TOKEN}\"}").Description("Extra request headers, e.g. Authorization. Values are never printed. Content-Type may be overridden; the X-Nfpipe-* headers may not."),
		spec.String("secret").Opt().Sensitive().Ex("${WEBHOOK_SECRET}").Description("Key of the HMAC-SHA256 signature sent in X-Nfpipe-Signature (at least 16 characters); empty sends no signature."),
		spec.Duration("timeout").Default("10s").Description("Longest time one request may take, connection included; a request that takes longer fails and is retried."),
		spec.Int("batch_size").Default("1").Range(1, 1000).Description("Alerts per request: 1 sends each alert as a JSON object; more sends up to this many alerts as a JSON array."),
		spec.Duration("batch_wait").Default("1s").Description("With batch_size above 1, how long the first queued alert waits for others to share its request."),
		spec.Int("queue_size").Default("10000").Range(1, 10_000_000).Description("Alerts held for delivery while the receiver is slow or down; beyond it alerts are dropped and counted."),
		spec.Enum("when_queue_full", "drop_oldest", "drop_newest").Default("drop_oldest").Description("Which alert to drop when the queue is full: the oldest queued (keep the current picture) or the one arriving."),
		spec.Int("max_retries").Default("0").Range(0, 1_000_000).Description("Retries of a failing request before its alerts are dropped (counted); 0 retries until delivered."),
		spec.Duration("backoff_initial").Default("1s").Description("Upper bound of the first retry's random wait; it doubles with every retry up to backoff_max."),
		spec.Duration("backoff_max").Default("1m").Description("Largest wait between two attempts, Retry-After included."),
		spec.Enum("template", templateNames...).Default("none").Description("Body format: none (the alert, or an array of alerts, in the JSON contract), slack, discord, teams (their incoming-webhook messages) or custom (custom_template)."),
		spec.String("custom_template").Opt().Ex(`'{"text": {{json .Text}}}'`).Description("Go text/template of the body, used with template: custom; see Templates."),
		spec.Duration("dedupe_window").Default("10m").Description("An alert whose id was queued this recently is not sent again; 0 sends every alert received."),
		spec.Duration("drain_timeout").Default("10s").Description("When the pipeline stops, how long to keep delivering what is queued before counting the rest as dropped."),
	},
	Examples: []spec.Example{
		{Title: "Signed JSON to an alert receiver, URL and secret from the environment", YAML: "inputs: [rules.alerts]\nurl: ${ALERT_WEBHOOK_URL}\nsecret: ${WEBHOOK_SECRET}\n"},
		{Title: "A Slack channel, alerts grouped by ten", YAML: "inputs: [rules.alerts]\nurl: ${SLACK_WEBHOOK_URL}\ntemplate: slack\nbatch_size: 10\nbatch_wait: 5s\n"},
		{Title: "A custom body with a bearer token", YAML: "inputs: [rules.alerts]\nurl: https://ops.example.com/api/events\nheaders:\n  Authorization: Bearer ${OPS_TOKEN}\ntemplate: custom\ncustom_template: '{\"source\": \"nfpipe\", \"events\": [{{range $i, $a := .Alerts}}{{if $i}},{{end}}{{$a.JSON}}{{end}}]}'\n"},
	},
	Metrics: []spec.Metric{
		{Name: "sent", Doc: "alerts delivered (the receiver answered 2xx)"},
		{Name: "requests", Doc: "requests that succeeded"},
		{Name: "failed_attempts", Doc: "requests that failed and will be retried (network error, timeout, 408, 425, 429, 5xx)"},
		{Name: "retries", Doc: "requests sent again after a failure"},
		{Name: "rejected", Doc: "alerts dropped because the receiver refused them (3xx or 4xx other than 408, 425, 429)"},
		{Name: "dropped", Doc: "alerts not delivered: queue full, rejected, retries exhausted or still queued when drain_timeout ran out"},
		{Name: "duplicates", Doc: "alerts not sent again because their id was queued within dedupe_window"},
		{Name: "queue_depth", Doc: "alerts waiting for delivery (gauge)"},
	},
}

func init() { pipeline.Register(Spec, New) }

// sink is the running webhook sink. The constructor checks and prepares
// everything; the delivery goroutine starts in Run.
type sink struct {
	cfg      Config
	url      *url.URL
	endpoint string // scheme://host, for messages
	headers  http.Header
	secret   []byte
	tmpl     *template.Template
	scrub    *scrubber
	client   *http.Client
}

var _ pipeline.Component = (*sink)(nil)

// New builds the webhook sink from a validated config. Its errors name no
// secret.
func New(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	tmpl, err := parseTemplate(cfg.Template, cfg.CustomTemplate)
	if err != nil {
		return nil, fmt.Errorf("custom_template: %w", err)
	}
	s := &sink{
		cfg:      *cfg,
		url:      u,
		endpoint: endpointOf(u),
		headers:  http.Header{},
		secret:   []byte(cfg.Secret),
		tmpl:     tmpl,
		scrub:    newScrubber(cfg, u),
		client:   newClient(),
	}
	for k, v := range cfg.Headers {
		s.headers.Set(k, v)
	}
	return s, nil
}

// newClient is the HTTP client of the deliveries: its own transport (so
// nothing else's idle connections or settings leak in), and no redirects,
// which would carry headers and signatures to another host.
func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
