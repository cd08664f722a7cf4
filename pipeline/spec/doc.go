// Package spec declares component specifications: the single source of
// truth for a component's configuration. A spec's fields drive strict
// decoding of YAML into the component's typed Config struct, defaults,
// validation with file:line:col errors, and the generated docs.
package spec
