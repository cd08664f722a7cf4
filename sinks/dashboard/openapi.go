package dashboard

import (
	_ "embed"
	"net/http"
)

// openAPI describes the REST API. It is written by hand next to the
// handlers; a test checks that its paths and the routes agree.
//
//go:embed openapi.json
var openAPI []byte

func (d *Dashboard) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	if p := newParams(r); !p.ok(w) {
		return
	}
	writeRaw(w, http.StatusOK, openAPI)
}
