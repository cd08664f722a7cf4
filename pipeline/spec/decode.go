package spec

import (
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder decodes YAML nodes into typed config structs following a spec,
// collecting every error with its position.
type Decoder struct {
	File string
	Errs Errors
}

func (d *Decoder) errAt(n *yaml.Node, path, format string, args ...any) {
	e := Error{File: d.File, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.Errs = append(d.Errs, e)
}

// DecodeComponent decodes a component's mapping node into out (a pointer
// to its Config struct). Keys the engine handles (type, inputs, buffer)
// are skipped. It returns false if any error was recorded.
func (d *Decoder) DecodeComponent(c *Component, node *yaml.Node, path string, out any) bool {
	before := len(d.Errs)
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("spec: %s: config must be a pointer to a struct, got %T", c.Name, out))
	}
	d.decodeFields(c.Fields, node, path, rv.Elem(), true)
	if len(d.Errs) == before {
		if v, ok := out.(Validator); ok {
			d.blame(v.Validate(), node, path)
		}
	}
	return len(d.Errs) == before
}

// Blame records err against a component: a *FieldError or FieldErrors
// points at the named field's value under node, anything else at node.
func (d *Decoder) Blame(err error, node *yaml.Node, path string) { d.blame(err, node, path) }

// blame turns Validate's errors into positioned errors.
func (d *Decoder) blame(err error, node *yaml.Node, path string) {
	if err == nil {
		return
	}
	var fes FieldErrors
	var fe *FieldError
	switch {
	case errors.As(err, &fes):
	case errors.As(err, &fe):
		fes = FieldErrors{fe}
	default:
		d.errAt(node, path, "%v", err)
		return
	}
	for _, fe := range fes {
		n := node
		for _, part := range strings.Split(fe.Field, ".") {
			name, index := part, -1
			if i := strings.IndexByte(part, '['); i > 0 && strings.HasSuffix(part, "]") {
				if k, err := strconv.Atoi(part[i+1 : len(part)-1]); err == nil {
					name, index = part[:i], k
				}
			}
			if v := mapValue(n, name); v != nil {
				n = v
			}
			if index >= 0 && n.Kind == yaml.SequenceNode && index < len(n.Content) {
				n = n.Content[index]
			}
		}
		d.errAt(n, path+"."+fe.Field, "%s", fe.Msg)
	}
}

// mapValue returns the value node of key in a mapping, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (d *Decoder) decodeFields(fields []*Field, node *yaml.Node, path string, sv reflect.Value, skipReserved bool) {
	if node != nil && node.Kind != yaml.MappingNode {
		d.errAt(node, path, "expected a mapping of fields, got %s", nodeKind(node))
		return
	}
	byName := map[string]*Field{}
	var names []string
	for _, f := range fields {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	seen := map[string]bool{}
	if node != nil {
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if skipReserved && reserved[k.Value] {
				continue
			}
			f := byName[k.Value]
			if f == nil {
				msg := fmt.Sprintf("unknown field %q", k.Value)
				if s := Suggest(k.Value, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else if len(names) > 0 {
					msg += "; valid fields: " + strings.Join(names, ", ")
				} else {
					msg += "; this component takes no fields"
				}
				d.errAt(k, path, "%s", msg)
				continue
			}
			if seen[k.Value] {
				d.errAt(k, path+"."+k.Value, "field given twice")
				continue
			}
			seen[k.Value] = true
			d.decodeField(f, v, path+"."+f.Name, structField(sv, f.Name))
		}
	}
	for _, f := range fields {
		if seen[f.Name] {
			continue
		}
		fv := structField(sv, f.Name)
		switch {
		case f.HasDefault:
			var dn yaml.Node
			if err := yaml.Unmarshal([]byte(f.DefaultText), &dn); err != nil || len(dn.Content) == 0 {
				panic(fmt.Sprintf("spec: %s: bad default %q", path+"."+f.Name, f.DefaultText))
			}
			d.decodeField(f, dn.Content[0], path+"."+f.Name, fv)
		case f.Type == TObject:
			// apply the defaults of the object's own fields
			d.decodeFields(f.Fields, nil, path+"."+f.Name, fv, false)
			if len(requiredOf(f.Fields)) > 0 && !f.Optional {
				d.errAt(node, path, "missing required field %q", f.Name)
			}
		case f.Required():
			d.errAt(node, path, "missing required field %q (%s: %s)", f.Name, f.TypeString(), f.Doc)
		}
	}
}

