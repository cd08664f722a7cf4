package websocket

import (
	"strings"
	"testing"
)

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
