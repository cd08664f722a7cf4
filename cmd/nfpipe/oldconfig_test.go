package main

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// field returns the value of a component's field in the parsed
// configuration, "" when absent.
func field(t *testing.T, cfg *config.Config, component, key string) string {
	t.Helper()
	d := cfg.Decl(component)
	if d == nil {
		t.Fatalf("no component %q", component)
	}
	v := mapGet(d.Node, key)
	if v == nil {
		return ""
	}
	if v.Kind == yaml.SequenceNode {
		var items []string
		for _, c := range v.Content {
			items = append(items, c.Value)
		}
		return "[" + strings.Join(items, " ") + "]"
	}
	return v.Value
}

// loadChecked loads a source and checks the graph; it fails the test on
// any error.
func loadChecked(t *testing.T, src *pipelineSource) *loaded {
	t.Helper()
	ld, errs := src.load()
	if ld == nil || len(errs.Fatal()) > 0 {
		t.Fatalf("load: %v", errs)
	}
	if _, errs := pipeline.Check(ld.cfg); len(errs.Fatal()) > 0 {
		t.Fatalf("check: %v", errs)
	}
	return ld
}

// TestOldConfigFixture runs the old README's config.yaml through the
// loader of nfpipe run -c and checks the pipeline it becomes, setting by
// setting.
func TestOldConfigFixture(t *testing.T) {
	t.Setenv("NFPIPE_TOKEN", "")
	ld := loadChecked(t, &pipelineSource{path: "testdata/old-config.yaml"})
	cfg := ld.cfg
	if ld.old == nil {
		t.Fatal("the old layout was not recognised")
	}
	for _, c := range []struct{ component, key, want string }{
		{"capture", "type", "capture"},
		{"capture", "interface", "eth0"},               // network.interface
		{"capture", "promiscuous", "true"},             // network.promiscuous_mode
		{"capture", "file", ""},                        // live, not the sample
		{"decode", "inputs", "[capture]"},              //
		{"sessions", "type", "sessionize"},             //
		{"sessions", "idle_timeout", "300s"},           // monitor.session_timeout
		{"sessions", "max_sessions", "10000"},          // monitor.max_sessions
		{"stats", "type", "ipstats"},                   //
		{"geo", "type", "geoip"},                       // geolocation.enabled
		{"geo", "database", "data/GeoLite2-City.mmdb"}, // geolocation.database_path
		{"geo", "optional", "true"},                    // a missing file is a warning, as before
		{"geo", "inputs", "[sessions stats]"},          //
		{"dashboard", "inputs", "[geo]"},               //
		{"dashboard", "listen", "0.0.0.0:8080"},        // web.host, web.port
		{"dashboard", "auth_token", "generate"},        // 0.0.0.0 needs a token
	} {
		if got := field(t, cfg, c.component, c.key); got != c.want {
			t.Errorf("%s.%s = %q, want %q", c.component, c.key, got, c.want)
		}
	}
	if len(cfg.Decls) != 6 {
		t.Errorf("%d components, want 6", len(cfg.Decls))
	}
	if cfg.Dir != "." {
		t.Errorf("relative paths resolved from %q, want the working directory as the old tool did", cfg.Dir)
	}
	// Values keep their place in the old file, for error messages.
	if n := mapGet(cfg.Decl("sessions").Node, "max_sessions"); n.Line != 10 || n.Column != 17 {
		t.Errorf("max_sessions at %d:%d, want 10:17 (monitor.max_sessions)", n.Line, n.Column)
	}
	// web.debug: false leaves the level alone; the token comes from the
	// environment when set.
	g := &globalFlags{}
	(&supervisor{src: &pipelineSource{path: "x"}, g: g}).adopt(ld, nil)
	if g.level.Level() != slog.LevelInfo {
		t.Errorf("log level %v with web.debug: false", g.level.Level())
	}
	t.Setenv("NFPIPE_TOKEN", "a-token-of-at-least-16-chars")
	ld = loadChecked(t, &pipelineSource{path: "testdata/old-config.yaml"})
	if got := field(t, ld.cfg, "dashboard", "auth_token"); got != "a-token-of-at-least-16-chars" {
		t.Errorf("auth_token %q, want NFPIPE_TOKEN's", got)
	}
}

