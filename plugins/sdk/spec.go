package sdk

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/codec"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// Spec describes a plugin the way nfpipe describes its built-in stages:
// `nfpipe stages` prints it and the config block is checked against its
// fields before Configure sees it.
type Spec struct {
	// Name is the plugin's type name, snake_case, e.g. "servicename".
	Name string
	// Summary is one line.
	Summary string
	// Description is paragraphs: behaviour, metrics, limits.
	Description string
	// Stability is "experimental", "beta" or "stable"; empty is beta.
	Stability string
	// Version is the plugin's own version, shown in listings.
	Version string
	// Accepts are the kinds Process is called with; batches of other kinds
	// pass the stage without reaching the plugin. Empty means flows only.
	// Packets are accepted but are the slow path: one record per packet.
	Accepts []event.Kind
	// RaisesAlerts says Process may return alerts.
	RaisesAlerts bool
	// Fields are the keys of the config block.
	Fields []*Field
	// Examples are config blocks (the value of config:) with a title.
	Examples []Example
	// Metrics declare the plugin's own counters, which Process increments
	// through CountersFrom(ctx). nfpipe shows them with the stage's
	// counters in its status and metrics, as "plugin.NAME".
	Metrics []Metric
}

// Example is a config block with a title.
type Example struct {
	Title string
	YAML  string
}

// Metric declares one counter of the plugin.
type Metric struct {
	// Name is snake_case and unique within the spec, e.g. "matches".
	Name string
	// Doc says what the counter counts, for listings.
	Doc string
}

// Field types, as in nfpipe's own specs.
const (
	TString   = "string"
	TInt      = "int"
	TFloat    = "float"
	TBool     = "bool"
	TDuration = "duration"
	TByteSize = "bytesize"
	TEnum     = "enum"
	TList     = "list"
	TAddress  = "address"
	TObject   = "object"
	TObjects  = "objects"
	TMap      = "map"
	TAny      = "any"
)

// Field is one key of the config block. Build it with the constructors
// (String, Int, …) and chain the setters, as nfpipe's built-in stages do.
type Field struct {
	Name        string
	Type        string
	Doc         string
	DefaultText string // the default as written in YAML (JSON for lists and maps)
	HasDefault  bool
	Optional    bool
	Secret      bool
	Advanced    bool
	Enum        []string
	Fields      []*Field
	Example     string
	MinInt      *int64
	MaxInt      *int64
}

func newField(name, t string) *Field { return &Field{Name: name, Type: t} }

// String declares a string field.
func String(name string) *Field { return newField(name, TString) }

// Int declares an integer field.
func Int(name string) *Field { return newField(name, TInt) }

// Float declares a floating-point field.
func Float(name string) *Field { return newField(name, TFloat) }

// Bool declares a boolean field.
func Bool(name string) *Field { return newField(name, TBool) }

// Duration declares a duration field ("300ms", "5m", "7d", or a number of
// seconds). Configure receives it as integer nanoseconds: decode it into
// a time.Duration.
func Duration(name string) *Field { return newField(name, TDuration) }

// Enum declares a string field restricted to the given values.
func Enum(name string, values ...string) *Field {
	f := newField(name, TEnum)
	f.Enum = values
	return f
}

// List declares a list of strings.
func List(name string) *Field { return newField(name, TList) }

// Map declares a map of string keys to string values.
func Map(name string) *Field { return newField(name, TMap) }

// Any declares a free-form value handed over unchecked.
func Any(name string) *Field { return newField(name, TAny) }

// Object declares a nested object with its own fields.
func Object(name string, fields ...*Field) *Field {
	f := newField(name, TObject)
	f.Fields = fields
	return f
}

// Objects declares a list of objects with the given fields.
func Objects(name string, fields ...*Field) *Field {
	f := newField(name, TObjects)
	f.Fields = fields
	return f
}

// Description sets the one-line doc.
func (f *Field) Description(doc string) *Field { f.Doc = doc; return f }

// Default sets the default, written as in YAML; lists and maps in their
// JSON form (["a", "b"]), which is also YAML.
func (f *Field) Default(v string) *Field { f.DefaultText, f.HasDefault = v, true; return f }

// Opt marks the field optional with no default.
func (f *Field) Opt() *Field { f.Optional = true; return f }

// Sensitive marks a secret: nfpipe never prints its value.
func (f *Field) Sensitive() *Field { f.Secret = true; return f }

// Adv marks an advanced field, listed after the common ones.
func (f *Field) Adv() *Field { f.Advanced = true; return f }

// Ex sets an example value for the docs.
func (f *Field) Ex(v string) *Field { f.Example = v; return f }

// Range bounds an integer field (inclusive).
func (f *Field) Range(min, max int64) *Field { f.MinInt, f.MaxInt = &min, &max; return f }

// Min bounds an integer field from below.
func (f *Field) Min(min int64) *Field { f.MinInt = &min; return f }

