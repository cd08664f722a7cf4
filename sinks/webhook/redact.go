package webhook

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// redacted replaces a secret wherever one would have been printed.
const redacted = "[redacted]"

// minSecretLen is the shortest string scrubbed from messages: shorter
// fragments (a "1" in a header) would mangle every message and are no
// secret anyway.
const minSecretLen = 4

// endpointOf is how the receiver is named in logs, errors and health:
// scheme and host only. Webhook URLs often carry their token in the path
// (Slack, Discord, Teams) or the query, so neither is ever shown.
func endpointOf(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// scrubber removes every configured secret from text that is about to be
// logged or shown. Errors are built so that they never contain a secret
// in the first place; this is the second line of defence, for text that
// comes from libraries.
type scrubber struct {
	secrets []string // longest first, so a secret is never partly replaced by a shorter one
}

func newScrubber(cfg *Config, u *url.URL) *scrubber {
	var s []string
	add := func(v string) {
		if len(v) >= minSecretLen {
			s = append(s, v)
		}
	}
	add(cfg.URL)
	add(cfg.Secret)
	for _, v := range cfg.Headers {
		add(v)
		// "Bearer xyz": the bare token may be printed on its own too.
		if _, tok, ok := strings.Cut(v, " "); ok {
			add(tok)
		}
	}
	if u != nil {
		if u.Path != "/" {
			add(u.Path)
			add(u.EscapedPath())
		}
		add(u.RawQuery)
		for _, vals := range u.Query() {
			for _, v := range vals {
				add(v)
			}
		}
		if u.User != nil {
			add(u.User.String())
			add(u.User.Username())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
	}
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return &scrubber{secrets: s}
}

// scrub returns text with every secret replaced.
func (s *scrubber) scrub(text string) string {
	for _, sec := range s.secrets {
		text = strings.ReplaceAll(text, sec, redacted)
	}
	return text
}

// describe renders a delivery error without the URL net/http puts in it
// (a *url.Error prints the full URL, query string included).
func (s *scrubber) describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return s.scrub(err.Error())
}
