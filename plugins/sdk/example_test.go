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

func (w *webTagger) Process(_ context.Context, b *event.Batch) ([]event.AlertRec, error) {
	for i := range b.Flows {
		if slices.Contains(w.ports, b.Flows[i].Server.Port) {
			b.Flows[i].Tags = append(b.Flows[i].Tags, w.tag)
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
// it (the config arrives as JSON, defaults filled in by the SDK).
func Example_processor() {
	w := &webTagger{}
	if err := w.Configure([]byte(`{"tag": "web", "ports": ["80", "443"]}`)); err != nil {
		panic(err)
	}
	b := event.NewBatch(event.Flow)
	for _, port := range []uint16{443, 22, 80} {
		b.Flows = append(b.Flows, event.FlowRec{Proto: 6, Server: event.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: port}})
	}
	if _, err := w.Process(context.Background(), b); err != nil {
		panic(err)
	}
	for _, f := range b.Flows {
		fmt.Println(f.Server.Port, f.Tags)
	}
	fmt.Println(w.Configure([]byte(`{"tag": "web", "ports": ["http"]}`)))
	// Output:
	// 443 [web]
	// 22 []
	// 80 [web]
	// ports[0]: "http" is not a port number
}
