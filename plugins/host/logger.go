package host

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter hands go-plugin's log lines to a slog logger. go-plugin
// logs through it twice over: its own messages (starting, exited, …) on
// the unnamed logger, and every line the plugin writes to standard error
// on a logger named after the binary. JSON lines in hclog's form keep
// their level and attributes; a plain line arrives as a Debug call with
// no attributes and is logged at Info, so that what a plugin prints is
// seen by default.
type hclogAdapter struct {
	log  *slog.Logger
	name string // set on the logger of the plugin's standard error
	args []any
}

func newHCLogAdapter(l *slog.Logger) hclog.Logger { return &hclogAdapter{log: l} }

var _ hclog.Logger = (*hclogAdapter)(nil)

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	var lv slog.Level
	switch level {
	case hclog.Trace, hclog.Debug:
		lv = slog.LevelDebug
		if a.name != "" && len(args) == 0 && level == hclog.Debug {
			lv = slog.LevelInfo // a plain line of the plugin's stderr
		}
	case hclog.Warn:
		lv = slog.LevelWarn
	case hclog.Error:
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	if a.name == "" && lv < slog.LevelWarn {
		// go-plugin's own chatter (starting, handshake, exited) is for
		// debugging; the stage logs what matters itself.
		lv = slog.LevelDebug
	}
	l := a.log
	if a.name != "" {
		l = l.With("plugin", a.name)
	}
	all := append(append([]any{}, a.args...), tidy(args)...)
	l.Log(context.Background(), lv, strings.TrimRight(msg, "\n"), all...)
}

// tidy drops go-plugin's "timestamp" attribute (the line's own time;
// the host's record has one) and keeps pairs well-formed.
func tidy(args []any) []any {
	out := make([]any, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == "timestamp" {
			continue
		}
		out = append(out, args[i], args[i+1])
	}
	if len(args)%2 == 1 {
		out = append(out, "extra", args[len(args)-1])
	}
	return out
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

// The level is left to the slog handler: every line is handed over.
func (a *hclogAdapter) IsTrace() bool { return true }
func (a *hclogAdapter) IsDebug() bool { return true }
func (a *hclogAdapter) IsInfo() bool  { return true }
func (a *hclogAdapter) IsWarn() bool  { return true }
func (a *hclogAdapter) IsError() bool { return true }

func (a *hclogAdapter) ImpliedArgs() []any { return a.args }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.args = append(append([]any{}, a.args...), args...)
	return &c
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level { return hclog.Trace }

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		a.Info(string(p))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// lineWriter logs what a plugin writes to its standard output or error
// after the handshake: go-plugin's server carries those over its stdio
// stream, line by line at info.
type lineWriter struct {
	log     *slog.Logger
	partial []byte
}

func newLineWriter(l *slog.Logger, plugin, stream string) *lineWriter {
	return &lineWriter{log: l.With("plugin", plugin, "stream", stream)}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(w.partial[:i]), "\r"); line != "" {
			w.log.Info(line)
		}
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 64<<10 {
		// a very long line without a newline: log it in pieces
		w.log.Info(string(w.partial))
		w.partial = w.partial[:0]
	}
	return len(p), nil
}
