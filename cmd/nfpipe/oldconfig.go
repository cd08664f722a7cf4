package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// The old tool kept its settings in config/config.yaml:
//
//	network:     {interface: eth0, promiscuous_mode: true}
//	web:         {host: 0.0.0.0, port: 8080, debug: false}
//	monitor:     {session_timeout: 300, max_sessions: 10000}
//	geolocation: {enabled: true, database_path: data/GeoLite2-City.mmdb}
//
// nfpipe reads that layout wherever it takes a pipeline (-c, run,
// validate) by converting it into the equivalent pipeline, and prints the
// conversion with nfpipe migrate-config.

// oldSections are the old layout's top-level keys and their fields.
var oldSections = map[string][]string{
	"network":     {"interface", "promiscuous_mode"},
	"web":         {"host", "port", "debug"},
	"monitor":     {"session_timeout", "max_sessions"},
	"geolocation": {"enabled", "database_path"},
}

// oldDefaultGeoDB is the database path the old tool used when
// geolocation was enabled without database_path.
const oldDefaultGeoDB = "data/GeoLite2-City.mmdb"

// tokenFromEnv is the auth_token nfpipe sets on a dashboard reachable
// from the network when none is configured: the token from NFPIPE_TOKEN,
// else a random one printed once at start.
const tokenFromEnv = "${NFPIPE_TOKEN:-generate}"

// isOldLayout reports whether a file's root mapping is the old
// config.yaml: old section names and no stages: or sinks:.
func isOldLayout(root *yaml.Node) bool {
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	old := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i].Value; {
		case k == "stages" || k == "sinks" || k == "metrics":
			return false
		case oldSections[k] != nil:
			old = true
		}
	}
	return old
}

// oldSettings are the values of an old config.yaml, each with the node
// it came from so that errors in the converted pipeline point into the
// old file.
type oldSettings struct {
	iface          string
	promiscuous    *bool
	host           string
	port           int
	debug          bool
	sessionTimeout float64 // seconds; 0 when not set
	maxSessions    int
	geoEnabled     bool
	geoPath        string
	// nodes are the value nodes by dotted key, e.g. "web.port".
	nodes map[string]*yaml.Node
}

// parseOldConfig reads an old config.yaml's root mapping strictly: every
// unknown key and every value of the wrong type is reported with its
// position.
func parseOldConfig(file string, root *yaml.Node) (*oldSettings, spec.Errors) {
	o := &oldSettings{host: "127.0.0.1", port: 8080, nodes: map[string]*yaml.Node{}}
	var errs spec.Errors
	errAt := func(n *yaml.Node, path, format string, args ...any) {
		e := spec.Error{File: file, Path: path, Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Line, e.Col = n.Line, n.Column
		}
		errs = append(errs, e)
	}
	sections := make([]string, 0, len(oldSections))
	for s := range oldSections {
		sections = append(sections, s)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		fields, ok := oldSections[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q in the old config.yaml layout", k.Value)
			if s := spec.Suggest(k.Value, sections); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; it has network:, web:, monitor: and geolocation:"
			}
			errAt(k, "", "%s", msg)
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			errAt(v, k.Value, "expected a mapping of settings (%s)", strings.Join(fields, ", "))
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			path := k.Value + "." + fk.Value
			known := false
			for _, f := range fields {
				known = known || f == fk.Value
			}
			if !known {
				msg := fmt.Sprintf("unknown setting %q", fk.Value)
				if s := spec.Suggest(fk.Value, fields); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; " + k.Value + ": has " + strings.Join(fields, ", ")
				}
				errAt(fk, k.Value, "%s", msg)
				continue
			}
			if o.nodes[path] != nil {
				errAt(fk, path, "setting given twice")
				continue
			}
			o.nodes[path] = fv
			if msg := o.set(path, fv); msg != "" {
				errAt(fv, path, "%s", msg)
			}
		}
	}
	if o.geoEnabled && o.geoPath == "" {
		o.geoPath = oldDefaultGeoDB
	}
	errs.Sort()
	return o, errs
}

// set stores one setting and returns what is wrong with its value.
func (o *oldSettings) set(path string, n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return "expected a single value"
	}
	v := n.Value
	switch path {
	case "network.interface":
		if v == "" || n.Tag == "!!null" {
			return `expected an interface name, e.g. eth0 (or "default": the interface of the default route)`
		}
		o.iface = v
	case "network.promiscuous_mode":
		b, ok := oldBool(v)
		if !ok {
			return fmt.Sprintf("expected true or false, got %q", v)
		}
		o.promiscuous = &b
	case "web.host":
		if v == "" || n.Tag == "!!null" || strings.ContainsAny(v, " /") {
			return fmt.Sprintf("expected a host name or address, e.g. 127.0.0.1 or 0.0.0.0, got %q", v)
		}
		o.host = strings.Trim(v, "[]")
	case "web.port":
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return fmt.Sprintf("expected a port number from 1 to 65535, got %q", v)
		}
		o.port = p
	case "web.debug":
		b, ok := oldBool(v)
		if !ok {
			return fmt.Sprintf("expected true or false, got %q", v)
		}
		o.debug = b
	case "monitor.session_timeout":
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s <= 0 || s > 365*24*3600 {
			return fmt.Sprintf("expected a number of seconds above 0, e.g. 300, got %q", v)
		}
		o.sessionTimeout = s
	case "monitor.max_sessions":
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 {
			return fmt.Sprintf("expected a number of sessions of at least 1, got %q", v)
		}
		o.maxSessions = m
	case "geolocation.enabled":
		b, ok := oldBool(v)
		if !ok {
			return fmt.Sprintf("expected true or false, got %q", v)
		}
		o.geoEnabled = b
	case "geolocation.database_path":
		if v == "" || n.Tag == "!!null" {
			return "expected the path of a .mmdb file, e.g. " + oldDefaultGeoDB
		}
		o.geoPath = v
	}
	return ""
}

