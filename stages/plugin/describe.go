package plugin

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/pipeline/spec"
	"github.com/nfpipe/nfpipe/plugins/codec"
	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// componentFromProto turns a plugin's Describe answer into the spec model
// of built-in stages, so nfpipe stages prints it the same way, and
// returns the kinds it accepts. The component is the stage as a user
// writes it: type plugin, the command, and the plugin's fields under
// config; the plugin's own name leads the summary.
func componentFromProto(m *pluginv1.Spec, command string) (*spec.Component, event.Kinds, error) {
	if strings.TrimSpace(m.GetName()) == "" {
		return nil, 0, errors.New("no name")
	}
	if strings.TrimSpace(m.GetSummary()) == "" {
		return nil, 0, fmt.Errorf("%s: no summary", m.GetName())
	}
	var accepts event.Kinds
	for _, k := range m.GetAccepts() {
		kind, ok := codec.KindFromProto(k)
		if !ok {
			return nil, 0, fmt.Errorf("%s: cannot accept %s events", m.GetName(), k)
		}
		accepts |= event.KindsOf(kind)
	}
	if accepts.Empty() {
		accepts = event.KindsOf(event.Flow)
	}
	fields, err := fieldsFromProto(m.GetFields(), m.GetName()+".config")
	if err != nil {
		return nil, 0, err
	}
	cfg := spec.Object("config", fields...).Description("The plugin's config block.")
	cfg.Optional = true
	for _, f := range fields {
		if f.Required() {
			cfg.Optional = false
		}
	}
	name := m.GetName()
	if m.GetVersion() != "" {
		name += " " + m.GetVersion()
	}
	c := &spec.Component{
		Name:        "plugin",
		Role:        spec.RoleStage,
		Summary:     name + ": " + m.GetSummary(),
		Description: m.GetDescription(),
		Stability:   spec.Stability(m.GetStability()),
		Accepts:     accepts,
		Passthrough: true,
		Fields: []*spec.Field{
			spec.List("command").Ex("[" + command + "]").Description("The plugin program and its arguments."),
			cfg,
		},
	}
	if m.GetRaisesAlerts() {
		c.Emits = event.KindsOf(event.Alert)
	}
	for _, ex := range m.GetExamples() {
		c.Examples = append(c.Examples, spec.Example{Title: ex.GetTitle(), YAML: "config:\n" + indent(ex.GetYaml())})
	}
	names, err := metricNames(m)
	if err != nil {
		return nil, 0, err
	}
	for i, mt := range m.GetMetrics() {
		c.Metrics = append(c.Metrics, spec.Metric{Name: names[i], Doc: mt.GetDoc()})
	}
	c.Metrics = append(c.Metrics, componentSpec.Metrics...)
	return c, accepts, nil
}

// counterPrefix namespaces a plugin's counters among the stage's own. A
// dot, not an underscore: the stage's names are snake_case, so no name a
// plugin declares can turn into one of them ("errors" would otherwise
// become plugin_errors, the stage's count of failed batches).
const counterPrefix = "plugin."

var metricNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// metricNames checks the counters a plugin declares and returns the
// stage counter each one is reported as, in order.
func metricNames(m *pluginv1.Spec) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, mt := range m.GetMetrics() {
		switch name := mt.GetName(); {
		case !metricNamePattern.MatchString(name):
			return nil, fmt.Errorf("%s: metric name %q must be snake_case, e.g. matches", m.GetName(), name)
		case seen[name]:
			return nil, fmt.Errorf("%s: duplicate metric %s", m.GetName(), name)
		default:
			seen[name] = true
			out = append(out, counterPrefix+name)
		}
	}
	return out, nil
}

var knownTypes = map[string]spec.Type{}

func init() {
	for _, t := range []spec.Type{spec.TString, spec.TInt, spec.TFloat, spec.TBool, spec.TDuration, spec.TByteSize, spec.TEnum,
		spec.TList, spec.TAddress, spec.TObject, spec.TObjects, spec.TMap, spec.TAny} {
		knownTypes[string(t)] = t
	}
}

func fieldsFromProto(ms []*pluginv1.Field, path string) ([]*spec.Field, error) {
	var out []*spec.Field
	for _, m := range ms {
		t, ok := knownTypes[m.GetType()]
		if !ok {
			return nil, fmt.Errorf("%s.%s: unknown field type %q", path, m.GetName(), m.GetType())
		}
		sub, err := fieldsFromProto(m.GetFields(), path+"."+m.GetName())
		if err != nil {
			return nil, err
		}
		f := &spec.Field{
			Name: m.GetName(), Type: t, Doc: m.GetDoc(), DefaultText: m.GetDefaultText(), HasDefault: m.GetHasDefault(),
			Optional: m.GetOptional(), Secret: m.GetSecret(), Advanced: m.GetAdvanced(), Enum: m.GetEnum(),
			Fields: sub, Example: m.GetExample(), MinInt: m.MinInt, MaxInt: m.MaxInt,
		}
		out = append(out, f)
	}
	return out, nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
