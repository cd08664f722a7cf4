package filter

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Config is the filter stage's configuration; see the spec for each
// field.
type Config struct {
	Rules   []RuleConfig `yaml:"rules"`
	Default string       `yaml:"default"`

	// compiled is set by Validate, which runs when the pipeline is
	// checked, so every expression is compiled exactly there.
	compiled []*rule
}

// RuleConfig is one rule.
type RuleConfig struct {
	Name      string        `yaml:"name"`
	When      string        `yaml:"when"`
	Drop      bool          `yaml:"drop"`
	Keep      bool          `yaml:"keep"`
	Tag       []string      `yaml:"tag"`
	Route     bool          `yaml:"route"`
	Alert     AlertConfig   `yaml:"alert"`
	For       time.Duration `yaml:"for"`
	Key       string        `yaml:"key"`
	Aggregate string        `yaml:"aggregate"`
	Value     string        `yaml:"value"`
	Threshold float64       `yaml:"threshold"`
	MaxKeys   int           `yaml:"max_keys"`
	MaxValues int           `yaml:"max_values"`
}

// AlertConfig is a rule's alert.
type AlertConfig struct {
	Severity       string        `yaml:"severity"`
	Message        string        `yaml:"message"`
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	ResolveAfter   time.Duration `yaml:"resolve_after"`
}