// Required reports whether the field must be set.
func (f *Field) Required() bool { return !f.HasDefault && !f.Optional }

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Check reports mistakes in the spec; Serve refuses to start with one.
func (s *Spec) Check() error {
	if !namePattern.MatchString(s.Name) {
		return fmt.Errorf("spec: name %q must be snake_case, e.g. my_tagger", s.Name)
	}
	if strings.TrimSpace(s.Summary) == "" {
		return fmt.Errorf("spec %s: no summary", s.Name)
	}
	for _, k := range s.accepts() {
		if k == event.Raw || !event.AllKinds().Has(k) {
			return fmt.Errorf("spec %s: cannot accept %s events", s.Name, k)
		}
	}
	if err := checkMetrics(s.Metrics, s.Name); err != nil {
		return err
	}
	return checkFields(s.Fields, s.Name)
}

func checkMetrics(metrics []Metric, spec string) error {
	seen := map[string]bool{}
	for _, m := range metrics {
		switch {
		case !namePattern.MatchString(m.Name):
			return fmt.Errorf("spec %s: metric name %q must be snake_case, e.g. matches", spec, m.Name)
		case seen[m.Name]:
			return fmt.Errorf("spec %s: duplicate metric %s", spec, m.Name)
		case strings.TrimSpace(m.Doc) == "":
			return fmt.Errorf("spec %s: metric %s has no doc", spec, m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

func checkFields(fields []*Field, path string) error {
	seen := map[string]bool{}
	for _, f := range fields {
		p := path + "." + f.Name
		switch {
		case f.Name == "":
			return fmt.Errorf("spec %s: field with no name", path)
		case seen[f.Name]:
			return fmt.Errorf("spec %s: duplicate field", p)
		case strings.TrimSpace(f.Doc) == "":
			return fmt.Errorf("spec %s: field has no description", p)
		case f.Type == TEnum && len(f.Enum) == 0:
			return fmt.Errorf("spec %s: enum with no values", p)
		case !knownType(f.Type):
			return fmt.Errorf("spec %s: unknown type %q", p, f.Type)
		}
		seen[f.Name] = true
		if f.HasDefault {
			v, err := defaultValue(f)
			if err == nil {
				_, err = checkValue(f, v, f.Name)
			}
			if err != nil {
				return fmt.Errorf("spec %s: bad default %q: %w", p, f.DefaultText, err)
			}
		}
		if err := checkFields(f.Fields, p); err != nil {
			return err
		}
	}
	return nil
}

func knownType(t string) bool {
	switch t {
	case TString, TInt, TFloat, TBool, TDuration, TByteSize, TEnum, TList, TAddress, TObject, TObjects, TMap, TAny:
		return true
	}
	return false
}

// defaultValue decodes a default's text: JSON when it parses as JSON,
// else the text as a string (so `5s` and `warning` need no quotes).
func defaultValue(f *Field) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(f.DefaultText), &v); err == nil {
		return v, nil
	}
	switch f.Type {
	case TList, TMap, TObject, TObjects, TInt, TFloat, TBool:
		return nil, fmt.Errorf("write the default of a %s field in JSON", f.Type)
	}
	return f.DefaultText, nil
}

func (s *Spec) accepts() []event.Kind {
	if len(s.Accepts) == 0 {
		return []event.Kind{event.Flow}
	}
	return s.Accepts
}

// toProto is the Describe answer.
func (s *Spec) toProto() *pluginv1.Spec {
	m := &pluginv1.Spec{
		Name:         s.Name,
		Summary:      s.Summary,
		Description:  s.Description,
		Stability:    s.Stability,
		Version:      s.Version,
		RaisesAlerts: s.RaisesAlerts,
		Fields:       fieldsToProto(s.Fields),
	}
	for _, k := range s.accepts() {
		m.Accepts = append(m.Accepts, codec.KindToProto(k))
	}
	for _, ex := range s.Examples {
		m.Examples = append(m.Examples, &pluginv1.Example{Title: ex.Title, Yaml: ex.YAML})
	}
	for _, mt := range s.Metrics {
		m.Metrics = append(m.Metrics, &pluginv1.Metric{Name: mt.Name, Doc: mt.Doc})
	}
	return m
}

func fieldsToProto(fs []*Field) []*pluginv1.Field {
	var out []*pluginv1.Field
	for _, f := range fs {
		out = append(out, &pluginv1.Field{
			Name: f.Name, Type: f.Type, Doc: f.Doc, DefaultText: f.DefaultText, HasDefault: f.HasDefault,
			Optional: f.Optional, Secret: f.Secret, Advanced: f.Advanced, Enum: f.Enum,
			Fields: fieldsToProto(f.Fields), Example: f.Example, MinInt: f.MinInt, MaxInt: f.MaxInt,
		})
	}
	return out
}