// oldBool reads a boolean as the old tool's YAML 1.1 parser did: yes/no
// and on/off are booleans there.
func oldBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}

// listen is the dashboard address of the old web: section.
func (o *oldSettings) listen() string {
	return net.JoinHostPort(o.host, strconv.Itoa(o.port))
}

// pos is the node of a setting, for positions; nil when it was not set.
func (o *oldSettings) pos(path string) *yaml.Node { return o.nodes[path] }

// pipeline builds the equivalent pipeline: the default pipeline capturing
// live, with the old settings in their places. Every value taken from the
// old file keeps that file's line and column, and says where it came from
// in a comment.
func (o *oldSettings) pipeline(file string) *yaml.Node {
	// Build errors are reported at a component's type: line, so each
	// type takes the position of the old setting it most depends on.
	capture := ymap(
		"type", str("capture", o.pos("network.interface")),
		"interface", withComment(quoted(orDefault(o.iface, "default"), o.pos("network.interface")), "network.interface"),
	)
	if o.iface == "" {
		capture.Content[3].LineComment = "network.interface was not set: the interface of the default route, as the old tool chose"
	}
	if o.promiscuous != nil {
		mapAdd(capture, "promiscuous", withComment(boolNode(*o.promiscuous, o.pos("network.promiscuous_mode")), "network.promiscuous_mode"))
	}
	sessions := ymap(
		"type", str("sessionize", o.pos("monitor.session_timeout")),
		"inputs", flowSeq("decode"),
	)
	if o.sessionTimeout > 0 {
		mapAdd(sessions, "idle_timeout", withComment(str(strconv.FormatFloat(o.sessionTimeout, 'f', -1, 64)+"s", o.pos("monitor.session_timeout")), "monitor.session_timeout (seconds)"))
	}
	if o.maxSessions > 0 {
		mapAdd(sessions, "max_sessions", withComment(intNode(o.maxSessions, o.pos("monitor.max_sessions")), "monitor.max_sessions"))
	}
	mapAdd(sessions, "update_interval", withComment(str("2s", nil), "flow updates for the live dashboard"))
	stages := ymap(
		"capture", capture,
		"decode", ymap("type", str("decode", nil), "inputs", flowSeq("capture")),
		"sessions", sessions,
		"stats", ymap("type", str("ipstats", nil), "inputs", flowSeq("decode"), "interval", str("10s", nil)),
	)
	dashInputs := flowSeq("sessions", "stats")
	if o.geoEnabled {
		geo := ymap(
			"type", str("geoip", o.pos("geolocation.database_path")),
			"inputs", flowSeq("sessions", "stats"),
			"database", withComment(quoted(o.geoPath, o.pos("geolocation.database_path")), "geolocation.database_path"),
			"optional", withComment(boolNode(true, nil), "as before, run without geolocation while the file is missing"),
		)
		mapAdd(stages, "geo", geo)
		stages.Content[len(stages.Content)-2].HeadComment = "geolocation.enabled: true"
		dashInputs = flowSeq("geo")
	}
	listenPos := o.pos("web.port")
	if listenPos == nil {
		listenPos = o.pos("web.host")
	}
	dash := ymap(
		"type", str("dashboard", listenPos),
		"inputs", dashInputs,
		"listen", withComment(quoted(o.listen(), listenPos), "web.host and web.port"),
	)
	if !isLoopbackHost(o.host) {
		tok := quoted(tokenFromEnv, o.pos("web.host"))
		mapAdd(dash, "auth_token", tok)
		dash.Content[len(dash.Content)-2].HeadComment = fmt.Sprintf(
			"web.host %s is reachable from the network, so the dashboard requires a login\n"+
				"token: export NFPIPE_TOKEN (16 characters or more) to choose it, or nfpipe\n"+
				"prints a random one once at start.", o.host)
	}
	root := ymap("stages", stages, "sinks", ymap("dashboard", dash))
	var head []string
	head = append(head, fmt.Sprintf("nfpipe pipeline converted from %s (the old config.yaml layout).", file))
	if o.debug {
		head = append(head, "web.debug: true: nfpipe logs at debug level (as nfpipe run --debug).")
	}
	if o.geoEnabled {
		head = append(head, "Relative paths are resolved from this file's directory; the old tool",
			"resolved them from its working directory.")
	}
	root.HeadComment = "# " + strings.Join(head, "\n# ")
	return root
}

// isLoopbackHost reports whether a host name or address only accepts
// local connections.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// YAML node builders. pos, when given, lends its line and column.

func str(v string, pos *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	at(n, pos)
	return n
}

func quoted(v string, pos *yaml.Node) *yaml.Node {
	n := str(v, pos)
	n.Style = yaml.DoubleQuotedStyle
	return n
}

func intNode(v int, pos *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	at(n, pos)
	return n
}

func boolNode(v bool, pos *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	at(n, pos)
	return n
}

func at(n, pos *yaml.Node) {
	if pos != nil {
		n.Line, n.Column = pos.Line, pos.Column
	}
}

func withComment(n *yaml.Node, c string) *yaml.Node {
	n.LineComment = c
	return n
}

func flowSeq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, it := range items {
		n.Content = append(n.Content, str(it, nil))
	}
	return n
}

// ymap builds a mapping from alternating keys and value nodes.
func ymap(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		mapAdd(n, kv[i].(string), kv[i+1].(*yaml.Node))
	}
	return n
}

func mapAdd(m *yaml.Node, key string, v *yaml.Node) {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: v.Line, Column: v.Column}
	m.Content = append(m.Content, k, v)
}
