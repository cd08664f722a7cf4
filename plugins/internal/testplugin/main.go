// Command testplugin is a plugin for nfpipe's own tests and benchmarks:
// it passes batches through, optionally tags flows, counts the flows it
// processed (counter flows), and misbehaves on request (fails batches,
// stops answering, exits).
//
// With the environment variable NFPIPE_TESTPLUGIN_EXTRA_METRIC set to a
// name when it starts, it also declares that counter and adds 1 to it per
// batch: a plugin started with the variable set after nfpipe described it
// without stands for a program replaced by one with other counters.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/nfpipe/nfpipe/pipeline/event"
	"github.com/nfpipe/nfpipe/plugins/sdk"
)

var spec = sdk.Spec{
	Name:         "testplugin",
	Summary:      "Passes batches through; tags flows and misbehaves on request, for tests.",
	Accepts:      []event.Kind{event.Flow, event.IPStat, event.Alert, event.Packet},
	RaisesAlerts: true,
	Fields: []*sdk.Field{
		sdk.String("tag").Default(`""`).Description("Tag added to every flow; empty adds none."),
		sdk.Int("fail_every").Default("0").Min(0).Description("Answer every Nth batch with an error; 0 never."),
		sdk.Int("hang_after").Default("0").Min(0).Description("Stop answering after N batches; 0 never."),
		sdk.Int("exit_after").Default("0").Min(0).Description("Exit with status 3 on batch N+1; 0 never."),
		sdk.Int("alert_port").Default("0").Min(0).Description("Raise an alert for each flow to this server port; 0 none."),
		sdk.String("pid_file").Opt().Description("Write the process id here when configured."),
		sdk.String("say").Opt().Description("Print this line on standard error when configured."),
	},
	Metrics: []sdk.Metric{
		{Name: "flows", Doc: "flows in the batches processed without error"},
	},
}

// extraMetric is the variable naming a counter to declare besides flows.
const extraMetric = "NFPIPE_TESTPLUGIN_EXTRA_METRIC"

type config struct {
	Tag       string `json:"tag"`
	FailEvery int    `json:"fail_every"`
	HangAfter int    `json:"hang_after"`
	ExitAfter int    `json:"exit_after"`
	AlertPort uint16 `json:"alert_port"`
	PIDFile   string `json:"pid_file"`
	Say       string `json:"say"`
}

type proc struct {
	cfg     config
	batches int
}

func (p *proc) Configure(raw []byte) error {
	if err := sdk.DecodeConfig(raw, &p.cfg); err != nil {
		return err
	}
	if p.cfg.PIDFile != "" {
		if err := os.WriteFile(p.cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return sdk.Errorf("pid_file", err.Error())
		}
	}
	if p.cfg.Say != "" {
		fmt.Fprintln(os.Stderr, p.cfg.Say)
	}
	return nil
}

func (p *proc) Process(ctx context.Context, b *event.Batch) ([]event.AlertRec, error) {
	p.batches++
	if p.cfg.ExitAfter > 0 && p.batches > p.cfg.ExitAfter {
		os.Exit(3)
	}
	if p.cfg.HangAfter > 0 && p.batches > p.cfg.HangAfter {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if p.cfg.FailEvery > 0 && p.batches%p.cfg.FailEvery == 0 {
		return nil, fmt.Errorf("batch %d fails on purpose", p.batches)
	}
	counters := sdk.CountersFrom(ctx)
	if name := os.Getenv(extraMetric); name != "" {
		counters.Add(name, 1)
	}
	counters.Add("flows", uint64(len(b.Flows)))
	var alerts []event.AlertRec
	for i := range b.Flows {
		f := &b.Flows[i]
		if p.cfg.Tag != "" {
			f.Tags = append(f.Tags, p.cfg.Tag)
		}
		if p.cfg.AlertPort != 0 && f.Server.Port == p.cfg.AlertPort {
			alerts = append(alerts, event.AlertRec{ID: event.FlowID(f.ID), Rule: "port", Severity: "info", State: event.AlertFiring, Time: f.LastSeen})
		}
	}
	return alerts, nil
}

func main() {
	if name := os.Getenv(extraMetric); name != "" {
		spec.Metrics = append(spec.Metrics, sdk.Metric{Name: name, Doc: "one per batch"})
	}
	sdk.Serve(sdk.ServeOpts{Processor: &proc{}, Spec: spec})
}
