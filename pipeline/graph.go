package pipeline

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// BufferConfig is a component's input queue.
type BufferConfig struct {
	MaxBatches int    `yaml:"max_batches"`
	WhenFull   string `yaml:"when_full"`
}

func bufferFields(dropDefault bool) []*spec.Field {
	def := "block"
	if dropDefault {
		def = "drop_newest"
	}
	return []*spec.Field{
		spec.Int("max_batches").Default("64").Range(1, 1<<20).Description("Input queue length in batches (each holds up to a few hundred events)."),
		spec.Enum("when_full", "block", "drop_newest").Default(def).Description("What to do when the queue is full: block the producer, or drop the newest batch and count it."),
	}
}

// node is one component in a checked plan.
type node struct {
	decl     *config.Decl
	reg      *Registration
	cfg      any
	buffer   BufferConfig
	comp     Component
	outKinds event.Kinds
	upstream []*node // distinct producers
	inputs   []config.Input
	shards   int
	// runtime
	instances  []Component         // one per shard; instances[0] == comp
	ins        []chan *event.Batch // one input queue per instance
	stats      *Stats
	outs       map[string][]*edge
	pendingUps int32
}

func (n *node) name() string { return n.decl.Name }

func (n *node) isSource() bool { return n.reg.Spec.Source }

// Plan is a decoded and checked pipeline, ready to build and run.
type Plan struct {
	Config   *config.Config
	nodes    []*node // topological order: sources first
	byName   map[string]*node
	Warnings spec.Errors
}

// Option configures loading.
type Option func(*options)

type options struct {
	registry *Registry
	logger   *slog.Logger
}

// WithRegistry uses r instead of Default.
func WithRegistry(r *Registry) Option { return func(o *options) { o.registry = r } }

// WithLogger sets the logger components get.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

