package websocket

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// refusal dials and returns the HTTP status and error message of a
// refused connection.
func refusal(t *testing.T, rawURL string, header http.Header) (int, string) {
	t.Helper()
	c, resp, err := dial(t, rawURL, dialOpts{header: header})
	if err == nil {
		c.conn.CloseNow()
		return 101, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", rawURL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Error string }
	_ = json.Unmarshal(body, &e)
	return resp.StatusCode, e.Error
}

func TestTokenIsRequiredWhenSet(t *testing.T) {
	const token = "a-stream-token-0123456789"
	h := newHarness(t, "auth_token: "+token)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	cases := []struct {
		name   string
		url    string
		header http.Header
		want   int
	}{
		{"no token", h.base, nil, http.StatusUnauthorized},
		{"wrong bearer", h.base, bearer("wrong-token-0123456789"), http.StatusUnauthorized},
		{"wrong query token", h.base + "?token=nope", nil, http.StatusUnauthorized},
		{"basic instead of bearer", h.base, http.Header{"Authorization": {"Basic " + token}}, http.StatusUnauthorized},
		{"wrong bearer beats a right query token", h.base + "?token=" + token, bearer("nope"), http.StatusUnauthorized},
		{"bearer", h.base, bearer(token), 101},
		{"query token", h.base + "?token=" + token, nil, 101},
	}
	for _, c := range cases {
		if got, msg := refusal(t, c.url, c.header); got != c.want {
			t.Errorf("%s: status %d (%s), want %d", c.name, got, msg, c.want)
		}
	}
	if got := h.counter("clients_refused"); got != 5 {
		t.Errorf("clients_refused = %d, want 5", got)
	}
}

func TestOriginAndHostChecks(t *testing.T) {
	h := newHarness(t, "allowed_origins: [https://noc.example.com]")
	host := strings.TrimPrefix(h.base, "ws://")
	host = host[:strings.Index(host, "/")]
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"a program (no Origin)", nil, 101},
		{"the server's own origin", origin("http://" + host), 101},
		{"an allowed origin", origin("https://noc.example.com"), 101},
		{"an allowed host with another scheme", origin("http://noc.example.com"), http.StatusForbidden},
		{"a foreign page", origin("https://evil.example"), http.StatusForbidden},
		{"a rebound name (Host and Origin agree, not loopback)", http.Header{"Origin": {"http://rebind.example:1"}, "Host": {"rebind.example:1"}}, http.StatusForbidden},
		{"localhost", http.Header{"Host": {"localhost"}}, 101},
	}
	for _, c := range cases {
		// Host cannot be set as a header with net/http; DialOptions.Host
		// is what sets it.
		got := hostDial(t, h.base, c.header)
		if got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
}

// hostDial dials with the Host header taken out of header.
func hostDial(t *testing.T, rawURL string, header http.Header) int {
	t.Helper()
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	hostHdr := h.Get("Host")
	h.Del("Host")
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	conn, resp, err := websocketDial(ctx, rawURL, h, hostHdr)
	if err == nil {
		conn.CloseNow()
		return 101
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

func TestBadRequestsAreRefusedWithAReason(t *testing.T) {
	h := newHarness(t, "")
	cases := []struct {
		query, want string
	}{
		{"kinds=flows", `kinds: unknown kind "flows"; did you mean "flow"?`},
		{"kinds=packet", `kinds: unknown kind "packet"`},
		{"kind=flow", `unknown query parameter "kind"; did you mean "kinds"?`},
		{"format=csv", "format=csv: use event or array"},
		{"filter=" + url.QueryEscape(`flow.bytes >`), "filter: unexpected token EOF"},
		{"filter=" + url.QueryEscape(`flow.byte > 1`), "has no field byte (1:6)"},
		{"filter=" + url.QueryEscape(`flow.bytes + 1`), "filter: expected bool, but got int"},
		{"filter=" + url.QueryEscape(strings.Repeat("1 + ", 2000)+"1 > 0"), "longer than"},
		{"filter=" + url.QueryEscape(`in_cidr(flow.client_ip, "10.0.0.0/33")`), `in_cidr: invalid network "10.0.0.0/33" (1:25)`},
		{"filter=" + url.QueryEscape(`port_in(flow.server_port, "80-x")`), `port_in: invalid port "80-x"`},
		{"filter=" + url.QueryEscape(`in_cidr(flow.client_port, "10.0.0.0/8")`), "filter: cannot use int as argument"},
	}
	for _, c := range cases {
		status, msg := refusal(t, h.base+"?"+c.query, nil)
		if status != http.StatusBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("?%s: %d %q, want 400 with %q", c.query, status, msg, c.want)
		}
	}
	// The compiler's position is part of the message.
	_, msg := refusal(t, h.base+"?filter="+url.QueryEscape(`kind == "flow" && flow.nope`), nil)
	if !strings.Contains(msg, "no field nope (1:24)") {
		t.Errorf("filter error without position: %q", msg)
	}
	if status, _ := refusal(t, strings.Replace(h.base, "/events", "/other", 1), nil); status != http.StatusNotFound {
		t.Errorf("another path: %d, want 404", status)
	}
}

func TestMaxClients(t *testing.T) {
	h := newHarness(t, "max_clients: 2")
	mustDial(t, h.base, dialOpts{})
	mustDial(t, h.base, dialOpts{})
	if status, msg := refusal(t, h.base, nil); status != http.StatusServiceUnavailable || !strings.Contains(msg, "max_clients") {
		t.Errorf("third client: %d %q, want 503", status, msg)
	}
}
