package websocket

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

var update = flag.Bool("update", false, "rewrite README.md from the spec")

func TestREADMEIsGeneratedFromSpec(t *testing.T) {
	want := spec.Markdown(Spec)
	if *update {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("README.md is out of date; run make docs")
	}
}

// TestExamplesDecodeAndValidate decodes every example as nfpipe would,
// with its ${VAR} references set.
func TestExamplesDecodeAndValidate(t *testing.T) {
	if len(Spec.Examples) == 0 {
		t.Fatal("no examples")
	}
	env := func(string) (string, bool) { return "an-environment-value-0123456789", true }
	for _, ex := range Spec.Examples {
		yml := "sinks:\n  ws:\n    type: websocket\n    " + strings.ReplaceAll(strings.TrimSpace(ex.YAML), "\n", "\n    ") + "\n"
		cfg, errs := config.Parse("example.yaml", []byte(yml), env)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", ex.Title, errs)
		}
		d := &spec.Decoder{File: "example"}
		var c Config
		if !d.DecodeComponent(Spec, cfg.Decls[0].Node, Spec.Name, &c) {
			t.Errorf("%s: %v", ex.Title, d.Errs)
		}
	}
}

// TestValidation covers the checks between fields, and that the token is
// never quoted.
func TestValidation(t *testing.T) {
	base := func() Config {
		return Config{Listen: "127.0.0.1:8081", Path: "/events", Format: "event", ClientQueue: 8, WriteTimeout: 1e9, MaxClients: 10}
	}
	cases := []struct {
		name string
		mod  func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"path without slash", func(c *Config) { c.Path = "events" }, `path: "events" does not start with /`},
		{"open address without token", func(c *Config) { c.Listen = "0.0.0.0:8081" }, "listen: 0.0.0.0:8081 is not a loopback address"},
		{"open address with token", func(c *Config) { c.Listen = "0.0.0.0:8081"; c.AuthToken = "tok-0123456789abcdef" }, ""},
		{"localhost", func(c *Config) { c.Listen = "localhost:8081" }, ""},
		{"ipv6 loopback", func(c *Config) { c.Listen = "[::1]:8081" }, ""},
		{"short token", func(c *Config) { c.AuthToken = "short-SECRET" }, "auth_token: the token is too short"},
		{"token reference", func(c *Config) { c.AuthToken = "${TOKEN}" }, ""},
		{"bad origin", func(c *Config) { c.AllowedOrigins = []string{"noc.example.com"} }, `allowed_origins: "noc.example.com" is not an origin`},
		{"any origin", func(c *Config) { c.AllowedOrigins = []string{"*", "https://noc.example.com:8443"} }, ""},
		{"zero write timeout", func(c *Config) { c.WriteTimeout = 0 }, "write_timeout: must be positive"},
	}
	for _, c := range cases {
		cfg := base()
		c.mod(&cfg)
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), "SECRET"):
			t.Errorf("%s: the token is quoted: %v", c.name, err)
		}
	}
}
