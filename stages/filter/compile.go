package filter

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// maxNodes bounds the size of one expression. Expressions always
// terminate, and this keeps their cost per record bounded too.
const maxNodes = 2000

// result is what an expression must produce.
type result int

const (
	asBool   result = iota // when
	asAny                  // key, distinct value, message parts
	asNumber               // summed value: any number, converted by the stage
)

// compile compiles one expression against env (Env{} or msgEnv{}). Errors
// say where in the expression they are.
func compile(src string, env any, want result) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	p := &patcher{}
	opts := []expr.Option{expr.Env(env), expr.Patch(p), expr.MaxNodes(maxNodes)}
	switch want {
	case asBool:
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if p.err != nil {
		return nil, positioned(p.err.Bind(file.NewSource(src)), env)
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, positioned(fe, env)
		}
		return nil, err
	}
	if want == asNumber {
		// Checked here rather than with expr.AsFloat64, whose conversion
		// boxes a new float64 on every evaluation.
		switch t := prog.Node().Type(); {
		case t == nil || t.Kind() == reflect.Interface:
		case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		default:
			return nil, &exprError{Line: 1, Col: 1, Msg: fmt.Sprintf("the value to sum is a %s; use a number such as flow.bytes", t)}
		}
	}
	return prog, nil
}

// exprError is a compile error at a line and column of an expression.
type exprError struct {
	Line, Col int // 1-based
	Msg       string
}

func (e *exprError) Error() string {
	return fmt.Sprintf("%s at line %d, column %d of the expression", e.Msg, e.Line, e.Col)
}

func positioned(fe *file.Error, env any) error {
	msg := fe.Message
	if msg == "" {
		msg = "invalid expression"
	}
	return &exprError{Line: fe.Line, Col: fe.Column + 1, Msg: explain(msg, env)}
}

var (
	noField = regexp.MustCompile(`^type filter\.(\w+) has no field (\w+)$`)
	noName  = regexp.MustCompile(`^unknown name (\w+)$`)
)

// explain rewrites the compiler's messages about unknown names in terms
// of the environment a rule sees, with a suggestion.
func explain(msg string, env any) string {
	if m := noField.FindStringSubmatch(msg); m != nil {
		ns, names := namespaceOf(m[1])
		msg = fmt.Sprintf("%s has no field %s", ns, m[2])
		if s := spec.Suggest(m[2], names); s != "" {
			msg += fmt.Sprintf("; did you mean %s.%s?", ns, s)
		}
		return msg
	}
	if m := noName.FindStringSubmatch(msg); m != nil {
		if s := spec.Suggest(m[1], fieldNames(reflect.TypeOf(env))); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
	}
	return msg
}

// namespaceOf returns the expression name of a namespace struct and its
// field names.
func namespaceOf(typeName string) (string, []string) {
	env := reflect.TypeOf(Env{})
	for i := 0; i < env.NumField(); i++ {
		f := env.Field(i)
		if f.Type.Name() == typeName && !f.Anonymous {
			return f.Tag.Get("expr"), fieldNames(f.Type)
		}
	}
	return typeName, nil
}

// fieldNames lists the expression names of a struct's fields, those of
// embedded structs included.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, fieldNames(f.Type)...)
			continue
		}
		out = append(out, f.Tag.Get("expr"))
	}
	return out
}

// template is a message with {{ expression }} parts, e.g.
// "port scan from {{ key }}: {{ value }} ports in {{ window }}".
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	lit  string
	prog *vm.Program
}

// msgEnv is what message templates see: the record that fired, plus the
// alert's own values.
type msgEnv struct {
	Env
	Rule      string  `expr:"rule" doc:"the rule's name"`
	Severity  string  `expr:"severity" doc:"the alert's severity"`
	Subject   string  `expr:"subject" doc:"the key as text, or the record's description"`
	Key       any     `expr:"key" doc:"the value of the rule's key expression"`
	Value     float64 `expr:"value" doc:"the window's count, sum or distinct count"`
	Threshold float64 `expr:"threshold" doc:"the rule's threshold"`
	Window    string  `expr:"window" doc:"the rule's window, e.g. 1m0s"`
}

func parseTemplate(s string) (*template, error) {
	t := &template{}
	rest, offset := s, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, tmplPart{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ at column %d of the message; close it with }}", offset+i+1)
		}
		src := rest[i+2 : i+2+j]
		prog, err := compile(src, msgEnv{}, asAny)
		if err != nil {
			var ee *exprError
			if errors.As(err, &ee) && ee.Line == 1 {
				return nil, fmt.Errorf("%s at column %d of the message", ee.Msg, offset+i+2+ee.Col)
			}
			return nil, fmt.Errorf("in {{ }} at column %d of the message: %w", offset+i+1, err)
		}
		t.parts = append(t.parts, tmplPart{prog: prog})
		offset += i + 2 + j + 2
		rest = rest[i+2+j+2:]
	}
}

// render runs the template. A part that fails to evaluate is shown as
// its error, so an alert is never lost to a template problem.
func (t *template) render(m *msgEnv) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := expr.Run(p.prog, m)
		if err != nil {
			b.WriteString("<" + err.Error() + ">")
			continue
		}
		b.WriteString(format(v))
	}
	return b.String()
}

// format renders a value for a message: whole numbers without exponent,
// times in RFC 3339.
func format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', 6, 64)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case netip.Addr:
		return x.String()
	}
	return fmt.Sprint(v)
}