var ruleName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate compiles every rule; expression errors were already reported
// with their positions by the fields' checks.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	seen := map[string]int{}
	c.compiled = c.compiled[:0]
	for i := range c.Rules {
		rc := &c.Rules[i]
		at := fmt.Sprintf("rules[%d]", i)
		if j, dup := seen[rc.Name]; dup {
			errs = append(errs, &spec.FieldError{Field: "rules", Msg: fmt.Sprintf("%s: rule name %q is also used by rules[%d]; give each rule its own name", at, rc.Name, j)})
			continue
		}
		seen[rc.Name] = i
		r, err := newRule(rc)
		if err != nil {
			errs = append(errs, &spec.FieldError{Field: "rules", Msg: fmt.Sprintf("%s (%s): %v", at, rc.Name, err)})
			continue
		}
		c.compiled = append(c.compiled, r)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func checkExpr(want result) func(v any) error {
	return func(v any) error {
		_, err := compile(v.(string), Env{}, want)
		return err
	}
}

var componentSpec = &spec.Component{
	Name:        "filter",
	Role:        spec.RoleStage,
	Summary:     "Rules in expr-lang over flows, ipstats and alerts: keep, drop, tag, route, and raise alerts, also over windows of packet time, with dedupe, repeat and resolve.",
	Stability:   spec.Beta,
	Accepts:     event.KindsOf(event.Flow, event.IPStat, event.Alert),
	Emits:       event.KindsOf(event.Alert),
	Passthrough: true,
	Outputs: []spec.Output{
		{Name: "alerts", Doc: "Only the alerts: those the rules raise (firing, repeated, resolved) and alert records kept from the input."},
		{Name: "matched", Doc: "Records that matched a rule with route: true (whether kept or dropped)."},
		{Name: "rejected", Doc: "Records that were dropped."},
	},
	Description: description(),
	Fields: []*spec.Field{
		spec.Objects("rules",
			spec.String("name").Description("Name of the rule: lowercase letters, digits and _; it names the rule's alerts and counters.").Check(func(v any) error {
				if !ruleName.MatchString(v.(string)) {
					return fmt.Errorf("invalid rule name %q; use lowercase letters, digits and _, starting with a letter", v)
				}
				return nil
			}),
			spec.String("when").Ex(`kind == "flow" && flow.bytes > 1e9`).Check(checkExpr(asBool)).
				Description("Boolean expression selecting the records the rule applies to."),
			spec.Bool("drop").Default("false").Description("Drop the matching record (to the rejected output); later rules do not see it."),
			spec.Bool("keep").Default("false").Description("Keep the matching record; later rules do not see it."),
			spec.List("tag").Opt().Ex("[scanner]").Description("Tags added to a matching flow; later rules see them in flow.tags."),
			spec.Bool("route").Default("false").Description("Also send the matching record to the matched output."),
			spec.Object("alert",
				spec.Enum("severity", "info", "warning", "critical").Opt().Description("Severity of the alert (warning when only message is given)."),
				spec.String("message").Opt().Ex("port scan from {{ key }}: {{ value }} ports in {{ window }}").Check(func(v any) error {
					_, err := parseTemplate(v.(string))
					return err
				}).Description("Text of the alert, with {{ expression }} parts; setting it turns the alert on."),
				spec.Duration("repeat_interval").Default("1h").Description("Send a firing alert again at most this often while its condition holds; 0 never repeats."),
				spec.Duration("resolve_after").Default("5m").Description("For a rule without for: the alert resolves when no record matched its key for this long in packet time."),
			).Opt().Description("Raise an alert when the rule matches (or, with for, when its window crosses the threshold)."),
			spec.Duration("for").Default("0s").Ex("1m").Description("Window length: the rule aggregates matching records per key over this much packet time and acts when the aggregate exceeds threshold; 0 acts on every match."),
			spec.String("key").Opt().Ex("flow.client_ip").Check(checkExpr(asAny)).
				Description("Expression grouping records into windows and alerts (one alert per key); default: one window for the rule, and per flow 5-tuple or address for alerts without for."),
			spec.Enum("aggregate", "count", "sum", "distinct").Default("count").Description("What a window measures: matching records, the sum of value, or the number of distinct values of value."),
			spec.String("value").Opt().Ex("flow.server_port").Check(checkExpr(asAny)).
				Description("Expression summed (aggregate: sum) or counted distinctly (aggregate: distinct)."),
			spec.Float("threshold").Default("0").Description("The rule acts while the window's aggregate is above this."),
			spec.Int("max_keys").Default("100000").Min(1).Adv().Description("Most keys (windows or alert states) the rule tracks; records of further keys are counted in keys_dropped and not tracked."),
			spec.Int("max_values").Default("100000").Min(1).Adv().Description("Most distinct values one window tracks; further values are counted in values_dropped."),
		).Description("The rules, applied in order to every record."),
		spec.Enum("default", "keep", "drop").Default("keep").Description("What happens to a record no drop or keep rule decided."),
	},
	Examples: []spec.Example{
		{Title: "Drop local noise, tag and alert on big transfers", YAML: `inputs: [geo]
rules:
  - name: no_mdns
    when: 'kind == "flow" && flow.server_port == 5353'
    drop: true
  - name: big_transfer
    when: 'kind == "flow" && flow.event == "end" && flow.bytes > 1e9'
    tag: [big]
    alert: {severity: warning, message: "{{ flow.client_ip }} moved {{ flow.bytes }} bytes to {{ flow.server_ip }}"}
`},
		{Title: "Port scan and a heavy address over windows", YAML: `inputs: [sessions, stats]
rules:
  - name: port_scan
    when: 'kind == "flow" && flow.proto == "tcp"'
    for: 60s
    key: flow.client_ip
    aggregate: distinct
    value: flow.server_port
    threshold: 100
    tag: [scanner]
    alert: {severity: critical, message: "port scan from {{ key }}: {{ value }} ports in {{ window }}", repeat_interval: 1h}
  - name: heavy_ip
    when: 'kind == "ipstat" && !in_cidr(ipstat.ip, "10.0.0.0/8")'
    for: 5m
    key: ipstat.ip
    aggregate: sum
    value: ipstat.bytes
    threshold: 1e9
    alert: {severity: warning, message: "{{ key }} moved {{ value }} bytes in {{ window }}"}
`},
		{Title: "Route traffic to or from a network to its own sink", YAML: `inputs: [geo]
rules:
  - name: lab
    when: 'kind == "flow" && (flow.client_ip in cidr("192.0.2.0/24") || port_in(flow.server_port, "8000-8999"))'
    route: true
`},
	},
	Metrics: []spec.Metric{
		{Name: "matched.<rule>", Doc: "Records each rule acted on (its when matched and, with for, its window was above threshold)."},
		{Name: "dropped", Doc: "Records dropped (sent to the rejected output)."},
		{Name: "routed", Doc: "Records sent to the matched output."},
		{Name: "tagged", Doc: "Flows that got at least one tag."},
		{Name: "alerts_firing", Doc: "Firing alerts raised (first time for a key)."},
		{Name: "alerts_repeated", Doc: "Firing alerts sent again after repeat_interval."},
		{Name: "alerts_resolved", Doc: "Resolved alerts sent."},
		{Name: "keys_dropped", Doc: "Records not tracked because their rule already tracked max_keys keys."},
		{Name: "values_dropped", Doc: "Distinct values not tracked because their window held max_values."},
		{Name: "late_records", Doc: "Records older than their rule's window (in packet time) when they arrived; counted in its oldest slice."},
		{Name: "eval_errors", Doc: "Expression evaluations that failed at run time (the rule does not match); the first of each rule is logged."},
		{Name: "keys", Doc: "Gauge: keys tracked over all rules."},
	},
}

func init() { pipeline.Register(componentSpec, newStage) }

func newStage(cfg *Config, bc *pipeline.BuildContext) (pipeline.Component, error) {
	if len(cfg.compiled) != len(cfg.Rules) {
		// Decoded without Validate (a test building a config by hand).
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	log := bc.Logger
	if log == nil {
		log = slog.Default()
	}
	return newFilter(cfg.compiled, cfg.Default == "drop", log), nil
}