func makeOptions(opts []Option) options {
	o := options{registry: Default, logger: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Check decodes every component against its spec and checks the graph,
// returning every error found (sorted by position) and the warnings.
func Check(cfg *config.Config, opts ...Option) (*Plan, spec.Errors) {
	o := makeOptions(opts)
	dec := &spec.Decoder{File: cfg.File}
	p := &Plan{Config: cfg, byName: map[string]*node{}}
	var nodes []*node
	for _, d := range cfg.Decls {
		n := &node{decl: d, inputs: d.Inputs}
		p.byName[d.Name] = n
		if d.TypeNode == nil {
			continue // reported by config.Parse
		}
		reg, ok := o.registry.Lookup(d.Type)
		if !ok {
			dec.Errs = append(dec.Errs, unknownType(cfg.File, d, o.registry))
			continue
		}
		if reg.Spec.Role != d.Role {
			other := "sinks"
			if reg.Spec.Role == spec.RoleStage {
				other = "stages"
			}
			dec.Errs = append(dec.Errs, posErr(cfg.File, d.TypeNode, d.Path+".type", fmt.Sprintf("%q is a %s; declare it under %s:", d.Type, reg.Spec.Role, other)))
			continue
		}
		n.reg = reg
		n.cfg = reg.NewConfig()
		dec.DecodeComponent(reg.Spec, d.Node, d.Path, n.cfg)
		bf := &spec.Component{Fields: bufferFields(reg.Spec.DropWhenFull)}
		if d.Buffer != nil && reg.Spec.Source {
			dec.Errs = append(dec.Errs, posErr(cfg.File, d.Buffer, d.Path+".buffer", "a source has no input buffer; remove buffer:"))
		}
		dec.DecodeComponent(bf, d.Buffer, d.Path+".buffer", &n.buffer)
		n.shards = 1
		if d.Shards != nil {
			sh, err := spec.ParseInt(d.Shards.Value)
			switch {
			case d.Shards.Kind != yaml.ScalarNode || err != nil || sh < 1 || sh > 1024:
				dec.Errs = append(dec.Errs, posErr(cfg.File, d.Shards, d.Path+".shards", "shards must be a number from 1 to 1024"))
			case sh > 1 && !reg.Spec.Shardable:
				dec.Errs = append(dec.Errs, posErr(cfg.File, d.Shards, d.Path+".shards", fmt.Sprintf("a %s %s cannot be sharded; remove shards:", d.Type, d.Role)))
			default:
				n.shards = int(sh)
			}
		}
		nodes = append(nodes, n)
	}
	errs := dec.Errs
	errs = append(errs, p.checkEdges(nodes)...)
	if len(errs.Fatal()) == 0 {
		order, cerrs := topoSort(cfg.File, nodes)
		errs = append(errs, cerrs...)
		p.nodes = order
		if len(cerrs) == 0 {
			errs = append(errs, p.checkKinds()...)
		}
	}
	errs = append(errs, p.checkEnds(nodes)...)
	errs.Sort()
	p.Warnings = errs.Warnings()
	if f := errs.Fatal(); len(f) > 0 {
		return nil, errs
	}
	return p, errs
}

func posErr(file string, n *yaml.Node, path, msg string) spec.Error {
	e := spec.Error{File: file, Path: path, Msg: msg}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	return e
}

func unknownType(file string, d *config.Decl, r *Registry) spec.Error {
	names := r.Names(d.Role)
	msg := fmt.Sprintf("unknown %s type %q", d.Role, d.Type)
	if s := spec.Suggest(d.Type, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; available: " + strings.Join(names, ", ")
	}
	if _, ok := r.Lookup(d.Type); ok {
		msg = fmt.Sprintf("%q is not a %s", d.Type, d.Role)
	}
	return posErr(file, d.TypeNode, d.Path+".type", msg)
}

func (p *Plan) checkEdges(nodes []*node) spec.Errors {
	var errs spec.Errors
	file := p.Config.File
	for _, n := range nodes {
		d := n.decl
		if n.reg.Spec.Source {
			if len(d.Inputs) > 0 {
				errs = append(errs, posErr(file, d.Inputs[0].Node, d.Path+".inputs", fmt.Sprintf("a %s stage is a source and takes no inputs; remove inputs:", d.Type)))
			}
			continue
		}
		if len(d.Inputs) == 0 {
			errs = append(errs, posErr(file, d.Key, d.Path, "missing inputs: list the components this one reads from, e.g. inputs: [decode]"))
			continue
		}
		seenUp := map[*node]bool{}
		for i, in := range d.Inputs {
			ipath := fmt.Sprintf("%s.inputs[%d]", d.Path, i)
			up, ok := p.byName[in.Component]
			if !ok {
				var names []string
				for name := range p.byName {
					names = append(names, name)
				}
				sort.Strings(names)
				msg := fmt.Sprintf("unknown input %q", in.Component)
				if s := spec.Suggest(in.Component, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; declared components: " + strings.Join(names, ", ")
				}
				errs = append(errs, posErr(file, in.Node, ipath, msg))
				continue
			}
			if up == n {
				errs = append(errs, posErr(file, in.Node, ipath, "a component cannot read its own output"))
				continue
			}
			if up.decl.Role == spec.RoleSink {
				errs = append(errs, posErr(file, in.Node, ipath, fmt.Sprintf("%q is a sink and has no output; read from a stage", in.Component)))
				continue
			}
			if up.reg == nil {
				continue // its own error is reported
			}
			if in.Output != "" {
				found := false
				var outs []string
				for _, o := range up.reg.Spec.Outputs {
					found = found || o.Name == in.Output
					outs = append(outs, o.Name)
				}
				if !found {
					msg := fmt.Sprintf("%q has no output %q", in.Component, in.Output)
					if sg := spec.Suggest(in.Output, outs); sg != "" {
						msg += fmt.Sprintf("; did you mean %q?", in.Component+"."+sg)
					} else if len(outs) > 0 {
						msg += "; its outputs: " + strings.Join(outs, ", ")
					} else {
						msg += fmt.Sprintf("; write just %q", in.Component)
					}
					errs = append(errs, posErr(file, in.Node, ipath, msg))
					continue
				}
			}
			if !seenUp[up] {
				seenUp[up] = true
				n.upstream = append(n.upstream, up)
			}
		}
	}
	return errs
}

// topoSort orders nodes sources-first and reports cycles with their chain.
func topoSort(file string, nodes []*node) ([]*node, spec.Errors) {
	const (
		white = iota
		grey
		black
	)
	color := map[*node]int{}
	var order []*node
	var errs spec.Errors
	var stack []*node
	var visit func(n *node)
	visit = func(n *node) {
		color[n] = grey
		stack = append(stack, n)
		for _, up := range n.upstream {
			switch color[up] {
			case white:
				visit(up)
			case grey:
				// chain from up back to n, then up again
				var chain []string
				start := 0
				for i, s := range stack {
					if s == up {
						start = i
					}
				}
				for _, s := range stack[start:] {
					chain = append(chain, s.name())
				}
				chain = append(chain, up.name())
				var at *yaml.Node
				for _, in := range n.inputs {
					if in.Component == up.name() {
						at = in.Node
					}
				}
				errs = append(errs, posErr(file, at, n.decl.Path+".inputs", "cycle: "+strings.Join(reverse(chain), " -> ")))
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		order = append(order, n)
	}
	for _, n := range nodes {
		if color[n] == white {
			visit(n)
		}
	}
	return order, errs
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// checkKinds infers what each node emits and checks every edge carries a
// kind its consumer accepts.
func (p *Plan) checkKinds() spec.Errors {
	var errs spec.Errors
	file := p.Config.File
	for _, n := range p.nodes {
		s := n.reg.Spec
		var in event.Kinds
		for i, inp := range n.inputs {
			up := p.byName[inp.Component]
			if up == nil || up.reg == nil {
				continue
			}
			if up.outKinds.Intersect(s.Accepts).Empty() {
				errs = append(errs, posErr(file, inp.Node, fmt.Sprintf("%s.inputs[%d]", n.decl.Path, i),
					fmt.Sprintf("%s emits %s but %s %q accepts %s", inp.Component, up.outKinds, s.Name, n.name(), s.Accepts)))
			}
			in |= up.outKinds
		}
		n.outKinds = s.Emits
		if s.Passthrough {
			n.outKinds |= in.Intersect(s.Accepts)
		}
	}
	return errs
}

func (p *Plan) checkEnds(nodes []*node) spec.Errors {
	var errs spec.Errors
	file := p.Config.File
	hasSource, hasSink := false, false
	consumed := map[string]bool{}
	for _, n := range nodes {
		hasSource = hasSource || n.reg.Spec.Source
		hasSink = hasSink || n.decl.Role == spec.RoleSink
	}
	for _, d := range p.Config.Decls {
		for _, in := range d.Inputs {
			consumed[in.Component] = true
		}
	}
	first := &yaml.Node{Line: 1, Column: 1}
	if !hasSource && len(nodes) > 0 {
		errs = append(errs, posErr(file, first, "stages", "the pipeline has no source; add a stage of type capture"))
	}
	if !hasSink && len(nodes) > 0 {
		errs = append(errs, posErr(file, first, "sinks", "the pipeline has no sink; add one under sinks:, e.g. type: jsonl"))
	}
	if len(p.Config.Decls) == 0 {
		errs = append(errs, posErr(file, first, "", "the pipeline declares no components; add stages: and sinks:"))
	}
	for _, n := range nodes {
		if n.decl.Role == spec.RoleStage && !consumed[n.name()] {
			e := posErr(file, n.decl.Key, n.decl.Path, "output is not consumed by any component")
			e.Warning = true
			errs = append(errs, e)
		}
	}
	return errs
}
