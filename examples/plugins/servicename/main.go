// Command servicename is an nfpipe plugin that tags each flow with the
// IANA service name of its server port: a TCP flow to port 443 gets the
// tag "https" (and the attribute service=https).
//
// Build it with make plugins (into bin/plugins/servicename) and use it as
// a stage of type plugin; see examples/plugin.yaml.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

var spec = sdk.Spec{
	Name:      "servicename",
	Summary:   "Tags flows with the IANA service name of their server port.",
	Version:   "1.0.0",
	Stability: "beta",
	Accepts:   []event.Kind{event.Flow},
	Description: `
A flow whose server port (the port the client connected to) has a name for
the flow's protocol in the table gets the name as a tag (with tag_prefix in
front) and in the attribute attr. Other flows pass unchanged. The built-in
table is a subset of the IANA Service Name and Transport Protocol Port Number
Registry for TCP, UDP and SCTP; services_file adds a services(5) file (such
as /etc/services) and ports adds single entries, each overriding what came
before. A flow that already has the tag is not tagged twice.`,
	Fields: []*sdk.Field{
		sdk.String("tag_prefix").Default(`""`).Ex("svc:").Description("Text put in front of the service name in the tag."),
		sdk.String("attr").Default("service").Description(`Attribute set to the service name; "" sets none.`),
		sdk.String("services_file").Opt().Ex("/etc/services").Description("A services(5) file whose entries are added to the built-in table; relative to the pipeline file's directory."),
		sdk.Map("ports").Opt().Ex(`{"8000/tcp": dev-http}`).Description("Single entries, port/protocol to name, added last."),
	},
	Examples: []sdk.Example{
		{Title: "Built-in table", YAML: "{}\n"},
		{Title: "Prefixed tags, the system's services file and a local port", YAML: "tag_prefix: \"svc:\"\nservices_file: /etc/services\nports: {\"8000/tcp\": dev-http}\n"},
	},
}

// config is the plugin's config block.
type config struct {
	TagPrefix    string            `json:"tag_prefix"`
	Attr         string            `json:"attr"`
	ServicesFile string            `json:"services_file"`
	Ports        map[string]string `json:"ports"`
}

// tagger is the processor.
type tagger struct {
	cfg   config
	names table
	tags  map[string]string // name to tag, built once
}

func (t *tagger) Configure(raw []byte) error {
	var cfg config
	if err := sdk.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	names := table{}
	if err := parseServices(strings.NewReader(builtin), names); err != nil {
		return fmt.Errorf("built-in table: %w", err)
	}
	if cfg.ServicesFile != "" {
		f, err := os.Open(cfg.ServicesFile)
		if err != nil {
			return sdk.Errorf("services_file", fmt.Sprintf("cannot read %s: %v", cfg.ServicesFile, err))
		}
		defer f.Close()
		if err := parseServices(f, names); err != nil {
			return sdk.Errorf("services_file", fmt.Sprintf("%s: %v", cfg.ServicesFile, err))
		}
	}
	var errs sdk.FieldErrors
	for _, ps := range sortedKeys(cfg.Ports) {
		k, err := parseKey(ps)
		switch {
		case err != nil:
			errs = append(errs, sdk.Errorf("ports."+ps, err.Error()))
		case k.proto == 0:
			errs = append(errs, sdk.Errorf("ports."+ps, "the protocol must be tcp, udp or sctp"))
		default:
			names[k] = cfg.Ports[ps]
		}
	}
	if len(errs) > 0 {
		return errs
	}
	t.cfg, t.names, t.tags = cfg, names, map[string]string{}
	for _, name := range names {
		t.tags[name] = cfg.TagPrefix + name
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (t *tagger) Process(_ context.Context, b *event.Batch) ([]event.AlertRec, error) {
	for i := range b.Flows {
		f := &b.Flows[i]
		name, ok := t.names[key{f.Proto, f.Server.Port}]
		if !ok {
			continue
		}
		if tag := t.tags[name]; !slices.Contains(f.Tags, tag) {
			f.Tags = append(f.Tags, tag)
		}
		if t.cfg.Attr != "" {
			if f.Attrs == nil {
				f.Attrs = map[string]string{}
			}
			f.Attrs[t.cfg.Attr] = name
		}
	}
	return nil, nil
}

func main() {
	sdk.Serve(sdk.ServeOpts{Processor: &tagger{}, Spec: spec, Logger: sdk.Logger(slog.LevelInfo)})
}
