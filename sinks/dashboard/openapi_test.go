package dashboard

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes keeps the hand-written OpenAPI document and
// the routes in step: every route is documented with its method, every
// documented path is routed, and every documented query parameter is one
// the handler accepts (an unknown one would be a 400).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	d := &Dashboard{}
	routes := d.apiRoutes()
	for _, rt := range routes {
		ops, ok := doc.Paths[rt.path]
		if !ok {
			t.Errorf("%s %s is not in openapi.json", rt.method, rt.path)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.method)]; !ok {
			t.Errorf("%s %s: openapi.json documents %v", rt.method, rt.path, keys(ops))
		}
	}
	for p := range doc.Paths {
		if !slices.ContainsFunc(routes, func(rt route) bool { return rt.path == p }) {
			t.Errorf("openapi.json documents %s, which is not routed", p)
		}
	}
	if len(doc.Paths) < 14 {
		t.Errorf("only %d paths documented", len(doc.Paths))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
