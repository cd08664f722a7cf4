// Package config loads a pipeline file: YAML parsed through yaml.Node so
// every value keeps its file, line and column, environment variables
// expanded in place, and the stages:/sinks: maps split into component
// declarations for the engine to decode against their specs.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Decl is one component as declared in the file.
type Decl struct {
	Name     string
	Role     spec.Role
	Path     string     // YAML path, e.g. "stages.sessions"
	Key      *yaml.Node // the name key (for positions)
	Node     *yaml.Node // the component's mapping
	Type     string
	TypeNode *yaml.Node
	Inputs   []Input
	Buffer   *yaml.Node // the buffer: block, if any
	Shards   *yaml.Node // the shards: value, if any
}

// Input is one entry of inputs: "name" or "name.output".
type Input struct {
	Component string
	Output    string
	Node      *yaml.Node
}

// String renders the reference as written.
func (in Input) String() string {
	if in.Output == "" {
		return in.Component
	}
	return in.Component + "." + in.Output
}

// Config is a parsed pipeline file.
type Config struct {
	File  string // as given, for error messages
	Dir   string // directory for relative paths
	Decls []*Decl
	// Metrics is the top-level metrics: block, nil when absent.
	Metrics *Metrics
}

// Decl returns the declaration with the given name.
func (c *Config) Decl(name string) *Decl {
	for _, d := range c.Decls {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Load reads and parses a pipeline file, expanding ${VAR} from the
// process environment.
func Load(path string) (*Config, spec.Errors) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, spec.Errors{{File: path, Msg: fmt.Sprintf("cannot read pipeline: %v", errorsUnwrapPath(err))}}
	}
	return Parse(path, data, os.LookupEnv)
}

func errorsUnwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Parse parses pipeline YAML. lookupEnv resolves ${VAR} references.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, spec.Errors) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		msg := err.Error()
		if m := regexp.MustCompile(`line (\d+): (.*)`).FindStringSubmatch(msg); m != nil {
			fmt.Sscan(m[1], &line)
			msg = m[2]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		return nil, spec.Errors{{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + msg}}
	}
	if len(doc.Content) == 0 {
		return nil, spec.Errors{{File: file, Msg: "the pipeline file is empty; declare stages: and sinks:"}}
	}
	return ParseNode(file, doc.Content[0], lookupEnv)
}

// ParseNode parses a pipeline already read as YAML: its root mapping.
// Errors carry the nodes' own positions, so a pipeline built from another
// file (a converted configuration) reports problems where that file has
// them. The node is edited in place by ${VAR} expansion.
func ParseNode(file string, root *yaml.Node, lookupEnv func(string) (string, bool)) (*Config, spec.Errors) {
	cfg := &Config{File: file, Dir: filepath.Dir(file)}
	var errs spec.Errors
	add := func(n *yaml.Node, path, format string, args ...any) {
		e := spec.Error{File: file, Path: path, Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Line, e.Col = n.Line, n.Column
		}
		errs = append(errs, e)
	}
	if root.Kind != yaml.MappingNode {
		return nil, spec.Errors{{File: file, Line: root.Line, Col: root.Column, Msg: "expected a mapping with stages: and sinks:"}}
	}
	errs = append(errs, expandEnv(file, root, "", lookupEnv)...)
	seen := map[string]*Decl{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var role spec.Role
		switch k.Value {
		case "stages":
			role = spec.RoleStage
		case "sinks":
			role = spec.RoleSink
		case "metrics":
			cfg.Metrics = parseMetrics(k, v, add)
			continue
		default:
			msg := fmt.Sprintf("unknown top-level key %q", k.Value)
			if s := spec.Suggest(k.Value, []string{"stages", "sinks", "metrics"}); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; a pipeline has stages:, sinks: and optionally metrics:"
			}
			add(k, "", "%s", msg)
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			add(v, k.Value, "expected a mapping of named components")
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			nk, nv := v.Content[j], v.Content[j+1]
			path := k.Value + "." + nk.Value
			if !namePattern.MatchString(nk.Value) {
				add(nk, path, "invalid component name %q; use letters, digits, _ and - (no dots: a dot selects an output)", nk.Value)
				continue
			}
			if prev := seen[nk.Value]; prev != nil {
				add(nk, path, "component name %q is already used at line %d", nk.Value, prev.Key.Line)
				continue
			}
			d := &Decl{Name: nk.Value, Role: role, Path: path, Key: nk, Node: nv}
			seen[nk.Value] = d
			if nv.Kind != yaml.MappingNode {
				add(nv, path, "expected a mapping with type: and the component's fields")
				continue
			}
			for m := 0; m+1 < len(nv.Content); m += 2 {
				fk, fv := nv.Content[m], nv.Content[m+1]
				switch fk.Value {
				case "type":
					if fv.Kind != yaml.ScalarNode || fv.Value == "" {
						add(fv, path+".type", "expected a component type name")
						continue
					}
					d.Type, d.TypeNode = fv.Value, fv
				case "inputs":
					d.Inputs = parseInputs(fv, path+".inputs", add)
					if d.Inputs == nil {
						d.Inputs = []Input{}
					}
				case "buffer":
					d.Buffer = fv
				case "shards":
					d.Shards = fv
				}
			}
			if d.TypeNode == nil {
				add(nk, path, "missing required field \"type\"")
			}
			cfg.Decls = append(cfg.Decls, d)
		}
	}
	return cfg, errs
}

