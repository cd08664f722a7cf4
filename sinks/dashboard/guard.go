package dashboard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// isLoopbackHost reports whether a listen host only accepts local
// connections.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// parseOrigin checks an allowed_origins entry: scheme://host[:port] and
// nothing else.
func parseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%q is not an origin; write scheme://host[:port], e.g. https://noc.example.com", s)
	}
	return u, nil
}

// hostAllowed defeats DNS rebinding on an unauthenticated loopback
// dashboard: a page from a hostile site whose name was re-pointed at
// 127.0.0.1 would be same-origin with us, but its requests carry its own
// name in Host. With a token, the token protects instead.
func (d *Dashboard) hostAllowed(r *http.Request) bool {
	if d.token != "" {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if isLoopbackHost(host) || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	for _, o := range d.cfg.AllowedOrigins {
		if u, err := parseOrigin(o); err == nil && strings.EqualFold(u.Hostname(), host) {
			return true
		}
	}
	return false
}

// contentSecurityPolicy lets the UI load only its own files and talk
// only to its own server: the browser itself then guarantees that the
// dashboard makes no external request of any kind.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// guard adds the security headers, refuses unexpected Host names and
// cross-origin state changes, and checks the token.
func (d *Dashboard) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, o := range d.cfg.AllowedOrigins {
		_ = cop.AddTrustedOrigin(strings.TrimSuffix(o, "/")) // validated in Config.Validate
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, apiError{Error: "cross-origin request refused: state-changing requests must come from the dashboard's own pages (or an origin in allowed_origins)"})
	}))
	inner := cop.Handler(d.requireAuth(next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.stats.requests.Add(1)
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !d.hostAllowed(r) {
			writeJSON(w, http.StatusForbidden, apiError{Error: fmt.Sprintf("unexpected Host %q: this dashboard answers loopback names only; set auth_token to serve other names, or list the origin in allowed_origins", r.Host)})
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// originPatterns are the hosts the WebSocket accepts besides its own.
func (d *Dashboard) originPatterns() []string {
	var out []string
	for _, o := range d.cfg.AllowedOrigins {
		if u, err := parseOrigin(o); err == nil {
			out = append(out, u.Host)
		}
	}
	return out
}
