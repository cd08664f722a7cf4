package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// outcome is what one request achieved.
type outcome int

const (
	delivered outcome = iota // 2xx
	retryable                // network error, timeout, 408, 425, 429, 5xx
	refused                  // any other status: sending it again cannot help
)

// maxResponse bounds what is read of a response body: it is read only so
// the connection can be reused.
const maxResponse = 64 << 10

// attemptResult is one request's outcome, the receiver's Retry-After and,
// for a failure, a description free of secrets.
type attemptResult struct {
	outcome    outcome
	status     int
	retryAfter time.Duration
	problem    string
}

// attempt sends body once, signed now.
func (s *sink) attempt(ctx context.Context, body []byte, delivery string, n int) attemptResult {
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, s.cfg.Method, s.url.String(), bytes.NewReader(body))
	if err != nil {
		return attemptResult{outcome: refused, problem: "cannot build the request: " + s.scrub.describe(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nfpipe-webhook")
	for k, v := range s.headers {
		req.Header[k] = v
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderDelivery, delivery)
	req.Header.Set(HeaderAttempt, strconv.Itoa(n))
	if len(s.secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(s.secret, ts, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		problem := s.scrub.describe(err)
		if actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			problem = fmt.Sprintf("no answer within timeout (%s)", s.cfg.Timeout)
		}
		return attemptResult{outcome: retryable, problem: problem}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	res := attemptResult{status: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.outcome = delivered
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		res.outcome = retryable
		res.retryAfter = retryAfter(resp.Header, time.Now())
		res.problem = "status " + strconv.Itoa(code)
	default:
		res.outcome = refused
		res.problem = "status " + strconv.Itoa(code)
		if code >= 300 && code < 400 {
			res.problem += " (a redirect, which is not followed; point url at the final address)"
		}
	}
	return res
}
