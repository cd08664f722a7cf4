package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
)

// sessionCookie carries a browser's proof of login. Its value is derived
// from the token (never the token itself), so it stays valid across
// restarts with the same token and becomes invalid when the token changes.
const sessionCookie = "nfpipe_session"

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// sessionValue is the cookie value for a token.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("nfpipe dashboard session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// authorized reports whether r carries the token, as a bearer header or
// as the login cookie. Comparisons take constant time.
func (d *Dashboard) authorized(r *http.Request) bool {
	if d.token == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(d.token)) == 1
		}
		return false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(sessionValue(d.token))) == 1
	}
	return false
}

// publicPaths are served without a token: the login page and what it
// shows.
var publicPaths = map[string]bool{"/login": true, "/style.css": true, "/favicon.svg": true}

// requireAuth refuses requests without the token: 401 JSON for the API
// and the WebSocket, a redirect to the login page for the UI.
func (d *Dashboard) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.token == "" || publicPaths[r.URL.Path] || d.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		d.stats.authFailures.Add(1)
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/ws" || r.URL.Path == metricsPath || r.Method != http.MethodGet {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nfpipe"`)
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "authentication required: send Authorization: Bearer <token>, or log in at /login"})
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nfpipe — log in</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/style.css">
</head><body class="login">
<form method="post" action="/login" class="card login-card">
<h1><img src="/favicon.svg" alt="" width="28" height="28"> nfpipe</h1>
<p>This dashboard is protected by a token. It was set in the pipeline (auth_token) or printed once when nfpipe started.</p>
{{if .Failed}}<p class="error" role="alert">That token is not valid.</p>{{end}}
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Log in</button>
</form></body></html>`))

// serveLogin shows the login form and, on POST, sets the session cookie
// when the token is right.
func (d *Dashboard) serveLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if d.token == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, struct{ Failed bool }{})
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		tok := r.PostFormValue("token")
		if d.token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(d.token)) != 1 {
			d.stats.authFailures.Add(1)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_ = loginPage.Execute(w, struct{ Failed bool }{true})
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: sessionValue(d.token), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

// serveLogout clears the session cookie.
func (d *Dashboard) serveLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
