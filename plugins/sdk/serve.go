package sdk

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// MaxMessageBytes bounds one gRPC message each way. The host sends at
// most max_batch records per request (1000 by default, a few hundred
// KiB), so this only matters for records with very large tags or attrs.
const MaxMessageBytes = 64 << 20

// ServeOpts is what a plugin's main hands to Serve.
type ServeOpts struct {
	// Processor handles the batches.
	Processor Processor
	// Spec describes the plugin.
	Spec Spec
	// Logger is where the plugin logs; nil is Logger(slog.LevelInfo).
	// nfpipe mirrors the plugin's standard error into its own log,
	// prefixed with the stage name.
	Logger *slog.Logger
}

// Serve runs the plugin until nfpipe stops it. It performs go-plugin's
// handshake (protocol version, magic cookie, gRPC with mutual TLS) and
// serves the processor. Started by hand instead of by nfpipe, it prints
// a message saying so and exits with status 1; with a broken spec it
// prints the problem and exits with status 1.
func Serve(opts ServeOpts) {
	if opts.Logger == nil {
		opts.Logger = Logger(slog.LevelInfo)
	}
	srv, err := NewServer(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nfpipe plugin: %v\n", err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: pluginv1.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			pluginv1.ProtocolVersion: pluginv1.PluginSet(srv),
		},
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			o = append(o, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
			return grpc.NewServer(o...)
		},
		// go-plugin's own messages, in the JSON form the host parses for
		// their level.
		Logger: hclog.New(&hclog.LoggerOptions{Name: opts.Spec.Name, Level: hclog.Info, Output: os.Stderr, JSONFormat: true}),
	})
}

// Logger returns a logger writing JSON lines to standard error in the
// form go-plugin reads (@level, @message, @timestamp), so that nfpipe
// logs each line at its level with its attributes.
func Logger(level slog.Level) *slog.Logger { return slog.New(newLogHandler(os.Stderr, level)) }

func newLogHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}
