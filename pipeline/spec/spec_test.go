package spec_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
)

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{
		"300s": 300 * time.Second, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute,
		"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "30": 30 * time.Second, "0.5": 500 * time.Millisecond,
	}
	for in, want := range cases {
		got, err := spec.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"5 minutes", "", "abc", "5x"} {
		if _, err := spec.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	cases := map[string]int64{"1048576": 1 << 20, "64MiB": 64 << 20, "64MB": 64e6, "512k": 512 << 10, "1g": 1 << 30, "2 GiB": 2 << 30}
	for in, want := range cases {
		got, err := spec.ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "12 parsecs", "-1"} {
		if _, err := spec.ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded", bad)
		}
	}
}

type ruleCfg struct {
	Name string   `yaml:"name"`
	When string   `yaml:"when"`
	Tags []string `yaml:"tag"`
}

type nested struct {
	Path      string        `yaml:"path"`
	Size      int64         `yaml:"size"`
	Every     time.Duration `yaml:"every"`
	Ratio     float64       `yaml:"ratio"`
	On        bool          `yaml:"on"`
	Mode      string        `yaml:"mode"`
	Retention struct {
		Flows time.Duration `yaml:"flows"`
		Stats time.Duration `yaml:"stats"`
	} `yaml:"retention"`
	Rules   []ruleCfg         `yaml:"rules"`
	Headers map[string]string `yaml:"headers"`
	Extra   any               `yaml:"extra"`
	Listen  string            `yaml:"listen"`
	Port    uint16            `yaml:"port"`
}

func nestedSpec() *spec.Component {
	return &spec.Component{
		Name: "thing", Role: spec.RoleSink, Summary: "A test sink.", Accepts: event.AllKinds(),
		Fields: []*spec.Field{
			spec.String("path").Description("Where to write.").Ex("out.db"),
			spec.ByteSize("size").Default("64MiB").Description("Size."),
			spec.Duration("every").Default("1s").Description("Period."),
			spec.Float("ratio").Default("0.5").Description("Ratio."),
			spec.Bool("on").Default("true").Description("Switch."),
			spec.Enum("mode", "fast", "safe").Default("safe").Description("Mode."),
			spec.Object("retention",
				spec.Duration("flows").Default("7d").Description("Flow retention."),
				spec.Duration("stats").Default("90d").Description("Stats retention."),
			).Description("Retention per table."),
			spec.Objects("rules",
				spec.String("name").Description("Rule name."),
				spec.String("when").Description("Condition."),
				spec.List("tag").Opt().Description("Tags to add."),
			).Opt().Description("Rules."),
			spec.Map("headers").Opt().Description("Headers.").Sensitive(),
			spec.Any("extra").Opt().Description("Free-form."),
			spec.Address("listen").Default("127.0.0.1:8080").Description("Listen address."),
			spec.Int("port").Default("443").Range(1, 65535).Description("Port."),
		},
	}
}

func decode(t *testing.T, yml string) (*nested, spec.Errors) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yml), &doc); err != nil {
		t.Fatal(err)
	}
	d := &spec.Decoder{File: "f.yaml"}
	out := &nested{}
	d.DecodeComponent(nestedSpec(), doc.Content[0], "sinks.x", out)
	return out, d.Errs
}

