package webhook

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// validationOutput is what nfpipe validate prints for a pipeline file:
// parse, check and (the environment tier) build errors, one per line.
func validationOutput(t *testing.T, yml string) string {
	t.Helper()
	h := &harness{}
	r := pipeline.NewRegistry()
	pipeline.RegisterIn(r, &spec.Component{Name: "alertsrc", Role: spec.RoleStage, Summary: "test alerts", Source: true, Emits: alertKinds},
		func(*noConfig, *pipeline.BuildContext) (pipeline.Component, error) {
			return &alertSource{feed: h.feed}, nil
		})
	pipeline.RegisterIn(r, Spec, New)
	cfg, errs := config.Parse("pipeline.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	all := append(spec.Errors(nil), errs...)
	if cfg != nil && len(errs.Fatal()) == 0 {
		plan, cerrs := pipeline.Check(cfg, pipeline.WithRegistry(r))
		all = append(all, cerrs...)
		if plan != nil {
			p, berrs := pipeline.Build(plan, pipeline.WithRegistry(r))
			all = append(all, berrs...)
			if p != nil {
				p.Close()
			}
		}
	}
	return all.Error()
}

var alertKinds = Spec.Accepts

// TestValidationNeverPrintsSecrets feeds invalid url, secret and headers
// values that are themselves secrets, and checks that every problem is
// reported, at its field, without the values.
func TestValidationNeverPrintsSecrets(t *testing.T) {
	cases := []struct {
		name    string
		fields  string
		secrets []string
		want    []string // substrings the output must have
	}{
		{
			name: "bad values",
			fields: `
    url: "ftp://user-SEC1:pass-SEC2@hooks.example.com/services/path-SEC3?token=query-SEC4"
    secret: short-SEC5
    headers:
      Authorization: "Bearer header-SEC6\r\nX-Injected: 1"
      X-Nfpipe-Signature: header-SEC7
      "Bad Name header-SEC8": x`,
			secrets: []string{"SEC1", "SEC2", "SEC3", "SEC4", "SEC5", "SEC6", "SEC7", "SEC8"},
			want:    []string{"sinks.hook.url: url must start with http:// or https://", "sinks.hook.secret: the secret is too short", "contains a line break", "X-Nfpipe-Signature is set by the sink", "not a valid HTTP header name"},
		},
		{
			name: "wrong types",
			fields: `
    url: [list-SEC1]
    secret: {key: map-SEC2}
    headers: [list-SEC3]`,
			secrets: []string{"SEC1", "SEC2", "SEC3"},
			want:    []string{"sinks.hook.url: expected string, got (secret)", "sinks.hook.secret: expected string, got (secret)", "sinks.hook.headers: expected a mapping, got (secret)"},
		},
		{
			name:    "url without host",
			fields:  `url: "https:///path-SEC1"`,
			secrets: []string{"SEC1"},
			want:    []string{"url has no host"},
		},
		{
			name: "header value not a string",
			fields: `
    url: https://hooks.example.com/
    headers:
      X-Key: [nested-SEC1]`,
			secrets: []string{"SEC1"},
			want:    []string{"sinks.hook.headers.X-Key: expected a string"},
		},
		{
			name:    "fragment",
			fields:  `url: "https://hooks.example.com/x#frag-SEC1"`,
			secrets: []string{"SEC1"},
			want:    []string{"url has a #fragment"},
		},
		{
			name:    "unparsable",
			fields:  `url: "http://hooks.example.com/%zz-SEC1"`,
			secrets: []string{"SEC1"},
			want:    []string{"url is not a valid URL"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := strings.TrimLeft(c.fields, "\n")
			if !strings.HasPrefix(fields, "    ") {
				fields = "    " + fields
			}
			out := validationOutput(t, "stages:\n  src: {type: alertsrc}\nsinks:\n  hook:\n    type: webhook\n    inputs: [src]\n"+fields+"\n")
			for _, s := range c.secrets {
				if strings.Contains(out, s) {
					t.Errorf("validation output shows %s:\n%s", s, out)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("validation output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// And a valid config with secrets validates cleanly, tiers included.
	ok := validationOutput(t, `
stages:
  src: {type: alertsrc}
sinks:
  hook:
    type: webhook
    inputs: [src]
    url: https://hooks.example.com/services/T0/B0/XYZ?token=abc
    secret: a-signing-secret-of-32-characters
    headers: {Authorization: Bearer abcdef}
`)
	if ok != "" {
		t.Errorf("valid config reported: %s", ok)
	}
}

// TestLogsAndHealthNeverShowSecrets drives every failure the sink logs
// (connection refused, timeout, refused status, retries exhausted,
// alerts lost at stop) with secrets in the URL's user info, path and
// query, in headers and in the signing key, and checks that the logs and
// the health message name the receiver by scheme and host only.
func TestLogsAndHealthNeverShowSecrets(t *testing.T) {
	secrets := []string{"user-SECRET1", "pass-SECRET2", "path-SECRET3", "query-SECRET4", "header-SECRET5", "apikey-SECRET6", "signing-SECRET7-0123456789"}
	fields := func(hostport string) string {
		return fmt.Sprintf(`
    url: http://user-SECRET1:pass-SECRET2@%s/services/path-SECRET3?token=query-SECRET4&x=1
    headers: {Authorization: "Bearer header-SECRET5", X-Api-Key: apikey-SECRET6}
    secret: signing-SECRET7-0123456789
    backoff_initial: 1ms
    backoff_max: 5ms
    timeout: 100ms
    drain_timeout: 200ms`, hostport)
	}
	check := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows %s:\n%s", what, s, text)
			}
		}
	}

	// The receiver checks that the secrets were sent, so the test knows
	// they were in play, and answers 400: refused.
	var sawAuth, sawKey bool
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = r.Header.Get("Authorization") == "Bearer header-SECRET5"
		sawKey = r.Header.Get("X-Api-Key") == "apikey-SECRET6"
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer refusing.Close()
	// The slow receiver reads the request (so the server notices when the
	// client gives up) and never answers.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		<-r.Context().Done()
	}))
	defer slow.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, c := range []struct {
		name, hostport, extra, wantLog string
	}{
		{"refused status", strings.TrimPrefix(refusing.URL, "http://"), "", "status 400"},
		{"connection refused", closed, "\n    max_retries: 3", "connection refused"},
		{"timeout and stop", strings.TrimPrefix(slow.URL, "http://"), "", "no answer within timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "stages:\n  src: {type: alertsrc}\nsinks:\n  hook:\n    type: webhook\n    inputs: [src]"+fields(c.hostport)+c.extra+"\n")
			h.send(t, "s1", "s2")
			var cs pipeline.ComponentStatus
			waitFor(t, "a failure in the health message", func() bool {
				cs, _ = h.p.Status().Component("hook")
				return cs.HealthMsg != ""
			})
			check(t, "health", cs.HealthMsg)
			if !strings.Contains(cs.HealthMsg, "http://"+c.hostport) {
				t.Errorf("health does not name the receiver: %q", cs.HealthMsg)
			}
			h.finish(t)
			logs := h.logs.String()
			check(t, "logs", logs)
			if !strings.Contains(logs, c.wantLog) || !strings.Contains(logs, `"endpoint":"http://`+c.hostport+`"`) {
				t.Errorf("logs lack %q or the endpoint:\n%s", c.wantLog, logs)
			}
		})
	}
	if !sawAuth || !sawKey {
		t.Errorf("the receiver did not get the configured headers (auth %v, key %v)", sawAuth, sawKey)
	}
}

func TestScrubberDescribesURLErrorsWithoutTheURL(t *testing.T) {
	cfg := validConfig()
	cfg.URL = "https://hooks.example.com/services/T0/B0/SECRETPATH?token=SECRETQUERY"
	u, _ := parseURL(cfg.URL)
	s := newScrubber(cfg, u)
	_, err := http.Get("http://127.0.0.1:1/services/T0/B0/SECRETPATH?token=SECRETQUERY")
	if err == nil {
		t.Skip("something listens on port 1")
	}
	got := s.describe(err)
	if strings.Contains(got, "SECRET") || !strings.Contains(got, "connection refused") {
		t.Errorf("describe = %q", got)
	}
	if got := s.scrub("at /services/T0/B0/SECRETPATH and SECRETQUERY"); strings.Contains(got, "SECRET") {
		t.Errorf("scrub = %q", got)
	}
}
