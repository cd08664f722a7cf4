package sdk_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

// webTagger is a complete processor: it tags flows to web ports.
type webTagger struct {
	tag   string
	ports []uint16
}

func (w *webTagger) Configure(config []byte) error {
	var cfg struct {
		Tag   string   `json:"tag"`
		Ports []string `json:"ports"`
	}
	if err := sdk.DecodeConfig(config, &cfg); err != nil {
		return err
	}
	w.tag, w.ports = cfg.Tag, nil
	for i, p := range cfg.Ports {
		var n uint16
		if _, err := fmt.Sscan(p, &n); err != nil || n == 0 {
			return sdk.Errorf(fmt.Sprintf("ports[%d]", i), fmt.Sprintf("%q is not a port number", p))
		}
		w.ports = append(w.ports, n)
	}
	return nil
}

func (w *webTagger) Process(ctx context.Context, b *event.Batch) ([]event.AlertRec, error) {
	counters := sdk.CountersFrom(ctx)
	for i := range b.Flows {
		if slices.Contains(w.ports, b.Flows[i].Server.Port) {
			b.Flows[i].Tags = append(b.Flows[i].Tags, w.tag)
			counters.Add("tagged", 1) // declared in the spec's Metrics
		}
	}
	return nil, nil
}

var webSpec = sdk.Spec{
	Name:    "web_tagger",
	Summary: "Tags flows to web ports.",
	Fields: []*sdk.Field{
		sdk.String("tag").Default("web").Description("Tag to add."),
		sdk.List("ports").Default(`["80", "443"]`).Description("Server ports to tag."),
	},
	Metrics: []sdk.Metric{
		{Name: "tagged", Doc: "flows tagged"},
	},
}

// A plugin's whole main: describe it, hand the processor to Serve.
func ExampleServe() {
	sdk.Serve(sdk.ServeOpts{
		Processor: &webTagger{},
		Spec:      webSpec,
		Logger:    sdk.Logger(slog.LevelInfo),
	})
}

// The processor is plain Go: test it without nfpipe, as nfpipe would call
// it (the config arrives as JSON, defaults filled in by the SDK). Its
// counters come from the context; NewCounters makes a set to read back.
func Example_processor() {
	w := &webTagger{}
	if err := w.Configure([]byte(`{"tag": "web", "ports": ["80", "443"]}`)); err != nil {
		panic(err)
	}
	b := event.NewBatch(event.Flow)
	for _, port := range []uint16{443, 22, 80} {
		b.Flows = append(b.Flows, event.FlowRec{Proto: 6, Server: event.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: port}})
	}
	counters := sdk.NewCounters(webSpec.Metrics...)
	if _, err := w.Process(sdk.WithCounters(context.Background(), counters), b); err != nil {
		panic(err)
	}
	for _, f := range b.Flows {
		fmt.Println(f.Server.Port, f.Tags)
	}
	fmt.Println("tagged:", counters.Value("tagged"))
	fmt.Println(w.Configure([]byte(`{"tag": "web", "ports": ["http"]}`)))
	// Output:
	// 443 [web]
	// 22 []
	// 80 [web]
	// tagged: 2
	// ports[0]: "http" is not a port number
}
