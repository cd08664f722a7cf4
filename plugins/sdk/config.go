package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// checkConfig checks a config block against the spec's fields the way
// nfpipe checks a built-in stage's block: unknown keys (with a
// suggestion), missing required fields, types, enum values and integer
// bounds, every problem at once. It returns the block as JSON with the
// defaults filled in and scalars normalised (list items as strings).
func checkConfig(fields []*Field, raw []byte) ([]byte, FieldErrors) {
	var v any = map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, FieldErrors{{Msg: fmt.Sprintf("config is not valid JSON: %v", err)}}
		}
		if v == nil {
			v = map[string]any{}
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, FieldErrors{{Msg: "expected a mapping of fields, got " + kindOf(v)}}
	}
	var errs FieldErrors
	out := checkObject(fields, m, "", &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, FieldErrors{{Msg: err.Error()}}
	}
	return b, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func checkObject(fields []*Field, m map[string]any, path string, errs *FieldErrors) map[string]any {
	byName := map[string]*Field{}
	var names []string
	for _, f := range fields {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	out := make(map[string]any, len(fields))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report in a stable order
	for _, k := range keys {
		f := byName[k]
		if f == nil {
			msg := fmt.Sprintf("unknown field %q", k)
			if s := suggest(k, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(names) > 0 {
				msg += "; valid fields: " + strings.Join(names, ", ")
			} else {
				msg += "; this plugin takes no fields"
			}
			*errs = append(*errs, &FieldError{Field: join(path, k), Msg: msg})
			continue
		}
		v, err := checkValue(f, m[k], join(path, k))
		if err != nil {
			var fes FieldErrors
			if errors.As(err, &fes) {
				*errs = append(*errs, fes...)
			} else {
				*errs = append(*errs, &FieldError{Field: join(path, k), Msg: err.Error()})
			}
			continue
		}
		out[k] = v
	}
	for _, f := range fields {
		if _, ok := m[f.Name]; ok {
			continue
		}
		switch {
		case f.HasDefault:
			v, err := defaultValue(f)
			if err == nil {
				v, err = checkValue(f, v, join(path, f.Name))
			}
			if err != nil {
				*errs = append(*errs, &FieldError{Field: join(path, f.Name), Msg: "bad default: " + err.Error()})
				continue
			}
			out[f.Name] = v
		case f.Type == TObject && !f.Required():
		case f.Type == TObject:
			// fill the object's own defaults; required sub-fields are
			// reported by the nested check
			out[f.Name] = checkObject(f.Fields, map[string]any{}, join(path, f.Name), errs)
		case f.Required():
			*errs = append(*errs, &FieldError{Field: path, Msg: fmt.Sprintf("missing required field %q (%s: %s)", f.Name, typeString(f), f.Doc)})
		}
	}
	return out
}

func typeString(f *Field) string {
	switch f.Type {
	case TEnum:
		return "enum(" + strings.Join(f.Enum, "|") + ")"
	case TList:
		return "list of strings"
	case TObjects:
		return "list of objects"
	}
	return f.Type
}

func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprintf("%T", v)
}

// scalarString renders a JSON scalar as the YAML text it came from.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// checkValue checks one value against its field and returns it
// normalised.
func checkValue(f *Field, v any, path string) (any, error) {
	show := func() string {
		if f.Secret {
			return "(secret)"
		}
		return kindOf(v)
	}
	switch f.Type {
	case TString, TAddress, TEnum, TDuration, TByteSize:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("expected %s, got %s", typeString(f), show())
		}
		switch f.Type {
		case TEnum:
			for _, e := range f.Enum {
				if e == s {
					return s, nil
				}
			}
			msg := fmt.Sprintf("invalid value %q; use one of %s", s, strings.Join(f.Enum, ", "))
			if sg := suggest(s, f.Enum); sg != "" {
				msg = fmt.Sprintf("invalid value %q; did you mean %q? (one of %s)", s, sg, strings.Join(f.Enum, ", "))
			}
			return nil, errors.New(msg)
		case TDuration:
			d, err := parseDuration(s)
			if err != nil || d < 0 {
				return nil, fmt.Errorf("invalid duration %q; use e.g. 300ms, 30s or 5m", s)
			}
			return int64(d), nil // so that a time.Duration field decodes it
		case TAddress:
			if s != "" {
				if _, _, err := net.SplitHostPort(s); err != nil {
					return nil, fmt.Errorf("invalid address %q; use host:port, e.g. 127.0.0.1:8080", s)
				}
			}
		}
		return s, nil
	case TInt:
		s, ok := scalarString(v)
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
		if !ok || err != nil {
			x, ferr := strconv.ParseFloat(s, 64)
			if !ok || ferr != nil || x != math.Trunc(x) || math.Abs(x) > 1<<62 {
				return nil, fmt.Errorf("expected an integer, got %s", show())
			}
			i = int64(x)
		}
		if f.MinInt != nil && i < *f.MinInt {
			return nil, fmt.Errorf("%d is too small; the minimum is %d", i, *f.MinInt)
		}
		if f.MaxInt != nil && i > *f.MaxInt {
			return nil, fmt.Errorf("%d is too large; the maximum is %d", i, *f.MaxInt)
		}
		return i, nil
	case TFloat:
		s, ok := scalarString(v)
		x, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || math.IsNaN(x) {
			return nil, fmt.Errorf("expected a number, got %s", show())
		}
		return x, nil
	case TBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("expected true or false, got %s", show())
	case TList:
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected a list, got %s; write [a, b] or one item per line with -", show())
		}
		out := make([]string, len(items))
		for i, it := range items {
			s, ok := scalarString(it)
			if !ok {
				return nil, &FieldError{Field: fmt.Sprintf("%s[%d]", path, i), Msg: "expected a string, got " + kindOf(it)}
			}
			out[i] = s
		}
		return out, nil
	case TMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected a mapping, got %s", show())
		}
		out := make(map[string]string, len(m))
		for k, it := range m {
			s, ok := scalarString(it)
			if !ok {
				return nil, &FieldError{Field: join(path, k), Msg: "expected a string, got " + kindOf(it)}
			}
			out[k] = s
		}
		return out, nil
	case TObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected a mapping of fields, got %s", show())
		}
		var errs FieldErrors
		out := checkObject(f.Fields, m, path, &errs)
		if len(errs) > 0 {
			return nil, errs
		}
		return out, nil
	case TObjects:
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected a list of objects, got %s", show())
		}
		var errs FieldErrors
		out := make([]any, len(items))
		for i, it := range items {
			ip := fmt.Sprintf("%s[%d]", path, i)
			m, ok := it.(map[string]any)
			if !ok {
				errs = append(errs, &FieldError{Field: ip, Msg: "expected a mapping of fields, got " + kindOf(it)})
				continue
			}
			out[i] = checkObject(f.Fields, m, ip, &errs)
		}
		if len(errs) > 0 {
			return nil, errs
		}
		return out, nil
	}
	return v, nil // TAny
}

// parseDuration accepts Go durations, a "d" unit for days and a bare
// number of seconds, like nfpipe's own duration fields.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil {
			return 0, err
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// suggest returns the candidate closest to s if it is a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DecodeConfig decodes the JSON Configure receives into v, a pointer to a
// struct with json tags, rejecting keys v has no field for. Errors name
// the field. Duration fields arrive as integer nanoseconds, so a
// time.Duration struct field decodes them.
func DecodeConfig(config []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &FieldError{Field: te.Field, Msg: fmt.Sprintf("cannot use %s as %s", te.Value, te.Type)}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return &FieldError{Field: f, Msg: "the plugin has no such field"}
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return fe
		}
		return &FieldError{Msg: err.Error()}
	}
	return nil
}