func TestDecodeAppliesDefaultsAndNestedFields(t *testing.T) {
	got, errs := decode(t, `
type: thing
path: a.db
retention: {flows: 2d}
rules:
  - {name: r1, when: "true", tag: [a, b]}
  - {name: r2, when: "false"}
headers: {X-A: "1"}
extra: {k: [1, 2]}
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got.Path != "a.db" || got.Size != 64<<20 || got.Every != time.Second || got.Ratio != 0.5 || !got.On || got.Mode != "safe" || got.Port != 443 {
		t.Errorf("scalars: %+v", got)
	}
	if got.Retention.Flows != 48*time.Hour || got.Retention.Stats != 90*24*time.Hour {
		t.Errorf("retention: %+v", got.Retention)
	}
	if len(got.Rules) != 2 || got.Rules[0].Name != "r1" || !reflect.DeepEqual(got.Rules[0].Tags, []string{"a", "b"}) || got.Rules[1].When != "false" {
		t.Errorf("rules: %+v", got.Rules)
	}
	if got.Headers["X-A"] != "1" || got.Extra == nil {
		t.Errorf("maps: %+v %+v", got.Headers, got.Extra)
	}
}

func TestDecodeReportsEveryErrorWithPosition(t *testing.T) {
	_, errs := decode(t, `path: a.db
size: huge
rules:
  - {name: r1, whne: x}
headers: {X-Token: [secret]}
listen: localhost
port: 70000
mode: quick
`)
	errs.Sort()
	want := []string{
		`f.yaml:2:7: sinks.x.size: invalid size "huge"; use e.g. 64MiB, 512k or 1048576`,
		`f.yaml:4:5: sinks.x.rules[0]: missing required field "when" (string: Condition.)`,
		`f.yaml:4:16: sinks.x.rules[0]: unknown field "whne"; did you mean "when"?`,
		`f.yaml:5:20: sinks.x.headers.X-Token: expected a string, got a list`,
		`f.yaml:6:9: sinks.x.listen: invalid address "localhost"; use host:port, e.g. 127.0.0.1:8080`,
		`f.yaml:7:7: sinks.x.port: 70000 is too large; the maximum is 65535`,
		`f.yaml:8:7: sinks.x.mode: invalid value "quick"; use one of fast, safe`,
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSecretValuesAreNeverShown(t *testing.T) {
	_, errs := decode(t, "path: a\nheaders: hunter2-token\n")
	if len(errs) != 1 || strings.Contains(errs.Error(), "hunter2") {
		t.Fatalf("secret leaked or wrong errors: %v", errs)
	}
}

type validated struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

func (v *validated) Validate() error {
	if v.Min > v.Max {
		return &spec.FieldError{Field: "min", Msg: "must not exceed max"}
	}
	return nil
}

func TestValidatorErrorsPointAtTheField(t *testing.T) {
	c := &spec.Component{Name: "v", Role: spec.RoleSink, Summary: "s", Accepts: event.AllKinds(), Fields: []*spec.Field{
		spec.Int("min").Default("0").Description("low"), spec.Int("max").Default("10").Description("high"),
	}}
	var doc yaml.Node
	_ = yaml.Unmarshal([]byte("max: 1\nmin: 5\n"), &doc)
	d := &spec.Decoder{File: "v.yaml"}
	d.DecodeComponent(c, doc.Content[0], "sinks.v", &validated{})
	if got := d.Errs.Error(); got != "v.yaml:2:6: sinks.v.min: must not exceed max" {
		t.Errorf("got %q", got)
	}
}

func TestCheckStructCatchesDrift(t *testing.T) {
	if err := spec.CheckStruct(nestedSpec().Fields, reflect.TypeOf(nested{})); err != nil {
		t.Fatalf("matching struct rejected: %v", err)
	}
	type missing struct {
		Path string `yaml:"path"`
	}
	if err := spec.CheckStruct(nestedSpec().Fields, reflect.TypeOf(missing{})); err == nil {
		t.Error("struct missing fields accepted")
	}
	type wrongType struct {
		Every string `yaml:"every"`
	}
	if err := spec.CheckStruct([]*spec.Field{spec.Duration("every").Description("d")}, reflect.TypeOf(wrongType{})); err == nil {
		t.Error("string accepted for a duration")
	}
	type extra struct {
		Every time.Duration `yaml:"every"`
		More  int           `yaml:"more"`
	}
	if err := spec.CheckStruct([]*spec.Field{spec.Duration("every").Description("d")}, reflect.TypeOf(extra{})); err == nil {
		t.Error("struct field missing from the spec accepted")
	}
}

func TestMarkdownHasFixedSections(t *testing.T) {
	md := spec.Markdown(nestedSpec())
	last := -1
	for _, h := range []string{"## Summary", "## Usage", "## Fields", "## Behaviour and backpressure", "## Metrics and health", "## Examples"} {
		i := strings.Index(md, h)
		if i <= last {
			t.Fatalf("section %q missing or out of order", h)
		}
		last = i
	}
	if !strings.Contains(md, "| `retention.flows` | duration | `7d` | no | Flow retention. |") {
		t.Errorf("nested field row missing:\n%s", md)
	}
	if !strings.Contains(md, "    path: out.db") {
		t.Errorf("usage lacks the required field with its example:\n%s", md)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"idle_timeout", "active_timeout", "max_sessions"}
	for in, want := range map[string]string{"idle_timout": "idle_timeout", "max_session": "max_sessions", "zzz": "", "activ": "active_timeout"} {
		if got := spec.Suggest(in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

type listCfg struct {
	Rules []struct {
		Name string `yaml:"name"`
	} `yaml:"rules"`
}

func (l *listCfg) Validate() error {
	return &spec.FieldError{Field: "rules[1].name", Msg: "duplicate rule name"}
}

func TestValidatorErrorsResolveListIndexes(t *testing.T) {
	c := &spec.Component{Name: "l", Role: spec.RoleSink, Summary: "s", Accepts: event.AllKinds(), Fields: []*spec.Field{
		spec.Objects("rules", spec.String("name").Description("rule name")).Description("rules"),
	}}
	var doc yaml.Node
	_ = yaml.Unmarshal([]byte("rules:\n  - name: a\n  - name: a\n"), &doc)
	d := &spec.Decoder{File: "l.yaml"}
	d.DecodeComponent(c, doc.Content[0], "stages.f", &listCfg{})
	if got := d.Errs.Error(); got != "l.yaml:3:11: stages.f.rules[1].name: duplicate rule name" {
		t.Errorf("got %q", got)
	}
}

func TestTextListsMetrics(t *testing.T) {
	c := nestedSpec()
	if strings.Contains(spec.Text(c), "Metrics:") {
		t.Fatal("a component without metrics has a Metrics section")
	}
	c.Metrics = []spec.Metric{{Name: "rows_written", Doc: "rows committed"}}
	txt := spec.Text(c)
	m, u := strings.Index(txt, "Metrics:\n  rows_written"), strings.Index(txt, "Usage:")
	if m < 0 || u < m || !strings.Contains(txt[m:u], "rows committed") {
		t.Errorf("metrics are not listed before the usage:\n%s", txt)
	}
}
