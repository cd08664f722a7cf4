// Package ui holds the dashboard's web front end, embedded in the binary.
//
// static/ holds the hand-written pages, scripts and styles. The
// third-party libraries (uPlot, d3-geo, topojson-client, the world-atlas
// country outlines) are bundled by `make ui` from the npm packages pinned
// in package-lock.json into static/vendor/, which is git-ignored: no
// third-party code is committed, and a clean checkout still builds (the
// dashboard then explains how to build the assets instead of a blank page).
package ui

import (
	"embed"
	"io/fs"
)

// static always exists (it holds our own files), so this compiles before
// any npm step; static/vendor is included whenever it has been built.
//
//go:embed static
var static embed.FS

// VendorProbe is a file the UI cannot work without; its absence means the
// bundles were never built.
const VendorProbe = "vendor/uplot.js"

// Assets returns the embedded UI files rooted at static/.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("ui: " + err.Error()) // static is embedded above: cannot happen
	}
	return sub
}

// Built reports whether the third-party bundles are present in fsys.
func Built(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, VendorProbe)
	return err == nil
}
