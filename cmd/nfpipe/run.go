package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/stages/capture"
)

// runOptions are the flags of nfpipe run. The root command takes them
// too, so the old tool's command lines (main.py -i eth0 -p 8080) work as
// nfpipe -i eth0 -p 8080.
type runOptions struct {
	config         string
	live           liveOptions
	host           string
	port           int
	checkDeps      bool
	listInterfaces bool
}

const runLong = `Run a pipeline until its sources end (a capture file without loop) or a
signal arrives.

The pipeline is PIPELINE.yaml (or -c FILE); with neither, the built-in default
pipeline, which replays a bundled sample capture in real time into the
dashboard at http://127.0.0.1:8080. -c also takes the old tool's
config/config.yaml (network:, web:, monitor:, geolocation:), converted as
nfpipe migrate-config prints it; its relative paths are resolved from the
working directory, as the old tool did.

The old tool's flags keep their meaning:
  -i IFACE      capture live on IFACE: with no file, the default pipeline
                capturing live; with a file, its one capture stage reads IFACE
                (an error if it has several)
  -p PORT       serve the dashboard on PORT
  --host HOST   serve the dashboard on HOST; a host other than loopback
                requires a login token: auth_token of the dashboard, else the
                one in NFPIPE_TOKEN, else a random one printed once at start
  --debug       log at debug level
  --check-deps  check this machine for live capture (as nfpipe doctor)
  --list-interfaces  list the interfaces (as nfpipe interfaces)
-p and --host move the dashboard of the default pipeline, or the one
dashboard sink of a pipeline file (an error if it has none or several).

Signals. SIGINT/SIGTERM stop the sources and drain: every open flow is ended
with reason "shutdown" and reaches the sinks before exit; a second signal
exits at once. SIGHUP (systemctl reload) reloads: the file is read and
checked again; with errors they are logged and the running pipeline goes on
unchanged; otherwise the running pipeline is drained like on SIGTERM (no flow
is lost) and the new one starts. A jsonl sink without append: true starts its
file afresh on reload, as on restart; live capture with user: (-Z) cannot
reopen its sockets after dropping privileges, so run under systemd's
AmbientCapabilities instead to reload.

Metrics. Prometheus metrics are served at /metrics on the dashboard, and on
the address of the pipeline's top-level metrics: block (metrics: {listen:
127.0.0.1:9464}) when there is one.`

func newRunCmd(g *globalFlags) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [PIPELINE.yaml]",
		Short: "Run a pipeline (with no file: the built-in default pipeline)",
		Long:  runLong,
		Example: `  nfpipe run                          # the built-in demo: dashboard at http://127.0.0.1:8080
  nfpipe run -i eth0 -p 8080          # capture eth0 live (as main.py -i eth0 -p 8080)
  nfpipe run -c config/config.yaml    # the old tool's settings
  nfpipe run /etc/nfpipe/pipeline.yaml`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWithOptions(cmd, args, o, g)
		},
	}
	addRunFlags(cmd, o)
	return cmd
}

// addRunFlags adds nfpipe run's flags, the old tool's among them.
func addRunFlags(cmd *cobra.Command, o *runOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "", "pipeline file, or the old tool's config.yaml (same as the argument)")
	addLiveFlags(cmd, &o.live)
	f.IntVarP(&o.port, "port", "p", 0, "serve the dashboard on this port (default: the pipeline's; 8080 in the built-in one)")
	f.StringVar(&o.host, "host", "", "serve the dashboard on this address (default: the pipeline's; 127.0.0.1 in the built-in one); off loopback a login token is required")
	f.BoolVar(&o.checkDeps, "check-deps", false, "check this machine for live capture and exit (same as nfpipe doctor)")
	f.BoolVar(&o.listInterfaces, "list-interfaces", false, "list the network interfaces and exit (same as nfpipe interfaces)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("interface", completeInterfaces)
}

// completeInterfaces offers the interface names to shell completion.
func completeInterfaces(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	names := []string{capture.DefaultInterface}
	if ifs, err := capture.ListInterfaces(""); err == nil {
		for _, i := range ifs {
			names = append(names, i.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// runWithOptions is nfpipe run (and nfpipe with the old tool's flags).
func runWithOptions(cmd *cobra.Command, args []string, o *runOptions, g *globalFlags) error {
	if o.listInterfaces {
		return listInterfaces(cmd, "", false)
	}
	src, err := o.source(cmd, args)
	if err != nil {
		return err
	}
	if o.checkDeps {
		return runDoctor(cmd.OutOrStdout(), o.doctorOptions(src))
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	sv := &supervisor{src: src, g: g, stderr: cmd.ErrOrStderr()}
	return sv.run(ctx)
}

// source turns the arguments and flags into a pipeline source.
func (o *runOptions) source(cmd *cobra.Command, args []string) (*pipelineSource, error) {
	path := o.config
	if len(args) == 1 {
		if path != "" && path != args[0] {
			return nil, errors.New("give the pipeline either as an argument or with -c, not both")
		}
		path = args[0]
	}
	if o.live.iface == "" {
		for _, name := range []string{"bpf", "user", "workers"} {
			if cmd.Flags().Changed(name) {
				return nil, fmt.Errorf("--%s applies to live capture: give -i IFACE too", name)
			}
		}
	}
	return &pipelineSource{
		path: path, live: o.live,
		host: o.host, port: o.port,
		hostSet: cmd.Flags().Changed("host"),
		portSet: cmd.Flags().Changed("port"),
	}, nil
}

// doctorOptions are what --check-deps checks: the interface, dashboard
// address and geo database the run would use, read from the old
// config.yaml when -c gives one.
func (o *runOptions) doctorOptions(src *pipelineSource) *doctorOptions {
	d := &doctorOptions{iface: capture.DefaultInterface, dataDir: "data", listen: "127.0.0.1:8080", geoip: oldDefaultGeoDB}
	if src.path != "" {
		if file, root, _ := src.readRoot(); root != nil && isOldLayout(root) {
			if old, errs := parseOldConfig(file, root); len(errs) == 0 {
				d.iface = orDefault(old.iface, d.iface)
				d.listen = old.listen()
				if old.geoEnabled {
					d.geoip = old.geoPath
				}
			}
		}
	}
	if o.live.iface != "" {
		d.iface = o.live.iface
	}
	host, port, _ := net.SplitHostPort(d.listen)
	if src.hostSet {
		host = src.host
	}
	if src.portSet {
		port = strconv.Itoa(src.port)
	}
	d.listen = net.JoinHostPort(host, port)
	return d
}

// printSummary writes one line per component: what went in and out, and
// everything that was dropped or failed.
func printSummary(w io.Writer, st pipeline.Status, elapsed time.Duration) {
	fmt.Fprintf(w, "\nnfpipe summary after %s:\n", elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tTYPE\tIN\tOUT\tDROPPED\tERRORS\tDETAILS")
	for _, c := range st.Components {
		details := ""
		for _, k := range pipeline.SortedKeys(c.Counters) {
			if v := c.Counters[k]; v > 0 {
				details += fmt.Sprintf("%s=%d ", k, v)
			}
		}
		if c.Health == pipeline.Unhealthy {
			details += "FAILED: " + c.HealthMsg
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.Name, c.Type, c.EventsIn, c.EventsOut, c.Dropped, c.Errors, details)
	}
	tw.Flush()
}
