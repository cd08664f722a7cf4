package plugin

import (
	"strings"
	"testing"

	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// TestDescribedMetricsAreNamespaced checks that a plugin's counters are
// listed under the names the status reports them as, before the stage's
// own, and that metric names which could not be counters are refused.
func TestDescribedMetricsAreNamespaced(t *testing.T) {
	ps := &pluginv1.Spec{Name: "bl", Summary: "Blocks.", Metrics: []*pluginv1.Metric{
		{Name: "matches", Doc: "flows that matched"},
		{Name: "errors", Doc: "would be plugin_errors with an underscore"},
	}}
	c, _, err := componentFromProto(ps, "bl")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Metrics) != 2+len(componentSpec.Metrics) || c.Metrics[0].Name != "plugin.matches" || c.Metrics[0].Doc != "flows that matched" ||
		c.Metrics[1].Name != "plugin.errors" || c.Metrics[2].Name != componentSpec.Metrics[0].Name {
		t.Errorf("metrics: %v", c.Metrics)
	}
	seen := map[string]bool{}
	for _, m := range c.Metrics {
		if seen[m.Name] {
			t.Errorf("metric %s listed twice", m.Name)
		}
		seen[m.Name] = true
	}
	for _, tc := range []struct {
		metrics []*pluginv1.Metric
		want    string
	}{
		{[]*pluginv1.Metric{{Name: "Matches"}}, `bl: metric name "Matches" must be snake_case`},
		{[]*pluginv1.Metric{{Name: "a.b"}}, `bl: metric name "a.b" must be snake_case`},
		{[]*pluginv1.Metric{{Name: ""}}, `bl: metric name "" must be snake_case`},
		{[]*pluginv1.Metric{{Name: "m"}, {Name: "m"}}, "bl: duplicate metric m"},
	} {
		ps.Metrics = tc.metrics
		if _, _, err := componentFromProto(ps, "bl"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.metrics, err, tc.want)
		}
	}
}
