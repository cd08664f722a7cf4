package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Component is a running stage or sink. Run returns when the component is
// done: a source when its input is exhausted or ctx is cancelled; a stage
// or sink when its input channel is closed and everything is flushed.
type Component interface {
	Run(ctx context.Context, env *Env) error
}

// Constructor builds a component from its decoded config. It may open
// files and check the environment, but must not start goroutines, bind
// ports or capture: that happens in Run.
type Constructor[C any] func(cfg *C, bc *BuildContext) (Component, error)

// BuildContext is what a constructor gets besides its config.
type BuildContext struct {
	// Name is the component's name in the pipeline.
	Name string
	// Dir is the directory of the pipeline file; relative paths in a
	// config are resolved against it.
	Dir string
	// Logger is the component's logger.
	Logger *slog.Logger
	// Lookup finds another component of the same pipeline by name after
	// all are built (e.g. a dashboard reading a history sink). It is
	// valid to call from Run, not from the constructor.
	Lookup func(name string) (Component, bool)
	// Control lets a component pause and resume the pipeline's sources
	// and read the status of every component.
	Control Control
}

// Control is the pipeline's control plane as seen by components.
type Control interface {
	// Pause pauses the sources (stop-monitoring); counters are kept.
	Pause()
	// Resume resumes them.
	Resume()
	// Paused reports whether the sources are paused.
	Paused() bool
	// Status is a snapshot of every component.
	Status() Status
	// RecordEvent logs a system event and hands it to subscribers.
	RecordEvent(e SystemEvent)
	// Events returns the most recent system events, oldest first.
	Events() []SystemEvent
	// SubscribeEvents calls f for every later system event until the
	// returned function is called. f must not block.
	SubscribeEvents(f func(SystemEvent)) (unsubscribe func())
}

// Registration is one registered component type.
type Registration struct {
	Spec       *spec.Component
	ConfigType reflect.Type
	newConfig  func() any
	build      func(cfg any, bc *BuildContext) (Component, error)
}

// NewConfig returns a zero config struct pointer for decoding.
func (r *Registration) NewConfig() any { return r.newConfig() }

// Build calls the constructor with a decoded config.
func (r *Registration) Build(cfg any, bc *BuildContext) (Component, error) { return r.build(cfg, bc) }

// Registry holds component types by name. Tests build their own; init()
// functions register into Default.
type Registry struct {
	mu sync.RWMutex
	m  map[string]*Registration
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]*Registration{}} }

// Default is the registry component packages register into.
var Default = NewRegistry()

// Register adds a component type to Default. It panics on a duplicate
// name, a spec with missing docs, or a spec that does not match C.
func Register[C any](s *spec.Component, ctor Constructor[C]) { RegisterIn(Default, s, ctor) }

// RegisterIn adds a component type to r; see Register.
func RegisterIn[C any](r *Registry, s *spec.Component, ctor Constructor[C]) {
	if ctor == nil {
		panic(fmt.Sprintf("pipeline: %s: nil constructor", s.Name))
	}
	if err := s.Check(); err != nil {
		panic("pipeline: " + err.Error())
	}
	t := reflect.TypeOf((*C)(nil)).Elem()
	if err := spec.CheckStruct(s.Fields, t); err != nil {
		panic("pipeline: " + s.Name + ": " + err.Error())
	}
	reg := &Registration{
		Spec:       s,
		ConfigType: t,
		newConfig:  func() any { return new(C) },
		build:      func(cfg any, bc *BuildContext) (Component, error) { return ctor(cfg.(*C), bc) },
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[s.Name]; dup {
		panic(fmt.Sprintf("pipeline: component type %q registered twice", s.Name))
	}
	r.m[s.Name] = reg
}

// Lookup returns the registration of a type name.
func (r *Registry) Lookup(name string) (*Registration, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reg, ok := r.m[name]
	return reg, ok
}

// All returns every registration sorted by role then name, so listings
// are deterministic.
func (r *Registry) All() []*Registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Registration, 0, len(r.m))
	for _, reg := range r.m {
		out = append(out, reg)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Spec, out[j].Spec
		if a.Role != b.Role {
			return a.Role == spec.RoleStage
		}
		return a.Name < b.Name
	})
	return out
}

// Names returns the registered type names of a role, sorted.
func (r *Registry) Names(role spec.Role) []string {
	var out []string
	for _, reg := range r.All() {
		if reg.Spec.Role == role {
			out = append(out, reg.Spec.Name)
		}
	}
	return out
}
