package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/examples"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// pipelineSource is how nfpipe run makes its pipeline: a file (a pipeline
// or the old config.yaml) or the built-in default, and the command-line
// overrides. A reload makes the pipeline again the same way, from the
// file as it is then.
type pipelineSource struct {
	path string      // pipeline or old config file; "" for the built-in default
	live liveOptions // -i, --bpf, -Z, --workers
	// host and port override the dashboard's listen address (--host, -p).
	host    string
	port    int
	hostSet bool
	portSet bool
}

// loaded is a configuration ready to check and build, with what the
// command needs besides.
type loaded struct {
	cfg *config.Config
	// old is set when the file had the old config.yaml layout.
	old *oldSettings
	// notes are things worth telling the operator once (not errors).
	notes []string
}

// load reads the file (or the default pipeline), converts the old layout,
// applies the overrides and parses the result. All errors are returned at
// once, positioned in the file the operator wrote.
func (s *pipelineSource) load() (*loaded, spec.Errors) {
	file, root, errs := s.readRoot()
	if root == nil {
		return nil, errs
	}
	out := &loaded{}
	dir := ""
	if isOldLayout(root) {
		old, oerrs := parseOldConfig(file, root)
		if len(oerrs) > 0 {
			return nil, oerrs
		}
		out.old = old
		root = old.pipeline(file)
		// The old tool resolved relative paths from its working directory.
		dir = "."
	}
	var oerrs spec.Errors
	if s.live.iface != "" && (s.path != "" || out.old != nil) {
		if err := overrideCapture(root, s.live); err != nil {
			oerrs = append(oerrs, spec.Error{File: file, Msg: err.Error()})
		}
	}
	if s.hostSet || s.portSet {
		note, err := overrideListen(root, s.host, s.port, s.hostSet, s.portSet)
		if err != nil {
			oerrs = append(oerrs, spec.Error{File: file, Msg: err.Error()})
		}
		if note != "" {
			out.notes = append(out.notes, note)
		}
	}
	if len(oerrs) > 0 {
		return nil, oerrs
	}
	cfg, perrs := config.ParseNode(file, root, os.LookupEnv)
	if dir != "" {
		cfg.Dir = dir
	}
	out.cfg = cfg
	return out, append(errs, perrs...)
}

// readRoot reads the YAML of the source: the file, the live default
// pipeline (-i without a file) or the built-in default.
func (s *pipelineSource) readRoot() (string, *yaml.Node, spec.Errors) {
	path := s.path
	if path == "" {
		var err error
		if s.live.iface != "" {
			path, err = liveDefaultPipeline(s.live)
		} else {
			path, err = examples.Default()
		}
		if err != nil {
			return path, nil, spec.Errors{{Msg: err.Error()}}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return path, nil, spec.Errors{{File: path, Msg: fmt.Sprintf("cannot read pipeline: %v", unwrapPathErr(err))}}
	}
	// Parse's messages for broken YAML and empty files are the ones to
	// show; only a good document goes on as a node.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		_, errs := config.Parse(path, data, os.LookupEnv)
		return path, nil, errs
	}
	return path, doc.Content[0], nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// componentsOfType returns the names and mappings of the components of a
// type under stages: or sinks:.
func componentsOfType(root *yaml.Node, section, typ string) (names []string, nodes []*yaml.Node) {
	sec := mapGet(root, section)
	if sec == nil || sec.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(sec.Content); i += 2 {
		if t := mapGet(sec.Content[i+1], "type"); t != nil && t.Value == typ {
			names = append(names, sec.Content[i].Value)
			nodes = append(nodes, sec.Content[i+1])
		}
	}
	return names, nodes
}

// overrideCapture points the pipeline's only capture stage at a live
// interface, as -i did to the old tool's configured interface.
func overrideCapture(root *yaml.Node, o liveOptions) error {
	names, nodes := componentsOfType(root, "stages", "capture")
	switch len(nodes) {
	case 0:
		return errors.New("-i: the pipeline has no capture stage to point at the interface")
	case 1:
	default:
		return fmt.Errorf("-i: the pipeline has %d capture stages (%s), so which one -i means is ambiguous; set interface: in the file instead", len(nodes), strings.Join(names, ", "))
	}
	st := nodes[0]
	for _, k := range []string{"file", "speed", "loop", "progress"} {
		mapDel(st, k)
	}
	mapSet(st, "interface", o.iface)
	if o.bpf != "" {
		mapSet(st, "bpf", o.bpf)
	}
	if o.user != "" {
		mapSet(st, "user", o.user)
	}
	if o.workers > 0 {
		mapSet(st, "workers", strconv.Itoa(o.workers))
	}
	return nil
}

// overrideListen sets the host and/or port of the pipeline's only
// dashboard. A dashboard that becomes reachable from the network and has
// no auth_token gets one from NFPIPE_TOKEN (else a random one printed at
// start): it never serves the network without a token. It returns a note
// for the operator when it added the token.
func overrideListen(root *yaml.Node, host string, port int, hostSet, portSet bool) (string, error) {
	names, nodes := componentsOfType(root, "sinks", "dashboard")
	switch len(nodes) {
	case 0:
		return "", errors.New("-p/--host: the pipeline has no dashboard sink to move")
	case 1:
	default:
		return "", fmt.Errorf("-p/--host: the pipeline has %d dashboard sinks (%s), so which one to move is ambiguous; set listen: on each in the file instead", len(nodes), strings.Join(names, ", "))
	}
	if portSet && (port < 0 || port > 65535) {
		return "", fmt.Errorf("-p %d: a port is a number from 0 to 65535", port)
	}
	if hostSet && (host == "" || strings.ContainsAny(host, " /")) {
		return "", fmt.Errorf("--host %q: expected a host name or address, e.g. 127.0.0.1 or 0.0.0.0", host)
	}
	d := nodes[0]
	curHost, curPort := "127.0.0.1", "8080" // the dashboard's default listen
	if l := mapGet(d, "listen"); l != nil {
		h, p, err := net.SplitHostPort(l.Value)
		if err != nil {
			return "", fmt.Errorf("-p/--host: cannot change the dashboard's listen %q (%v); set both --host and -p, or edit the file", l.Value, err)
		}
		curHost, curPort = h, p
	}
	if hostSet {
		curHost = strings.Trim(host, "[]")
	}
	if portSet {
		curPort = strconv.Itoa(port)
	}
	mapSet(d, "listen", net.JoinHostPort(curHost, curPort))
	if !isLoopbackHost(curHost) && mapGet(d, "auth_token") == nil {
		mapSet(d, "auth_token", tokenFromEnv)
		mapGet(d, "auth_token").Style = yaml.DoubleQuotedStyle
		return fmt.Sprintf("the dashboard listens on %s, reachable from the network, so it requires a login token: "+
			"the one in NFPIPE_TOKEN, else a random one printed once at start", net.JoinHostPort(curHost, curPort)), nil
	}
	return "", nil
}
