// Command nfpipe runs network-traffic pipelines declared in YAML: capture,
// decode, sessionize, enrich, filter and deliver to sinks.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/nfpipe/nfpipe/pipeline/metrics"
	_ "github.com/nfpipe/nfpipe/sinks/all"
	_ "github.com/nfpipe/nfpipe/stages/all"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitConfig is the exit code for an invalid configuration (EX_CONFIG).
const exitConfig = 78

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	root, g := newRoot(os.Stdout, os.Stderr)
	if err := root.Execute(); err != nil {
		var ee *exitError
		code := 1
		if errors.As(err, &ee) {
			code = ee.code
		}
		switch {
		case err.Error() == "":
		case g.jsonLogs:
			slog.Error("nfpipe failed", "err", err.Error(), "exit_code", code)
		default:
			fmt.Fprintln(os.Stderr, "nfpipe:", err)
		}
		os.Exit(code)
	}
}

type globalFlags struct {
	debug     bool
	logFormat string
	// jsonLogs is set when the logger writes JSON: then what nfpipe run
	// reports besides its log (configuration errors, the summary) is
	// logged too, so that every line is JSON.
	jsonLogs bool
	// level is the log level, changed at run time: the old config.yaml's
	// web.debug turns debug on, a reload may turn it off again.
	level slog.LevelVar
}

// newRoot builds the command tree and returns it with the global flags,
// which say after Execute how the log was written.
func newRoot(stdout, stderr io.Writer) (*cobra.Command, *globalFlags) {
	g := &globalFlags{}
	metrics.Version = version
	root := &cobra.Command{
		Use:   "nfpipe",
		Short: "Network traffic monitor: a YAML pipeline from capture to flows, stats and alerts",
		Long: `nfpipe monitors network traffic with a pipeline declared in YAML: capture,
decode, sessionize, enrich and filter, into a live dashboard, a history
database, WebSocket and webhook sinks and JSON lines.

Run nfpipe run for the built-in demo, nfpipe run -i IFACE to capture live.
The old tool's command lines work as they were: nfpipe -i eth0 -p 8080 is
nfpipe run -i eth0 -p 8080, and -c takes its config/config.yaml.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			slog.SetDefault(newLogger(stderr, g))
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVar(&g.debug, "debug", false, "log at debug level")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format: auto (JSON when systemd sends the output to the journal, else text), text or json")
	root.AddCommand(newRunCmd(g), newValidateCmd(), newStagesCmd(), newVersionCmd(), newDocsCmd(),
		newInterfacesCmd(), newDoctorCmd(), newMigrateConfigCmd(), newTopCmd(), newFlowsCmd())
	addOldToolFlags(root, g)
	return root, g
}

func newLogger(w io.Writer, g *globalFlags) *slog.Logger {
	if g.debug {
		g.level.Set(slog.LevelDebug)
	}
	opts := &slog.HandlerOptions{Level: &g.level}
	format := g.logFormat
	if format == "auto" {
		format = "text"
		if f, ok := w.(*os.File); ok && !term.IsTerminal(int(f.Fd())) && toJournal(f) {
			format = "json"
		}
	}
	if format == "json" {
		g.jsonLogs = true
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// toJournal reports whether f is the stream systemd connected to the
// journal: systemd names it in JOURNAL_STREAM as device:inode, so a
// program started by the service with its output elsewhere is not
// mistaken for it.
func toJournal(f *os.File) bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	return dev == strconv.FormatUint(st.Dev, 10) && ino == strconv.FormatUint(st.Ino, 10)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "nfpipe %s\n", version)
		},
	}
}
