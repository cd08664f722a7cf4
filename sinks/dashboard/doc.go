// Package dashboard is the dashboard sink: an HTTP server with the REST
// API, a WebSocket push of live summaries and session updates, and the
// embedded web UI (package ui).
//
// It keeps a bounded live view of the flows, per-IP statistics and alerts
// it receives (live.go), samples the pipeline's status every push
// interval into a rate series (sampler.go), and reads longer ranges from
// an optional history sink (history.go). The WebSocket hub (hub.go) gives
// every client its own bounded queue: a publish never blocks, and a client
// that cannot keep up is disconnected rather than slowing anyone down.
//
// Security: the server listens on loopback by default; a non-loopback
// address needs a token (auth.go). Browsers authenticate with a cookie set
// by the login page, other clients with an Authorization header;
// state-changing requests are checked for cross-origin use, WebSocket
// origins are checked, and on loopback without a token the Host header
// must be a loopback name, which defeats DNS rebinding (guard.go).
package dashboard
