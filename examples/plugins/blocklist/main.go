// Command blocklist is an nfpipe plugin that checks both ends of every
// flow against lists of addresses and CIDR prefixes: a flow touching a
// listed address is tagged and raises an alert. The lists are read again
// when their files change.
//
// Build it with make plugins (into bin/plugins/blocklist) and use it as a
// stage of type plugin; see examples/plugin.yaml.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

var spec = sdk.Spec{
	Name:         "blocklist",
	Summary:      "Tags flows that touch a listed address or CIDR prefix and raises an alert for each.",
	Version:      "1.0.0",
	Stability:    "beta",
	Accepts:      []event.Kind{event.Flow},
	RaisesAlerts: true,
	Description: `
Each list file holds one address or CIDR prefix per line (IPv4 or IPv6; '#'
starts a comment). A flow whose client or server address is in a listed
prefix gets the tag and the attribute blocklist (the matching prefix), and
raises one alert per flow record: rule and severity as configured, subject
"client → server", the matching address, prefix and list in the message and
labels, dedupe_key "RULE/ADDRESS", the flow attached. When both ends are
listed, the server's match is reported. The most specific prefix wins.

The lists are checked for changes (modification time and size) at most
every reload_interval, before a batch; changed lists are read again. A list
that cannot be read or parsed then is logged and the previous lists stay in
force. Paths are relative to the pipeline file's directory.

The counters matches, reloads and reload_errors appear in nfpipe's status
and metrics as plugin.matches and so on, next to the stage's own.`,
	Fields: []*sdk.Field{
		sdk.List("lists").Ex("[blocklist.txt]").Description("Files of addresses and CIDR prefixes, one per line."),
		sdk.String("tag").Default("blocklisted").Description("Tag added to matching flows."),
		sdk.String("rule").Default("blocklist").Description("Rule name of the alerts."),
		sdk.Enum("severity", "info", "warning", "critical").Default("warning").Description("Severity of the alerts."),
		sdk.Duration("reload_interval").Default("5s").Description("How often the list files are checked for changes; 0 checks before every batch."),
	},
	Examples: []sdk.Example{
		{Title: "One list, checked every 10 seconds", YAML: "lists: [plugins/blocklist/example.list]\nreload_interval: 10s\n"},
	},
	Metrics: []sdk.Metric{
		{Name: "matches", Doc: "flow records with a listed client or server address (one alert each)"},
		{Name: "reloads", Doc: "times the lists changed and were read again (also logged at info with the number of prefixes)"},
		{Name: "reload_errors", Doc: "attempts to read changed lists that failed (one per reload_interval while a list stays broken); the previous lists stay in force"},
	},
}

// config is the plugin's config block.
type config struct {
	Lists          []string      `json:"lists"`
	Tag            string        `json:"tag"`
	Rule           string        `json:"rule"`
	Severity       string        `json:"severity"`
	ReloadInterval time.Duration `json:"reload_interval"`
}

// blocklist is the processor.
type blocklist struct {
	log       *slog.Logger
	cfg       config
	set       *set
	stamps    []stamp
	lastCheck time.Time
}

func (b *blocklist) Configure(raw []byte) error {
	var cfg config
	if err := sdk.DecodeConfig(raw, &cfg); err != nil {
		return err
	}
	if len(cfg.Lists) == 0 {
		return sdk.Errorf("lists", "no list files; give at least one, e.g. [blocklist.txt]")
	}
	s, stamps, err := loadLists(cfg.Lists)
	if err != nil {
		var le *listError
		if errors.As(err, &le) {
			return sdk.Errorf("lists["+strconv.Itoa(le.index)+"]", le.msg)
		}
		return err
	}
	b.cfg, b.set, b.stamps, b.lastCheck = cfg, s, stamps, time.Now()
	b.log.Debug("lists loaded", "prefixes", s.n, "lists", len(cfg.Lists))
	return nil
}

// reload reads the lists again if they changed; on error the old ones
// stay.
func (b *blocklist) reload(counters *sdk.Counters) {
	if time.Since(b.lastCheck) < b.cfg.ReloadInterval {
		return
	}
	b.lastCheck = time.Now()
	if !changed(b.cfg.Lists, b.stamps) {
		return
	}
	s, stamps, err := loadLists(b.cfg.Lists)
	if err != nil {
		b.log.Warn("lists changed but cannot be loaded; keeping the previous ones", "err", err)
		counters.Add("reload_errors", 1)
		return
	}
	b.set, b.stamps = s, stamps
	b.log.Info("lists reloaded", "prefixes", s.n)
	counters.Add("reloads", 1)
}

func (b *blocklist) Process(ctx context.Context, batch *event.Batch) ([]event.AlertRec, error) {
	counters := sdk.CountersFrom(ctx)
	b.reload(counters)
	var alerts []event.AlertRec
	for i := range batch.Flows {
		f := &batch.Flows[i]
		ip, e, ok := f.Server.IP, entry{}, false
		if e, ok = b.set.lookup(ip); !ok {
			ip = f.Client.IP
			if e, ok = b.set.lookup(ip); !ok {
				continue
			}
		}
		if !slices.Contains(f.Tags, b.cfg.Tag) {
			f.Tags = append(f.Tags, b.cfg.Tag)
		}
		if f.Attrs == nil {
			f.Attrs = map[string]string{}
		}
		f.Attrs["blocklist"] = e.prefix.String()
		alerts = append(alerts, b.alert(f, ip.Unmap(), e))
	}
	counters.Add("matches", uint64(len(alerts)))
	return alerts, nil
}

func (b *blocklist) alert(f *event.FlowRec, ip netip.Addr, e entry) event.AlertRec {
	flow := *f
	flow.Tags = slices.Clone(f.Tags)
	flow.Attrs = maps.Clone(f.Attrs)
	kind := "update"
	if f.Event == event.FlowEnd {
		kind = "end"
	}
	return event.AlertRec{
		ID:       fmt.Sprintf("%s-%s-%s", b.cfg.Rule, event.FlowID(f.ID), kind),
		Rule:     b.cfg.Rule,
		Severity: event.Severity(b.cfg.Severity),
		Time:     f.LastSeen,
		State:    event.AlertFiring,
		Subject:  endpoint(f.Client) + " → " + endpoint(f.Server),
		Message:  fmt.Sprintf("%s is in %s (%s line %d)", ip, e.prefix, e.list, e.line),
		DedupKey: b.cfg.Rule + "/" + ip.String(),
		Flow:     &flow,
		Labels:   map[string]string{"address": ip.String(), "prefix": e.prefix.String(), "list": e.list},
	}
}

func endpoint(e event.Endpoint) string {
	return netip.AddrPortFrom(e.IP.Unmap(), e.Port).String()
}

func main() {
	log := sdk.Logger(slog.LevelInfo)
	sdk.Serve(sdk.ServeOpts{Processor: &blocklist{log: log}, Spec: spec, Logger: log})
}
