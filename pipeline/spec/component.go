package spec

import (
	"fmt"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// Role says where a component sits in the graph.
type Role string

// Roles: a stage is declared under stages: (a source when it has no
// inputs), a sink under sinks:.
const (
	RoleStage Role = "stage"
	RoleSink  Role = "sink"
)

// Stability of a component.
type Stability string

// Stability levels.
const (
	Stable       Stability = "stable"
	Beta         Stability = "beta"
	Experimental Stability = "experimental"
)

// Example is a YAML snippet of the component's block (without type).
type Example struct {
	Title string
	YAML  string
}

// Output is an extra named output of a stage, referenced as
// "stage.output" in inputs.
type Output struct {
	Name string
	Doc  string
}

// Component is the spec of one component type.
type Component struct {
	Name        string // the YAML type: value, snake_case
	Role        Role
	Summary     string // one line
	Description string // paragraphs: behaviour, backpressure, metrics
	Stability   Stability
	// Source marks a stage that takes no inputs and produces events.
	Source bool
	// Accepts are the kinds a stage or sink consumes.
	Accepts event.Kinds
	// Emits are the kinds a stage produces. With Passthrough, a stage
	// emits the accepted kinds it receives (possibly enriched).
	Emits       event.Kinds
	Passthrough bool
	Outputs     []Output
	Fields      []*Field
	Examples    []Example
	// Shardable allows `shards: N` on the stage: the engine then runs N
	// independent instances and routes each batch by its Shard. Only for
	// stages whose state is per flow (so a flow never spans instances).
	Shardable bool
	// DropWhenFull makes drop_newest the default input buffer policy, for
	// live views that must never slow capture down.
	DropWhenFull bool
	// Metrics documents the named counters the component reports.
	Metrics []Metric
}

// Metric documents a counter or gauge a component reports in status.
type Metric struct {
	Name string
	Doc  string
}

// Check reports declaration mistakes; registration panics on them.
func (c *Component) Check() error {
	if c.Name == "" {
		return fmt.Errorf("component with no name")
	}
	if c.Summary == "" {
		return fmt.Errorf("%s: no summary", c.Name)
	}
	if c.Role != RoleStage && c.Role != RoleSink {
		return fmt.Errorf("%s: role must be stage or sink", c.Name)
	}
	if !c.Source && c.Accepts.Empty() {
		return fmt.Errorf("%s: accepts no event kinds", c.Name)
	}
	if c.Role == RoleStage && c.Emits.Empty() && !c.Passthrough {
		return fmt.Errorf("%s: a stage must emit something", c.Name)
	}
	seen := map[string]bool{}
	for _, f := range c.Fields {
		if err := f.validateDecl(c.Name); err != nil {
			return err
		}
		if seen[f.Name] {
			return fmt.Errorf("%s: duplicate field %q", c.Name, f.Name)
		}
		if reserved[f.Name] {
			return fmt.Errorf("%s: field %q is reserved", c.Name, f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// reserved keys are handled by the engine for every component.
var reserved = map[string]bool{"type": true, "inputs": true, "buffer": true, "shards": true}

// Reserved reports whether a key is common to every component.
func Reserved(key string) bool { return reserved[key] }

// Field returns the field with the given name, or nil.
func (c *Component) Field(name string) *Field {
	for _, f := range c.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}
