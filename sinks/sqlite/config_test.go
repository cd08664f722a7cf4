package sqlite

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

func decode(t *testing.T, yml string) (*Config, spec.Errors) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yml), &doc); err != nil {
		t.Fatal(err)
	}
	d := &spec.Decoder{File: "p.yaml"}
	var cfg Config
	d.DecodeComponent(componentSpec, doc.Content[0], "sinks.history", &cfg)
	return &cfg, d.Errs
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"path: ''", `p.yaml:1:7: sinks.history.path: path is empty; set a database file`},
		{"dsn: mysql://x", `p.yaml:1:6: sinks.history.dsn: dsn must start with postgres:// or postgresql://`},
		{"rollups: [5m, 7m]", `sinks.history.rollups: rollup width 7m0s is not a multiple of 5m0s`},
		{"rollups: [1m, soon]", `invalid rollup width "soon"`},
		{"rollups: []", `rollups is empty`},
		{"rollups: [500ms]", `must be a positive whole number of seconds`},
		{"retention: {flow: 7d}", `unknown table "flow"; did you mean "flows"?`},
		{"retention: {ip_stats_1d: 7d}", `unknown table "ip_stats_1d"`},
		{"retention: {flows: a week}", `flows: invalid duration "a week"; use e.g. 7d, 48h, or forever`},
		{"batch_size: 0", `0 is too small; the minimum is 1`},
		{"batch_size: 5000\nmax_pending: 100", `max_pending 100 is smaller than batch_size 5000`},
	}
	for _, c := range cases {
		_, errs := decode(t, c.yaml)
		if len(errs) == 0 || !strings.Contains(errs.Error(), c.want) {
			t.Errorf("%q: errors %q, want %q", c.yaml, errs.Error(), c.want)
		}
	}
}

func TestRetentionMergesWithDefaults(t *testing.T) {
	cfg, errs := decode(t, "rollups: [1m, 10m, 1h, 1d]\nretention: {flows: 2d, ip_stats_1d: forever, events: 0, ip_stats_10m: 30d}")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ws, err := parseRollups(cfg.Rollups)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRetention(cfg.Retention, ws)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	if r.Flows != 2*day || r.Events != 0 || r.Alerts != 90*day || r.Batches != 7*day {
		t.Errorf("tables: %+v", r)
	}
	want := map[time.Duration]time.Duration{time.Minute: 2 * day, 10 * time.Minute: 30 * day, time.Hour: 90 * day, 24 * time.Hour: 0}
	for w, keep := range want {
		if r.IPStats[w] != keep {
			t.Errorf("ip_stats %v kept %v, want %v", w, r.IPStats[w], keep)
		}
	}
	if len(r.IPStats) != len(want) {
		t.Errorf("retention for %d widths, want %d", len(r.IPStats), len(want))
	}
}

func TestDefaultsDecode(t *testing.T) {
	cfg, errs := decode(t, "{}")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if cfg.Path != "data/nfpipe.db" || cfg.BatchSize != 1000 || cfg.FlushPeriod != time.Second || len(cfg.Rollups) != 3 || cfg.MaxPending != 100000 {
		t.Errorf("defaults %+v", cfg)
	}
}
