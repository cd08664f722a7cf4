package dashboard

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/nfpipe/nfpipe/ui"
)

// notBuiltPage replaces the UI when the third-party bundles were not
// built, instead of a page that fails in confusing ways.
const notBuiltPage = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>nfpipe — UI not built</title>
<link rel="stylesheet" href="/style.css"></head><body class="login"><div class="card login-card">
<h1>nfpipe</h1><p>The dashboard's web assets were not built into this binary.</p>
<p>Run <code>make ui</code> (it needs Node.js and npm), then rebuild with <code>make build</code>.</p>
<p>The API works meanwhile: <a href="/api/status">/api/status</a>, <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</div></body></html>`

// staticHandler serves the UI files. Only regular files of the embedded
// tree are served: no directory listings, and paths are cleaned and
// resolved inside the tree by io/fs, which refuses any ".." that would
// leave it.
func (d *Dashboard) staticHandler() http.Handler {
	fsys := d.assets
	built := ui.Built(fsys)
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET")
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/" || p == "/index.html" {
			if !built {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(notBuiltPage))
				return
			}
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, fsys, "index.html")
			return
		}
		name := strings.TrimPrefix(p, "/")
		st, err := fs.Stat(fsys, name)
		if err != nil || !st.Mode().IsRegular() || strings.Contains(r.URL.Path, "..") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
