package dashboard

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
)

const testToken = "s3cret-token-for-tests-0123456789"

// newTestServer serves a dashboard built from cfg (with defaults filled
// in) without a pipeline behind it: enough for the HTTP layer.
func newTestServer(t *testing.T, mutate func(*Config)) (*Dashboard, *httptest.Server) {
	t.Helper()
	return newTestServerWith(t, mutate, nil)
}

// newTestServerWith is newTestServer with a lookup of other components.
func newTestServerWith(t *testing.T, mutate func(*Config), lookup func(string) (pipeline.Component, bool)) (*Dashboard, *httptest.Server) {
	t.Helper()
	if lookup == nil {
		lookup = func(string) (pipeline.Component, bool) { return nil, false }
	}
	cfg := Config{Listen: "127.0.0.1:0", MaxFlows: 1000, MaxIPs: 1000, PushInterval: time.Second, ClientQueue: 8, MaxClients: 10}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	comp, err := New(&cfg, &pipeline.BuildContext{Name: "dashboard", Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	d := comp.(*Dashboard)
	d.resolvePipeline()
	srv := httptest.NewServer(d.routes())
	t.Cleanup(srv.Close)
	return d, srv
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestNonLoopbackWithoutTokenRefusesToStart(t *testing.T) {
	yml := `stages:
  cap:
    type: capture
    file: ` + corpus(t, "zeek_http_get.pcap") + `
  decode: {type: decode, inputs: [cap]}
  sessions: {type: sessionize, inputs: [decode]}
sinks:
  dashboard:
    type: dashboard
    inputs: [sessions]
    listen: 0.0.0.0:8080
`
	cfg, errs := config.Parse("pipeline.yaml", []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg)
	if p != nil {
		p.Close()
		t.Fatal("a pipeline with a non-loopback dashboard and no token was built")
	}
	msg := errs.Error()
	for _, want := range []string{"pipeline.yaml:11:13", "sinks.dashboard.listen", "not a loopback address", "auth_token"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, c := range []struct {
		cfg  Config
		fail string
	}{
		{Config{Listen: "[::]:80"}, "auth_token"},
		{Config{Listen: "192.0.2.1:80", AuthToken: "short"}, "too short"},
		{Config{Listen: "127.0.0.1:80", AllowedOrigins: []string{"noc.example.com"}}, "not an origin"},
		{Config{Listen: "0.0.0.0:80", AuthToken: generateToken}, ""},
		{Config{Listen: "localhost:80"}, ""},
		{Config{Listen: "[::1]:80"}, ""},
		{Config{Listen: "10.0.0.1:80", AuthToken: testToken, AllowedOrigins: []string{"https://noc.example.com"}}, ""},
	} {
		err := c.cfg.Validate()
		if (err == nil) != (c.fail == "") || (err != nil && !strings.Contains(err.Error(), c.fail)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.fail)
		}
	}
}

func TestTokenIsRequired(t *testing.T) {
	d, srv := newTestServer(t, func(c *Config) { c.AuthToken = testToken })
	for _, path := range []string{"/api/status", "/api/sessions", "/api/openapi.json", "/ws"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		resp, body := do(t, req)
		if resp.StatusCode != 401 || !strings.Contains(body, "authentication required") || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without token: %d %s", path, resp.StatusCode, body)
		}
		req.Header.Set("Authorization", "Bearer wrong-token-wrong-token")
		if resp, _ := do(t, req); resp.StatusCode != 401 {
			t.Errorf("GET %s with a wrong token: %d", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/stop-monitoring", nil)
	if resp, _ := do(t, req); resp.StatusCode != 401 {
		t.Errorf("POST without token: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/api/status", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Errorf("with the token: %d %s", resp.StatusCode, body)
	}
	// The UI sends browsers to the login page, which is reachable.
	req, _ = http.NewRequest("GET", srv.URL+"/", nil)
	if resp, _ := do(t, req); resp.StatusCode != 303 || resp.Header.Get("Location") != "/login" {
		t.Errorf("GET / without token: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ = http.NewRequest("GET", srv.URL+"/login", nil)
	if resp, body := do(t, req); resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
		t.Errorf("login page: %d", resp.StatusCode)
	}
	// A wrong token is refused; the right one sets a cookie that works
	// for the API, the UI and the WebSocket.
	form := url.Values{"token": {"not-the-token"}}
	req, _ = http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := do(t, req); resp.StatusCode != 401 || !strings.Contains(body, "not valid") || len(resp.Cookies()) != 0 {
		t.Errorf("wrong login: %d", resp.StatusCode)
	}
	form.Set("token", testToken)
	req, _ = http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := do(t, req)
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, testToken) {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict and not the token itself", c)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/api/status", nil)
	req.AddCookie(c)
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Errorf("API with the cookie: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := http.Header{}
	hdr.Add("Cookie", c.String())
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("WebSocket with the cookie: %v", err)
	}
	_, msg, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"type":"hello"`) {
		t.Errorf("first message %s %v", msg, err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	if d.stats.authFailures.Load() == 0 {
		t.Error("auth failures were not counted")
	}
}

func TestCrossOriginStateChangesAreRefused(t *testing.T) {
	_, srv := newTestServer(t, func(c *Config) { c.AllowedOrigins = []string{"https://noc.example.com"} })
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"foreign origin", map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, 403},
		{"same-site but other origin", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, 403},
		{"same origin", map[string]string{"Origin": "http://" + host}, 200},
		{"same-origin fetch", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + host}, 200},
		{"allowed origin", map[string]string{"Origin": "https://noc.example.com"}, 200},
		{"no browser (curl)", nil, 503}, // allowed through; no pipeline behind this test server
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/stop-monitoring", nil)
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		resp, body := do(t, req)
		if c.want == 200 {
			c.want = 503 // passed the check, then found no pipeline control
		}
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.want)
		}
		if resp.StatusCode == 403 && !strings.Contains(body, "cross-origin") {
			t.Errorf("%s: body %s", c.name, body)
		}
	}
	// The login form is protected the same way (login CSRF).
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader("token=x"))
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := do(t, req); resp.StatusCode != 403 {
		t.Errorf("cross-origin login: %d", resp.StatusCode)
	}
}

func TestWebSocketOriginIsChecked(t *testing.T) {
	_, srv := newTestServer(t, func(c *Config) { c.AllowedOrigins = []string{"https://noc.example.com"} })
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"http://evil.example", false},
		{"https://noc.example.com", true},
		{srv.URL, true},
		{"", true}, // not a browser
	} {
		hdr := http.Header{}
		if c.origin != "" {
			hdr.Set("Origin", c.origin)
		}
		conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: hdr})
		if c.ok != (err == nil) {
			t.Errorf("origin %q: err %v, want ok=%v", c.origin, err, c.ok)
		}
		if !c.ok && resp != nil && resp.StatusCode != 403 {
			t.Errorf("origin %q: status %d, want 403", c.origin, resp.StatusCode)
		}
		if conn != nil {
			conn.Close(websocket.StatusNormalClosure, "")
		}
	}
	// Unknown topics are a 400 before the upgrade.
	_, resp, err := websocket.Dial(ctx, wsURL+"?topics=everything", nil)
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Errorf("bad topics: %v", err)
	}
}

func TestDNSRebindingIsRefused(t *testing.T) {
	_, srv := newTestServer(t, nil)
	for _, c := range []struct {
		host string
		want int
	}{
		{"evil.example:8080", 403},
		{"192.0.2.7", 403},
		{"localhost:8080", 200},
		{"127.0.0.1", 200},
		{"[::1]:8080", 200},
		{"nfpipe.localhost", 200},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/status", nil)
		req.Host = c.host
		resp, body := do(t, req)
		if resp.StatusCode != c.want {
			t.Errorf("Host %s: %d %s", c.host, resp.StatusCode, body)
		}
	}
	// With a token, other names are fine: the token protects.
	_, srv = newTestServer(t, func(c *Config) { c.AuthToken = testToken })
	req, _ := http.NewRequest("GET", srv.URL+"/api/status", nil)
	req.Host = "dashboard.example.com"
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Errorf("named host with token: %d", resp.StatusCode)
	}
}

// rawGet sends a request line exactly as given, so the client cannot
// clean the path first.
func rawGet(t *testing.T, srvURL, path string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStaticFilesCannotEscapeTheEmbeddedTree(t *testing.T) {
	_, srv := newTestServer(t, nil)
	for _, p := range []string{
		"/../ui.go", "/../../go.mod", "/..%2fui.go", "/%2e%2e/ui.go", "/%2e%2e%2f%2e%2e%2fgo.mod",
		"/js/../../ui.go", "/js/..%2f..%2fui.go", "/static/index.html", "/ui.go", "/package.json",
		"/js/", "/vendor/", "/./../../../../etc/passwd", "/js/%2e%2e/%2e%2e/%2e%2e/go.mod", "/..\\ui.go",
	} {
		code, body := rawGet(t, srv.URL, p)
		for _, leak := range []string{"package ui", "module github.com/nfpipe", "root:x:0", "devDependencies"} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s (%d) leaked %q", p, code, leak)
			}
		}
		if code == 200 && !strings.Contains(body, "<!doctype html>") {
			t.Errorf("GET %s: 200 with %.80q", p, body)
		}
	}
	// The real files are served, with the security headers.
	resp, body := do(t, mustReq(t, "GET", srv.URL+"/js/app.js"))
	if resp.StatusCode != 200 || !strings.Contains(body, "import") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestUnbuiltAssetsExplainThemselves(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, srv := newTestServer(t, func(c *Config) { c.UIDir = dir })
	resp, body := do(t, mustReq(t, "GET", srv.URL+"/"))
	if resp.StatusCode != 503 || !strings.Contains(body, "make ui") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	// The API still works.
	if resp, _ := do(t, mustReq(t, "GET", srv.URL+"/api/status")); resp.StatusCode != 200 {
		t.Errorf("status: %d", resp.StatusCode)
	}
}

func mustReq(t *testing.T, method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
