package plugin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	"github.com/nfpipe/nfpipe/plugins/host"
)

// Config is the plugin stage's configuration; see the spec for each field.
type Config struct {
	Command           []string      `yaml:"command"`
	Config            *yaml.Node    `yaml:"config"`
	SHA256            string        `yaml:"sha256"`
	OnError           string        `yaml:"on_error"`
	Timeout           time.Duration `yaml:"timeout"`
	StartTimeout      time.Duration `yaml:"start_timeout"`
	MaxInFlight       int           `yaml:"max_in_flight"`
	MaxBatch          int           `yaml:"max_batch"`
	RestartBackoff    time.Duration `yaml:"restart_backoff"`
	RestartBackoffMax time.Duration `yaml:"restart_backoff_max"`
}

// Validate checks what the field types cannot.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	if len(c.Command) == 0 || strings.TrimSpace(c.Command[0]) == "" {
		errs = append(errs, &spec.FieldError{Field: "command", Msg: "no program; give the plugin's path and arguments, e.g. [bin/plugins/servicename]"})
	}
	if c.Timeout <= 0 {
		errs = append(errs, &spec.FieldError{Field: "timeout", Msg: "must be positive, e.g. 5s"})
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, &spec.FieldError{Field: "start_timeout", Msg: "must be positive, e.g. 30s"})
	}
	if c.RestartBackoff <= 0 {
		errs = append(errs, &spec.FieldError{Field: "restart_backoff", Msg: "must be positive, e.g. 100ms"})
	} else if c.RestartBackoffMax < c.RestartBackoff {
		errs = append(errs, &spec.FieldError{Field: "restart_backoff_max", Msg: fmt.Sprintf("%v is less than restart_backoff (%v)", c.RestartBackoffMax, c.RestartBackoff)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func checkSHA256(v any) error {
	s := v.(string)
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return fmt.Errorf("%q is not a SHA-256 checksum; give 64 hex digits, as sha256sum prints them", s)
	}
	return nil
}

// componentSpec is the single description of the stage.
var componentSpec = &spec.Component{
	Name:        "plugin",
	Role:        spec.RoleStage,
	Summary:     "Runs a stage out of process: a program written with the plugin SDK (or speaking its gRPC protocol) tags, filters or rewrites events, raises alerts and reports counters of its own.",
	Stability:   spec.Experimental,
	Accepts:     event.KindsOf(event.Flow, event.IPStat, event.Alert, event.Packet),
	Emits:       event.KindsOf(event.Alert),
	Passthrough: true,
	Description: `
nfpipe starts the program in command with go-plugin (gRPC only, mutual TLS
negotiated automatically, protocol nfpipe.plugin.v1) in the pipeline file's
directory, asks for its spec (Describe), hands it the config block and
streams batches to it. The plugin answers each batch with the records to
pass on (tagged, rewritten, fewer) and any alerts it raises; they are
emitted in input order. Batches of kinds the plugin does not accept pass
unchanged without being sent.

The config block belongs to the plugin: nfpipe converts it to JSON, and
the plugin checks it against its own spec. nfpipe validate starts the
plugin to do so and reports its errors as stages.NAME: config.FIELD:
message; --no-environment skips starting it. nfpipe stages --pipeline FILE
prints the spec of every plugin a pipeline uses. With sha256 set, a
program whose checksum differs is not started.

One Process stream per stage carries the batches, with up to max_in_flight
of them on the wire at once, so the plugin works while the next batch is
encoded and sent; batches larger than max_batch records are sent in parts.
Packets are accepted but are the slow path: one record per packet crosses
the process boundary. Feed plugins flows, per-IP statistics or alerts.

Counters the plugin declares in its spec (metrics) are reported with the
stage's own, named plugin.NAME (plugin.matches for a metric matches), in
the status API, the run summary and the Prometheus metrics. The plugin
sends each counter's increase with its answer to a batch, so a counter
keeps growing across restarts of the plugin; increases in answers that
never arrive (a plugin killed mid-batch) are lost with their batch.
Names the spec does not declare are ignored, logged once and counted in
undeclared_counters.

Failures never stop the pipeline. A batch the plugin answers with an error
is passed on unchanged (on_error: pass) or dropped (on_error: drop) and
counted in plugin_errors. If the plugin process exits or breaks the
stream, or leaves a batch unanswered for timeout (it is then killed), the
batches in flight and every batch arriving while it is down are passed or
dropped the same way and counted; the stage reports unhealthy with the
reason, and nfpipe restarts the plugin after restart_backoff, doubling the
wait after each failed start up to restart_backoff_max. Health returns to
ok when a restarted plugin serves again. Plugin output on standard error is
logged with the stage's name, at the level of hclog JSON lines and at info
for plain lines.

The handshake's magic cookie only stops a plugin program from being run by
hand by mistake: it is not a security feature. A plugin runs with nfpipe's
privileges; install only programs you trust.`,
	Fields: []*spec.Field{
		spec.List("command").Ex("[bin/plugins/servicename]").Description("Program and arguments; a program path with a slash is relative to the pipeline file's directory, a bare name is looked up in PATH."),
		spec.Any("config").Opt().Ex("{lists: [blocklist.txt]}").Description("The plugin's own config block, handed to it as JSON and checked by the plugin."),
		spec.String("sha256").Opt().Check(checkSHA256).Ex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").Description("Expected SHA-256 of the program file (64 hex digits); the plugin is not started if it differs."),
		spec.Enum("on_error", "pass", "drop").Default("pass").Description("What happens to a batch the plugin fails on or cannot take (it is down): pass it on unchanged, or drop it. Either way it is counted."),
		spec.Duration("timeout").Default("5s").Description("Longest wait for the plugin's answer to one batch, or to a call such as Describe; a plugin that misses it is killed and restarted."),
		spec.Duration("start_timeout").Default("30s").Adv().Description("Longest wait for a started program to complete the handshake."),
		spec.Int("max_in_flight").Default("8").Range(1, 1024).Adv().Description("Batches sent to the plugin and not yet answered, at most."),
		spec.Int("max_batch").Default("1000").Range(1, 1_000_000).Adv().Description("Most records sent in one request; larger batches are sent in parts (counters count parts)."),
		spec.Duration("restart_backoff").Default("100ms").Adv().Description("Wait before restarting a plugin that went down; doubles after each failed start."),
		spec.Duration("restart_backoff_max").Default("30s").Adv().Description("Longest wait between restarts; a plugin that served this long starts over at restart_backoff."),
	},
	Examples: []spec.Example{
		{Title: "Tag flows with the service name of their server port", YAML: "inputs: [sessions]\ncommand: [../bin/plugins/servicename]\n"},
		{Title: "Alert on blocklisted addresses, dropping batches while the plugin is down", YAML: "inputs: [sessions]\ncommand: [../bin/plugins/blocklist]\non_error: drop\ntimeout: 2s\nconfig:\n  lists: [plugins/blocklist/example.list]\n  reload_interval: 10s\n"},
	},
	Metrics: []spec.Metric{
		{Name: "batches_sent", Doc: "requests sent to the plugin (a batch larger than max_batch is several)"},
		{Name: "batches_processed", Doc: "requests the plugin answered without error"},
		{Name: "batches_passed_through", Doc: "requests passed on unchanged because the plugin failed on them or was down (on_error: pass)"},
		{Name: "batches_dropped", Doc: "requests dropped because the plugin failed on them or was down (on_error: drop)"},
		{Name: "events_passed_through", Doc: "records in batches_passed_through"},
		{Name: "events_dropped", Doc: "records in batches_dropped"},
		{Name: "alerts_raised", Doc: "alerts the plugin raised"},
		{Name: "plugin_errors", Doc: "batches the plugin answered with an error or an answer that did not fit the request"},
		{Name: "timeouts", Doc: "batches left unanswered for timeout (the plugin is then killed)"},
		{Name: "restarts", Doc: "plugin processes started after the first one"},
		{Name: "start_failures", Doc: "attempts to start and configure the plugin that failed"},
		{Name: "undeclared_counters", Doc: "counter increases the plugin sent for names its spec does not declare (ignored)"},
	},
}

func init() { pipeline.Register(componentSpec, build) }

// stage is the built plugin stage. The constructor starts the plugin once
// to ask for its spec and check the config block, then stops it; Run
// starts it again under supervision.
type stage struct {
	name       string
	cfg        Config
	host       host.Config
	configJSON []byte
	described  *spec.Component
	accepts    event.Kinds
	// counters are the stage counters of the plugin's declared metrics
	// (plugin.NAME), keyed by the name the plugin sends.
	counters map[string]string
}

var _ pipeline.Component = (*stage)(nil)

func build(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	cmd, err := resolveCommand(cfg.Command, bc.Dir)
	if err != nil {
		return nil, err
	}
	var sum []byte
	if cfg.SHA256 != "" {
		sum, _ = hex.DecodeString(cfg.SHA256) // checked by the spec
		if err := checkFileSum(cmd[0], sum); err != nil {
			return nil, err
		}
	}
	configJSON, err := configToJSON(cfg.Config)
	if err != nil {
		return nil, err
	}
	log := bc.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &stage{
		name:       bc.Name,
		cfg:        *cfg,
		configJSON: configJSON,
		host:       host.Config{Command: cmd, Dir: bc.Dir, SHA256: sum, Logger: log, StartTimeout: cfg.StartTimeout},
	}
	if err := s.describeAndValidate(); err != nil {
		return nil, err
	}
	return s, nil
}

// describeAndValidate runs the plugin once for its spec and its verdict
// on the config block.
func (s *stage) describeAndValidate() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StartTimeout+2*s.cfg.Timeout)
	defer cancel()
	p, err := host.Start(ctx, s.host)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", s.host.Command[0], err)
	}
	defer p.Kill()
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, s.cfg.Timeout) }
	cctx, ccancel := call()
	ps, err := p.Describe(cctx)
	ccancel()
	if err != nil {
		return fmt.Errorf("plugin %s: %w", s.host.Command[0], err)
	}
	described, accepts, err := componentFromProto(ps, strings.Join(s.cfg.Command, " "))
	if err != nil {
		return fmt.Errorf("plugin %s: its spec: %w", s.host.Command[0], err)
	}
	cctx, ccancel = call()
	fes, err := p.Validate(cctx, s.configJSON)
	ccancel()
	if err != nil {
		return fmt.Errorf("plugin %s: %w", ps.GetName(), err)
	}
	if len(fes) > 0 {
		errs := make(spec.FieldErrors, len(fes))
		for i, fe := range fes {
			errs[i] = &spec.FieldError{Field: host.ConfigPath(fe.GetField()), Msg: fe.GetMessage()}
		}
		return errs
	}
	names, _ := metricNames(ps) // checked by componentFromProto
	s.counters = make(map[string]string, len(names))
	for i, mt := range ps.GetMetrics() {
		s.counters[mt.GetName()] = names[i]
	}
	s.described, s.accepts = described, accepts
	return nil
}

// PluginSpec is the spec the plugin described, for nfpipe stages.
func (s *stage) PluginSpec() *spec.Component { return s.described }

// Command is the resolved program and arguments.
func (s *stage) Command() []string { return s.host.Command }

var errNoConfigMap = errors.New("config: expected a mapping of the plugin's fields")