func requiredOf(fs []*Field) []*Field {
	var out []*Field
	for _, f := range fs {
		if f.Required() {
			out = append(out, f)
		}
	}
	return out
}

// structField finds the struct field tagged yaml:"name".
func structField(sv reflect.Value, name string) reflect.Value {
	t := sv.Type()
	for i := 0; i < t.NumField(); i++ {
		if tagName(t.Field(i)) == name {
			return sv.Field(i)
		}
	}
	panic(fmt.Sprintf("spec: struct %s has no field tagged yaml:%q", t, name))
}

func tagName(sf reflect.StructField) string {
	tag := sf.Tag.Get("yaml")
	if i := strings.IndexByte(tag, ','); i >= 0 {
		tag = tag[:i]
	}
	return tag
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func (d *Decoder) show(f *Field, n *yaml.Node) string {
	if f.Secret {
		return "(secret)"
	}
	return nodeKind(n)
}

func (d *Decoder) decodeField(f *Field, n *yaml.Node, path string, fv reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	scalar := func() (string, bool) {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.errAt(n, path, "expected %s, got %s", f.TypeString(), d.show(f, n))
			return "", false
		}
		return n.Value, true
	}
	var val any
	switch f.Type {
	case TString, TAddress:
		s, ok := scalar()
		if !ok {
			return
		}
		if f.Type == TAddress && s != "" {
			if _, port, err := net.SplitHostPort(s); err != nil {
				d.errAt(n, path, "invalid address %q; use host:port, e.g. 127.0.0.1:8080", s)
				return
			} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
				d.errAt(n, path, "invalid port in %q; use a number from 0 to 65535", s)
				return
			}
		}
		val = s
	case TEnum:
		s, ok := scalar()
		if !ok {
			return
		}
		found := false
		for _, e := range f.Enum {
			found = found || e == s
		}
		if !found {
			msg := fmt.Sprintf("invalid value %q; use one of %s", s, strings.Join(f.Enum, ", "))
			if sg := Suggest(s, f.Enum); sg != "" {
				msg = fmt.Sprintf("invalid value %q; did you mean %q? (one of %s)", s, sg, strings.Join(f.Enum, ", "))
			}
			d.errAt(n, path, "%s", msg)
			return
		}
		val = s
	case TInt:
		s, ok := scalar()
		if !ok {
			return
		}
		i, err := ParseInt(s)
		if err != nil {
			d.errAt(n, path, "invalid integer %q; use e.g. 1000 or 1_000_000", s)
			return
		}
		if f.MinInt != nil && i < *f.MinInt {
			d.errAt(n, path, "%d is too small; the minimum is %d", i, *f.MinInt)
			return
		}
		if f.MaxInt != nil && i > *f.MaxInt {
			d.errAt(n, path, "%d is too large; the maximum is %d", i, *f.MaxInt)
			return
		}
		val = i
	case TFloat:
		s, ok := scalar()
		if !ok {
			return
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) {
			d.errAt(n, path, "invalid number %q; use e.g. 0.5 or 100e6", s)
			return
		}
		val = x
	case TBool:
		s, ok := scalar()
		if !ok {
			return
		}
		switch s {
		case "true":
			val = true
		case "false":
			val = false
		default:
			d.errAt(n, path, "invalid boolean %q; use true or false", s)
			return
		}
	case TDuration:
		s, ok := scalar()
		if !ok {
			return
		}
		dur, err := ParseDuration(s)
		if err != nil {
			d.errAt(n, path, "invalid duration %q; use e.g. 300s or 5m", s)
			return
		}
		if dur < 0 {
			d.errAt(n, path, "negative duration %q; use a positive value such as 30s", s)
			return
		}
		val = dur
	case TByteSize:
		s, ok := scalar()
		if !ok {
			return
		}
		b, err := ParseByteSize(s)
		if err != nil {
			d.errAt(n, path, "invalid size %q; use e.g. 64MiB, 512k or 1048576", s)
			return
		}
		val = b
	case TList:
		if n.Kind != yaml.SequenceNode {
			d.errAt(n, path, "expected a list, got %s; write [a, b] or one item per line with -", d.show(f, n))
			return
		}
		list := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				d.errAt(item, fmt.Sprintf("%s[%d]", path, i), "expected a string, got %s", nodeKind(item))
				return
			}
			list = append(list, item.Value)
		}
		val = list
	case TMap:
		if n.Kind != yaml.MappingNode {
			d.errAt(n, path, "expected a mapping, got %s", d.show(f, n))
			return
		}
		m := make(map[string]string, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				d.errAt(v, path+"."+k.Value, "expected a string, got %s", nodeKind(v))
				return
			}
			m[k.Value] = v.Value
		}
		val = m
	case TAny:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errAt(n, path, "%v", err)
			return
		}
		if fv.Type() == reflect.TypeOf((*yaml.Node)(nil)) {
			val = n
		} else {
			val = x
		}
	case TObject:
		d.decodeFields(f.Fields, n, path, fv, false)
		return
	case TObjects:
		if n.Kind != yaml.SequenceNode {
			d.errAt(n, path, "expected a list of objects, got %s", nodeKind(n))
			return
		}
		sl := reflect.MakeSlice(fv.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decodeFields(f.Fields, item, fmt.Sprintf("%s[%d]", path, i), sl.Index(i), false)
		}
		fv.Set(sl)
		return
	default:
		panic("spec: unknown type " + string(f.Type))
	}
	if f.check != nil {
		if err := f.check(val); err != nil {
			d.errAt(n, path, "%v", err)
			return
		}
	}
	setValue(fv, val, path)
}