// TestMigrateConfigGolden compares nfpipe migrate-config's output for
// the fixture with the reviewed golden file, and checks the output is a
// valid pipeline.
func TestMigrateConfigGolden(t *testing.T) {
	r := nfpipe(t, nil, "migrate-config", "testdata/old-config.yaml")
	if r.code != 0 {
		t.Fatalf("migrate-config: %d %s", r.code, r.stderr)
	}
	golden := "testdata/old-config.pipeline.yaml"
	if *update {
		os.WriteFile(golden, []byte(r.stdout), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(want) {
		t.Errorf("migrate-config output differs from %s (go test -update to accept):\n%s", golden, r.stdout)
	}
	out := filepath.Join(t.TempDir(), "pipeline.yaml")
	os.WriteFile(out, []byte(r.stdout), 0o644)
	if r := nfpipe(t, nil, "validate", "--no-environment", out); r.code != 0 {
		t.Errorf("the migrated pipeline does not validate: %s", r.stderr)
	}
	if r := nfpipe(t, nil, "migrate-config", "../../examples/default.yaml"); r.code != 78 || !strings.Contains(r.stderr, "already an nfpipe pipeline") {
		t.Errorf("migrate-config of a pipeline: %d %s", r.code, r.stderr)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOldConfigErrors: every unknown key and bad value of an old
// config.yaml is reported at once, at its line and column, with the fix.
func TestOldConfigErrors(t *testing.T) {
	p := writeFile(t, "config.yaml", `network:
  interface: eth0
  promiscous_mode: true
web:
  host: 0.0.0.0
  port: 99999
  debug: maybe
monitor:
  session_timeout: -5
  max_sessions: lots
geolocation:
  enabled: yes
  databse_path: x.mmdb
logging:
  level: info
`)
	_, errs := (&pipelineSource{path: p}).load()
	want := []string{
		p + `:3:3: network: unknown setting "promiscous_mode"; did you mean "promiscuous_mode"?`,
		p + `:6:9: web.port: expected a port number from 1 to 65535, got "99999"`,
		p + `:7:10: web.debug: expected true or false, got "maybe"`,
		p + `:9:20: monitor.session_timeout: expected a number of seconds above 0, e.g. 300, got "-5"`,
		p + `:10:17: monitor.max_sessions: expected a number of sessions of at least 1, got "lots"`,
		p + `:13:3: geolocation: unknown setting "databse_path"; did you mean "database_path"?`,
		p + `:14:1: unknown key "logging" in the old config.yaml layout; it has network:, web:, monitor: and geolocation:`,
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if i < len(errs) && errs[i].Error() != w {
			t.Errorf("error %d:\n got %s\nwant %s", i, errs[i].Error(), w)
		}
	}
	// Errors found once converted, by the component checks, point into
	// the old file too.
	// Here the token NFPIPE_TOKEN gives the dashboard web.host asks for.
	t.Setenv("NFPIPE_TOKEN", "short")
	p = writeFile(t, "config.yaml", "network:\n  interface: \"eth0\"\nweb:\n  host: 0.0.0.0\n")
	ld, errs := (&pipelineSource{path: p}).load()
	if len(errs) == 0 && ld != nil {
		_, errs = pipeline.Check(ld.cfg)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), p+":4:9: sinks.dashboard.auth_token: the token is too short") {
		t.Errorf("converted value error: %v", errs)
	}
}

// TestOldConfigDefaults: settings left out get the old tool's behaviour
// with nfpipe's safe defaults: the default route's interface, the
// dashboard on loopback without a token, no geolocation; YAML 1.1
// booleans (yes/no) read as the old tool read them; web.debug turns
// debug logging on.
func TestOldConfigDefaults(t *testing.T) {
	p := writeFile(t, "config.yaml", "web:\n  port: 9000\n  debug: yes\nnetwork:\n  promiscuous_mode: no\n")
	ld := loadChecked(t, &pipelineSource{path: p})
	for _, c := range []struct{ component, key, want string }{
		{"capture", "interface", "default"},
		{"capture", "promiscuous", "false"},
		{"dashboard", "listen", "127.0.0.1:9000"},
		{"dashboard", "auth_token", ""},
		{"dashboard", "inputs", "[sessions stats]"},
		{"sessions", "idle_timeout", ""},
	} {
		if got := field(t, ld.cfg, c.component, c.key); got != c.want {
			t.Errorf("%s.%s = %q, want %q", c.component, c.key, got, c.want)
		}
	}
	if ld.cfg.Decl("geo") != nil {
		t.Error("a geoip stage without geolocation.enabled")
	}
	g := &globalFlags{}
	(&supervisor{src: &pipelineSource{path: p}, g: g}).adopt(ld, nil)
	if g.level.Level() != slog.LevelDebug {
		t.Errorf("web.debug: yes left the log level at %v", g.level.Level())
	}
}

// TestOldFlagsOverride: -i, -p and --host change the pipeline as they
// changed the old tool's settings: over the old config.yaml, over the
// built-in default and over a pipeline file with one capture and one
// dashboard.
func TestOldFlagsOverride(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("NFPIPE_TOKEN", "")
	// Over the old config: the command line wins, as it did.
	ld := loadChecked(t, &pipelineSource{path: "testdata/old-config.yaml", live: liveOptions{iface: "lo"}, port: 9100, portSet: true, host: "127.0.0.1", hostSet: true})
	if got := field(t, ld.cfg, "capture", "interface"); got != "lo" {
		t.Errorf("-i over network.interface: %q", got)
	}
	if got := field(t, ld.cfg, "dashboard", "listen"); got != "127.0.0.1:9100" {
		t.Errorf("-p/--host over web.host/port: %q", got)
	}
	// Over the built-in default (replaying the sample): -p only.
	ld = loadChecked(t, &pipelineSource{port: 9200, portSet: true})
	if got := field(t, ld.cfg, "dashboard", "listen"); got != "127.0.0.1:9200" {
		t.Errorf("-p over the default: %q", got)
	}
	if got := field(t, ld.cfg, "capture", "file"); got != "sample.pcapng" {
		t.Errorf("the default pipeline lost its sample: %q", got)
	}
	// -i with no file: the default pipeline, live; --host off loopback
	// brings a token.
	ld = loadChecked(t, &pipelineSource{live: liveOptions{iface: "lo", workers: 2}, host: "0.0.0.0", hostSet: true})
	for _, c := range []struct{ component, key, want string }{
		{"capture", "interface", "lo"},
		{"capture", "file", ""},
		{"capture", "workers", "2"},
		{"dashboard", "listen", "0.0.0.0:8080"},
		{"dashboard", "auth_token", "generate"},
	} {
		if got := field(t, ld.cfg, c.component, c.key); got != c.want {
			t.Errorf("-i lo --host 0.0.0.0: %s.%s = %q, want %q", c.component, c.key, got, c.want)
		}
	}
	if len(ld.notes) != 1 || !strings.Contains(ld.notes[0], "requires a login token") {
		t.Errorf("notes: %q", ld.notes)
	}
	// A pipeline file with one capture (a file) and one dashboard.
	p := writeFile(t, "p.yaml", `stages:
  cap: {type: capture, file: trace.pcap, speed: realtime}
  dec: {type: decode, inputs: [cap]}
  ses: {type: sessionize, inputs: [dec]}
sinks:
  web: {type: dashboard, inputs: [ses], listen: "127.0.0.1:7000", auth_token: "${TOKEN:-0123456789abcdef}"}
`)
	ld = loadChecked(t, &pipelineSource{path: p, live: liveOptions{iface: "lo", bpf: "udp"}, host: "0.0.0.0", hostSet: true})
	for _, c := range []struct{ component, key, want string }{
		{"cap", "interface", "lo"},
		{"cap", "bpf", "udp"},
		{"cap", "file", ""},
		{"cap", "speed", ""},
		{"web", "listen", "0.0.0.0:7000"},
		{"web", "auth_token", "0123456789abcdef"}, // its own token is kept
	} {
		if got := field(t, ld.cfg, c.component, c.key); got != c.want {
			t.Errorf("file with -i/--host: %s.%s = %q, want %q", c.component, c.key, got, c.want)
		}
	}
	// Ambiguous or impossible overrides are refused with the reason.
	two := writeFile(t, "two.yaml", `stages:
  a: {type: capture, file: a.pcap}
  b: {type: capture, file: b.pcap}
  dec: {type: decode, inputs: [a, b]}
sinks:
  out: {type: jsonl, inputs: [dec], path: out.jsonl}
`)
	for _, c := range []struct {
		src  *pipelineSource
		want string
	}{
		{&pipelineSource{path: two, live: liveOptions{iface: "lo"}}, "-i: the pipeline has 2 capture stages (a, b)"},
		{&pipelineSource{path: two, port: 80, portSet: true}, "-p/--host: the pipeline has no dashboard sink"},
		{&pipelineSource{port: 70000, portSet: true}, "-p 70000: a port is a number from 0 to 65535"},
	} {
		_, errs := c.src.load()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.src, errs, c.want)
		}
	}
}
