package spec

import (
	"fmt"
	"strings"
)

// Type is a field's value type.
type Type string

// Field types.
const (
	TString   Type = "string"
	TInt      Type = "int"
	TFloat    Type = "float"
	TBool     Type = "bool"
	TDuration Type = "duration"
	TByteSize Type = "bytesize"
	TEnum     Type = "enum"
	TList     Type = "list"    // list of strings
	TAddress  Type = "address" // host:port
	TObject   Type = "object"  // nested fields
	TObjects  Type = "objects" // list of objects
	TMap      Type = "map"     // string keys to string values
	TAny      Type = "any"     // free-form YAML handed over as is
)

// Field describes one configuration key. Build fields with the
// constructors (String, Duration, …) and chain the setters.
type Field struct {
	Name        string
	Type        Type
	Doc         string
	DefaultText string // YAML text of the default
	HasDefault  bool
	Optional    bool // may be absent and has no default (zero value)
	Secret      bool // never printed
	Advanced    bool
	Enum        []string
	Fields      []*Field // for TObject and TObjects
	Example     string
	MinInt      *int64
	MaxInt      *int64
	check       func(v any) error
}

func newField(name string, t Type) *Field { return &Field{Name: name, Type: t} }

// String declares a string field.
func String(name string) *Field { return newField(name, TString) }

// Int declares an integer field.
func Int(name string) *Field { return newField(name, TInt) }

// Float declares a floating-point field.
func Float(name string) *Field { return newField(name, TFloat) }

// Bool declares a boolean field.
func Bool(name string) *Field { return newField(name, TBool) }

// Duration declares a duration field ("300s", "5m", "1h30m", "7d").
func Duration(name string) *Field { return newField(name, TDuration) }

// ByteSize declares a size in bytes ("64MiB", "4k", 1048576).
func ByteSize(name string) *Field { return newField(name, TByteSize) }

// Enum declares a string field restricted to the given values.
func Enum(name string, values ...string) *Field {
	f := newField(name, TEnum)
	f.Enum = values
	return f
}

// List declares a list of strings.
func List(name string) *Field { return newField(name, TList) }

// Address declares a host:port listen or dial address.
func Address(name string) *Field { return newField(name, TAddress) }

// Map declares a map of string keys to string values.
func Map(name string) *Field { return newField(name, TMap) }

// Any declares a free-form value decoded as YAML (maps, lists, scalars).
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

// Default sets the default, written as it would be in YAML.
func (f *Field) Default(v string) *Field { f.DefaultText, f.HasDefault = v, true; return f }

// Opt marks the field optional with no default.
func (f *Field) Opt() *Field { f.Optional = true; return f }

// Sensitive marks a secret: it is never printed in errors or docs.
func (f *Field) Sensitive() *Field { f.Secret = true; return f }

// Adv marks an advanced field, listed after the common ones.
func (f *Field) Adv() *Field { f.Advanced = true; return f }

// Ex sets an example value for the docs.
func (f *Field) Ex(v string) *Field { f.Example = v; return f }

// Range bounds an integer field (inclusive).
func (f *Field) Range(min, max int64) *Field { f.MinInt, f.MaxInt = &min, &max; return f }

// Min bounds an integer field from below.
func (f *Field) Min(min int64) *Field { f.MinInt = &min; return f }

// Check adds a validation of the decoded value; its error message should
// say what is wrong and how to fix it.
func (f *Field) Check(fn func(v any) error) *Field { f.check = fn; return f }

// Required reports whether the field must be set.
func (f *Field) Required() bool { return !f.HasDefault && !f.Optional }

// TypeString describes the type for docs and errors.
func (f *Field) TypeString() string {
	switch f.Type {
	case TEnum:
		return "enum(" + strings.Join(f.Enum, "|") + ")"
	case TList:
		return "list of strings"
	case TObjects:
		return "list of objects"
	}
	return string(f.Type)
}

func (f *Field) validateDecl(path string) error {
	if f.Name == "" {
		return fmt.Errorf("%s: field with no name", path)
	}
	if strings.TrimSpace(f.Doc) == "" {
		return fmt.Errorf("%s.%s: field has no description", path, f.Name)
	}
	if f.Type == TEnum && len(f.Enum) == 0 {
		return fmt.Errorf("%s.%s: enum with no values", path, f.Name)
	}
	for _, sub := range f.Fields {
		if err := sub.validateDecl(path + "." + f.Name); err != nil {
			return err
		}
	}
	return nil
}
