package dashboard

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// params reads query parameters, collecting every problem so a 400 can
// list them all at once.
type params struct {
	q    url.Values
	errs []string
}

// newParams checks that only the allowed parameters are present: a typo
// such as lmit=10 is an error, not silently ignored.
func newParams(r *http.Request, allowed ...string) *params {
	p := &params{q: r.URL.Query()}
	for k := range p.q {
		if !slices.Contains(allowed, k) {
			p.errs = append(p.errs, fmt.Sprintf("unknown parameter %q (allowed: %s)", k, strings.Join(allowed, ", ")))
		}
	}
	slices.Sort(p.errs)
	return p
}

func (p *params) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

func (p *params) str(name string) string { return strings.TrimSpace(p.q.Get(name)) }

// int parses an integer within [lo, hi].
func (p *params) int(name string, def, lo, hi int) int {
	s := p.str(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail("%s=%q: want an integer from %d to %d", name, s, lo, hi)
		return def
	}
	return n
}

// enum parses one of the allowed values.
func (p *params) enum(name, def string, values []string) string {
	s := p.str(name)
	if s == "" {
		return def
	}
	for _, v := range values {
		if strings.EqualFold(v, s) {
			return v
		}
	}
	p.fail("%s=%q: want one of %s", name, s, strings.Join(values, ", "))
	return def
}

// order parses asc/desc.
func (p *params) order(def string) bool {
	return p.enum("order", def, []string{"asc", "desc"}) == "desc"
}

// ip parses an address; the zero Addr when absent.
func (p *params) ip(name string) netip.Addr {
	s := p.str(name)
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		p.fail("%s=%q: not an IP address", name, s)
		return netip.Addr{}
	}
	return a.Unmap()
}

// port parses a port number, -1 when absent.
func (p *params) port(name string) int {
	if p.str(name) == "" {
		return -1
	}
	return p.int(name, -1, 0, 65535)
}

// proto parses a protocol name or number, -1 when absent.
func (p *params) proto(name string) int {
	s := strings.ToLower(p.str(name))
	if s == "" {
		return -1
	}
	n, ok := event.ParseProto(s)
	if !ok {
		p.fail("%s=%q: want tcp, udp, icmp, icmpv6, sctp or a protocol number", name, s)
		return -1
	}
	return int(n)
}

// country parses an ISO 3166-1 alpha-2 code.
func (p *params) country(name string) string {
	s := strings.ToUpper(p.str(name))
	if s == "" {
		return ""
	}
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		p.fail("%s=%q: want a two-letter country code such as DE", name, s)
		return ""
	}
	return s
}

// maxRange bounds range= so a typo cannot ask for a century of history.
const maxRange = 400 * 24 * time.Hour

// span parses range= (a duration such as 5m, 1h or 7d) or from=/to=
// (RFC 3339 or unix seconds). It returns the range length, or from/to
// when those were given (zero otherwise).
func (p *params) span(def time.Duration) (d time.Duration, from, to time.Time) {
	if s := p.str("range"); s != "" {
		r, err := spec.ParseDuration(s)
		if err != nil || r <= 0 || r > maxRange {
			p.fail("range=%q: want a duration such as 5m, 1h or 7d (at most 400d)", s)
			return def, time.Time{}, time.Time{}
		}
		if p.str("from") != "" {
			p.fail("give either range or from/to, not both")
		}
		return r, time.Time{}, time.Time{}
	}
	from = p.time("from")
	to = p.time("to")
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		p.fail("to must be after from")
	}
	if !from.IsZero() {
		end := to
		if end.IsZero() {
			end = time.Now()
		}
		return end.Sub(from), from, to
	}
	return def, time.Time{}, to
}

func (p *params) time(name string) time.Time {
	s := p.str(name)
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC()
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		p.fail("%s=%q: want an RFC 3339 time (2024-05-01T10:00:00Z) or unix seconds", name, s)
	}
	return t
}

// ok writes a 400 listing every problem and returns false, or returns
// true when the parameters were all fine.
func (p *params) ok(w http.ResponseWriter) bool {
	if len(p.errs) == 0 {
		return true
	}
	writeJSON(w, http.StatusBadRequest, apiError{Error: "bad request: " + strings.Join(p.errs, "; "), Details: p.errs})
	return false
}