func setValue(fv reflect.Value, val any, path string) {
	v := reflect.ValueOf(val)
	switch fv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if d, ok := val.(time.Duration); ok {
			fv.SetInt(int64(d))
			return
		}
		fv.SetInt(v.Int())
		return
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		fv.SetUint(uint64(v.Int()))
		return
	}
	if !v.Type().AssignableTo(fv.Type()) {
		if v.Type().ConvertibleTo(fv.Type()) {
			fv.Set(v.Convert(fv.Type()))
			return
		}
		panic(fmt.Sprintf("spec: %s: cannot store %T in %s", path, val, fv.Type()))
	}
	fv.Set(v)
}

// ParseInt parses decimal, hex (0x), underscores and exact exponents (1e6).
func ParseInt(s string) (int64, error) {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return i, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<62 {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	return int64(x), nil
}

// ParseDuration accepts Go durations plus a "d" unit for days ("7d") and a
// bare number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, err
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, err
		}
		rest, err := time.ParseDuration(s[i+1:])
		if err != nil {
			return 0, err
		}
		return time.Duration(days*24*float64(time.Hour)) + rest, nil
	}
	return time.ParseDuration(s)
}

// ParseByteSize parses "64MiB", "64MB", "512k", "1g" or a plain number.
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') && s[i-1] != '.' {
		i--
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	x, err := strconv.ParseFloat(strings.ReplaceAll(num, "_", ""), 64)
	if err != nil || x < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size unit %q", unit)
	}
	return int64(x * mult), nil
}