func parseInputs(n *yaml.Node, path string, add func(*yaml.Node, string, string, ...any)) []Input {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		add(n, path, "expected a list of component names, e.g. [%s]", n.Value)
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		add(n, path, "expected a list of component names, e.g. [decode]")
		return nil
	}
	var out []Input
	dup := map[string]bool{}
	for i, item := range n.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.ScalarNode || item.Value == "" {
			add(item, ipath, "expected a component name")
			continue
		}
		in := Input{Component: item.Value, Node: item}
		if c, o, ok := strings.Cut(item.Value, "."); ok {
			in.Component, in.Output = c, o
		}
		if dup[item.Value] {
			add(item, ipath, "input %q is listed twice", item.Value)
			continue
		}
		dup[item.Value] = true
		out = append(out, in)
	}
	return out
}

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-|:\?)([^}]*))?\}`)

// expandEnv replaces ${VAR}, ${VAR:-default} and ${VAR:?message} in scalar
// values ($$ is a literal $). Positions are kept because nodes are edited
// in place.
func expandEnv(file string, n *yaml.Node, path string, lookup func(string) (string, bool)) spec.Errors {
	var errs spec.Errors
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, expandEnv(file, n.Content[i+1], join(path, n.Content[i].Value), lookup)...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, expandEnv(file, c, fmt.Sprintf("%s[%d]", path, i), lookup)...)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return nil
		}
		expanded := envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			sub := envRef.FindStringSubmatch(m)
			name, op, arg := sub[1], sub[2], sub[3]
			val, ok := lookup(name)
			switch op {
			case ":-":
				if !ok || val == "" {
					return arg
				}
			case "-":
				if !ok {
					return arg
				}
			case ":?":
				if !ok || val == "" {
					errs = append(errs, spec.Error{File: file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf("environment variable %s is not set: %s", name, arg)})
				}
			default:
				if !ok {
					errs = append(errs, spec.Error{File: file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf("environment variable %s is not set; export it or write ${%s:-default}", name, name)})
				}
			}
			return val
		})
		if expanded != n.Value {
			n.Value = expanded
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				// An unquoted value is typed as YAML would type the
				// expanded text (a port number stays a number).
				var probe yaml.Node
				if yaml.Unmarshal([]byte(expanded), &probe) == nil && len(probe.Content) == 1 && probe.Content[0].Kind == yaml.ScalarNode {
					n.Tag = probe.Content[0].Tag
				} else {
					n.Tag = "!!str"
				}
			}
		}
	}
	return errs
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
