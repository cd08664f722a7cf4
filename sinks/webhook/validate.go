package webhook

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// minSecret is the shortest signing key accepted: shorter keys can be
// guessed from a signed request.
const minSecret = 16

// reservedHeaders are set by the sink itself: a configured header may not
// replace them, or a signature could be forged by configuration.
var reservedHeaders = []string{HeaderSignature, HeaderTimestamp, HeaderDelivery, HeaderAttempt, "Content-Length", "Host"}

// Validate checks what the field types cannot. No message quotes the url,
// a header value or the secret.
func (c *Config) Validate() error {
	var errs spec.FieldErrors
	add := func(field, msg string) { errs = append(errs, &spec.FieldError{Field: field, Msg: msg}) }
	// A literal ${VAR} is a reference not expanded here (docs and
	// examples); the constructor still refuses it.
	if _, err := parseURL(c.URL); err != nil && !unexpanded(c.URL) {
		add("url", err.Error())
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			// The name is not quoted: a key that is not a header name may
			// be a pasted "Authorization: Bearer ..." line.
			add("headers", "a header name is not a valid HTTP header name (use letters, digits and !#$%&'*+-.^_`|~; write the value after the colon)")
			continue
		}
		for _, r := range reservedHeaders {
			if strings.EqualFold(k, r) {
				add("headers", "header "+http.CanonicalHeaderKey(k)+" is set by the sink and cannot be configured")
			}
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			add("headers", "the value of header "+http.CanonicalHeaderKey(k)+" contains a line break or NUL (value not shown)")
		}
	}
	if c.Secret != "" && !unexpanded(c.Secret) && len(c.Secret) < minSecret {
		add("secret", "the secret is too short (value not shown); use at least 16 characters, e.g. openssl rand -hex 32")
	}
	if c.Timeout <= 0 {
		add("timeout", "must be positive, e.g. 10s")
	}
	if c.BackoffInitial <= 0 {
		add("backoff_initial", "must be positive, e.g. 1s")
	}
	if c.BackoffMax < c.BackoffInitial {
		add("backoff_max", "must be at least backoff_initial")
	}
	switch {
	case c.Template == "custom" && strings.TrimSpace(c.CustomTemplate) == "":
		add("custom_template", "template: custom needs a custom_template")
	case c.Template != "custom" && c.CustomTemplate != "":
		add("custom_template", "custom_template is used only with template: custom; set template: custom or remove it")
	}
	if c.Template == "custom" && c.CustomTemplate != "" {
		if _, err := parseTemplate(c.Template, c.CustomTemplate); err != nil {
			add("custom_template", err.Error())
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// parseURL checks the receiver URL. Its errors describe the problem
// without quoting the URL, which may carry a token.
func parseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("url is empty; set the receiver's http:// or https:// URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("url is not a valid URL (value not shown); check its syntax and percent-encoding")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("url must start with http:// or https:// (value not shown)")
	}
	if u.Host == "" {
		return nil, errors.New("url has no host (value not shown); write e.g. https://hooks.example.com/path")
	}
	if u.Fragment != "" {
		return nil, errors.New("url has a #fragment, which is never sent to a server (value not shown); remove it")
	}
	return u, nil
}

// unexpanded reports a literal ${VAR} reference (docs and examples are
// checked without an environment).
func unexpanded(s string) bool { return strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") }

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
