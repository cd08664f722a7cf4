package websocket

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// minToken is the shortest auth_token accepted.
const minToken = 16

// Validate checks relations between fields. No message quotes the token.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	add := func(field, msg string) { errs = append(errs, &spec.FieldError{Field: field, Msg: msg}) }
	if !strings.HasPrefix(c.Path, "/") {
		add("path", fmt.Sprintf("%q does not start with /; write e.g. /events", c.Path))
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err == nil && !isLoopbackHost(host) && c.AuthToken == "" {
		add("listen", fmt.Sprintf("%s is not a loopback address, so the stream needs a token: set auth_token (e.g. auth_token: ${NFPIPE_STREAM_TOKEN}), or listen on 127.0.0.1", c.Listen))
	}
	if c.AuthToken != "" && !unexpanded(c.AuthToken) && len(c.AuthToken) < minToken {
		add("auth_token", "the token is too short (value not shown); use at least 16 characters, e.g. openssl rand -hex 16")
	}
	for _, o := range c.AllowedOrigins {
		if _, err := parseOrigin(o); err != nil {
			add("allowed_origins", err.Error())
		}
	}
	if c.WriteTimeout <= 0 {
		add("write_timeout", "must be positive, e.g. 5s")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// unexpanded reports a literal ${VAR} reference (docs and examples are
// checked without an environment).
func unexpanded(s string) bool { return strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") }

// isLoopbackHost reports whether a listen or Host name only reaches this
// machine.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// parseOrigin checks an allowed_origins entry: "*" or
// scheme://host[:port] and nothing else. It returns the entry in the form
// an Origin header is compared with.
func parseOrigin(s string) (string, error) {
	if s == "*" {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin; write scheme://host[:port], e.g. https://noc.example.com, or * for any", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
