package websocket

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coder/websocket"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// queryParams are the parameters a client may pass.
var queryParams = []string{"kinds", "filter", "format", "token"}

// ServeHTTP admits a client and streams to it until it leaves, falls
// behind or the pipeline stops.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.cfg.Path {
		s.refuse(w, http.StatusNotFound, fmt.Sprintf("no stream at %s; connect to %s", r.URL.Path, s.cfg.Path))
		return
	}
	if !s.hostAllowed(r.Host) {
		s.refuse(w, http.StatusForbidden, fmt.Sprintf("unexpected Host %q: without auth_token this stream answers loopback names only", r.Host))
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nfpipe"`)
		s.refuse(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token> or ?token=<token>")
		return
	}
	if !s.originAllowed(r) {
		s.refuse(w, http.StatusForbidden, fmt.Sprintf("origin %q is not allowed; list it in allowed_origins", r.Header.Get("Origin")))
		return
	}
	c, err := s.parseClient(r)
	if err != nil {
		s.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.hub.add(c); err != nil {
		s.refuse(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer s.hub.remove(c)
	defer c.stop()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the origin was checked above, with scheme and port
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept answered the request (e.g. 426 without an upgrade)
	}
	c.conn.Store(conn)
	s.m.clients.Add(1)
	defer s.m.clients.Add(-1)
	if !s.stream(r.Context(), conn, c) {
		conn.CloseNow()
	}
}

// refuse answers with a JSON error and counts the refusal.
func (s *Sink) refuse(w http.ResponseWriter, status int, msg string) {
	s.m.refused.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// authorized checks the token in constant time.
func (s *Sink) authorized(r *http.Request) bool {
	if s.token == "" {
		return true
	}
	got := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return false
		}
		got = strings.TrimSpace(tok)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// hostAllowed defeats DNS rebinding on an unauthenticated stream: a page
// whose hostile name was re-pointed at 127.0.0.1 would pass the origin
// check (its origin and the Host it sends are the same name), but that
// name is not a loopback one. With a token, the token protects instead.
func (s *Sink) hostAllowed(host string) bool {
	if s.token != "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if isLoopbackHost(host) {
		return true
	}
	for _, o := range s.origins {
		if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Hostname(), host) {
			return true
		}
	}
	return false
}

// originAllowed lets programs (no Origin header), pages of the server's
// own host and the allowed origins connect.
func (s *Sink) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	norm := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, o := range s.origins {
		if o == "*" || o == norm {
			return true
		}
	}
	return false
}

// parseClient reads a client's subscription from the query string.
func (s *Sink) parseClient(r *http.Request) (*client, error) {
	q := r.URL.Query()
	for name := range q {
		if !slices.Contains(queryParams, name) {
			msg := fmt.Sprintf("unknown query parameter %q", name)
			if sg := spec.Suggest(name, queryParams); sg != "" {
				msg += fmt.Sprintf("; did you mean %q?", sg)
			}
			return nil, fmt.Errorf("%s (use %s)", msg, strings.Join(queryParams, ", "))
		}
	}
	kinds := streamKinds
	if v := q.Get("kinds"); v != "" {
		k, err := parseKinds(v)
		if err != nil {
			return nil, err
		}
		kinds = k
	}
	f := s.format
	if v := q.Get("format"); v != "" {
		var ok bool
		if f, ok = formatNames[v]; !ok {
			return nil, fmt.Errorf("format=%s: use event or array", v)
		}
	}
	c := newClient(kinds, nil, f, s.cfg.ClientQueue, r.RemoteAddr)
	if src := q.Get("filter"); strings.TrimSpace(src) != "" {
		prog, err := compileFilter(src)
		if err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		c.filter = prog
	}
	return c, nil
}

// parseKinds reads kinds=flow,alert.
func parseKinds(v string) (event.Kinds, error) {
	var names []string
	for _, k := range streamKinds.List() {
		names = append(names, k.String())
	}
	var set event.Kinds
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		k, ok := event.ParseKind(name)
		if !ok || !streamKinds.Has(k) {
			msg := fmt.Sprintf("kinds: unknown kind %q", name)
			if sg := spec.Suggest(name, names); sg != "" {
				msg += fmt.Sprintf("; did you mean %q?", sg)
			}
			return 0, fmt.Errorf("%s (use %s)", msg, strings.Join(names, ", "))
		}
		set |= event.KindsOf(k)
	}
	return set, nil
}
