package config_test

import (
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/config"
)

func TestMetricsBlock(t *testing.T) {
	cfg, errs := config.Parse("p.yaml", []byte(`stages:
  cap: {type: capture, file: x.pcap}
metrics:
  listen: ${METRICS_ADDR:-127.0.0.1:9464}
`), env(nil))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if cfg.Metrics == nil || cfg.Metrics.Listen != "127.0.0.1:9464" {
		t.Fatalf("metrics: %+v", cfg.Metrics)
	}
	cfg, errs = config.Parse("p.yaml", []byte("stages: {}\n"), env(nil))
	if len(errs) > 0 || cfg.Metrics != nil {
		t.Fatalf("no block: %v %+v", errs, cfg.Metrics)
	}
}

func TestMetricsBlockErrors(t *testing.T) {
	// A misspelt field is reported, and so is the missing listen.
	for _, c := range []struct{ yml, want string }{
		{"metrics:\n  listn: 127.0.0.1:9464\n", `p.yaml:2:3: metrics: unknown field "listn"; did you mean "listen"?`},
		{"metrics:\n  port: 9464\n", `p.yaml:2:3: metrics: unknown field "port"; valid fields: listen`},
		{"metrics:\n  listen: 9464\n", `p.yaml:2:11: metrics.listen: invalid address "9464"; write host:port, e.g. 127.0.0.1:9464 or [::1]:9464`},
		{"metrics:\n  listen: 127.0.0.1:99999\n", `p.yaml:2:11: metrics.listen: invalid port "99999" in "127.0.0.1:99999"; use a number from 0 to 65535`},
		{"metrics: 127.0.0.1:9464\n", `p.yaml:1:10: metrics: expected a mapping, e.g. metrics: {listen: 127.0.0.1:9464}`},
		{"metrics: {}\n", `p.yaml:1:1: metrics: missing required field "listen"`},
		{"metric:\n  listen: 127.0.0.1:9464\n", `p.yaml:1:1: unknown top-level key "metric"; did you mean "metrics"?`},
	} {
		_, errs := config.Parse("p.yaml", []byte(c.yml), env(nil))
		if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.yml, errs, c.want)
		}
	}
}
