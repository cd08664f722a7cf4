package spec

import (
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// CheckStruct verifies that a Config struct and its spec describe the same
// fields with compatible Go types, so neither can drift from the other.
func CheckStruct(fields []*Field, t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("%s is not a struct", t)
	}
	tagged := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		if n := tagName(t.Field(i)); n != "" && n != "-" {
			tagged[n] = t.Field(i)
		}
	}
	for _, f := range fields {
		sf, ok := tagged[f.Name]
		if !ok {
			return fmt.Errorf("%s: spec field %q has no struct field tagged yaml:%q", t, f.Name, f.Name)
		}
		delete(tagged, f.Name)
		if err := checkType(f, sf.Type); err != nil {
			return fmt.Errorf("%s.%s: %w", t, sf.Name, err)
		}
	}
	for name := range tagged {
		return fmt.Errorf("%s: struct field tagged yaml:%q is not in the spec", t, name)
	}
	return nil
}

func checkType(f *Field, t reflect.Type) error {
	want := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("type %s does not hold a %s field (want %s)", t, f.Type, what)
		}
		return nil
	}
	isInt := func(k reflect.Kind) bool {
		return k >= reflect.Int && k <= reflect.Uint64
	}
	switch f.Type {
	case TString, TEnum, TAddress:
		return want(t.Kind() == reflect.String, "string")
	case TInt:
		return want(isInt(t.Kind()) && t != reflect.TypeOf(time.Duration(0)), "an integer type")
	case TByteSize:
		return want(t.Kind() == reflect.Int64, "int64")
	case TFloat:
		return want(t.Kind() == reflect.Float64, "float64")
	case TBool:
		return want(t.Kind() == reflect.Bool, "bool")
	case TDuration:
		return want(t == reflect.TypeOf(time.Duration(0)), "time.Duration")
	case TList:
		return want(t == reflect.TypeOf([]string(nil)), "[]string")
	case TMap:
		return want(t == reflect.TypeOf(map[string]string(nil)), "map[string]string")
	case TAny:
		return want(t.Kind() == reflect.Interface || t == reflect.TypeOf((*yaml.Node)(nil)), "any or *yaml.Node")
	case TObject:
		if t.Kind() != reflect.Struct {
			return want(false, "struct")
		}
		return CheckStruct(f.Fields, t)
	case TObjects:
		if t.Kind() != reflect.Slice || t.Elem().Kind() != reflect.Struct {
			return want(false, "[]struct")
		}
		return CheckStruct(f.Fields, t.Elem())
	}
	return fmt.Errorf("unknown field type %q", f.Type)
}
