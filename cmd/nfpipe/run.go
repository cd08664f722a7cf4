package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nfpipe/nfpipe/examples"
	"github.com/nfpipe/nfpipe/pipeline"
)

type runFlags struct {
	config string
}

func newRunCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	lo := &liveOptions{}
	cmd := &cobra.Command{
		Use:   "run [PIPELINE.yaml]",
		Short: "Run a pipeline (with no file: the built-in default pipeline)",
		Long: `Run a pipeline until its sources end (a capture file without loop) or a
signal arrives. SIGINT/SIGTERM stop the sources and drain: every open flow is
ended with reason "shutdown" and reaches the sinks before exit. A second
signal exits at once.

With no file, nfpipe runs its built-in default pipeline, which replays a
bundled sample capture in real time.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := f.config
			if len(args) == 1 {
				if path != "" && path != args[0] {
					return fmt.Errorf("give the pipeline either as an argument or with -c, not both")
				}
				path = args[0]
			}
			if lo.iface != "" {
				if path != "" {
					return fmt.Errorf("give either a pipeline file or -i, not both")
				}
				p, err := liveDefaultPipeline(*lo)
				if err != nil {
					return err
				}
				path = p
			}
			return runPipeline(cmd.Context(), cmd.ErrOrStderr(), path)
		},
	}
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "pipeline file (same as the argument)")
	addLiveFlags(cmd, lo)
	return cmd
}

func runPipeline(ctx context.Context, stderr io.Writer, path string) error {
	if path == "" {
		p, err := examples.Default()
		if err != nil {
			return err
		}
		slog.Info("running the built-in default pipeline", "file", p)
		path = p
	}
	p, errs := pipeline.Load(path, pipeline.WithLogger(slog.Default()))
	for _, w := range errs.Warnings() {
		slog.Warn(w.Error())
	}
	if f := errs.Fatal(); len(f) > 0 {
		printErrors(stderr, f)
		return &exitError{code: exitConfig, err: fmt.Errorf("%s: invalid pipeline", path)}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		slog.Info("stopping: draining the pipeline; send the signal again to exit at once", "signal", s.String())
		p.Stop()
		if _, ok := <-sigs; ok {
			slog.Warn("second signal: exiting without draining")
			os.Exit(130)
		}
	}()
	start := time.Now()
	err := p.Run(ctx)
	printSummary(stderr, p.Status(), time.Since(start))
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
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
