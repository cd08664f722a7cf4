package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginv1 "github.com/nfpipe/nfpipe/plugins/proto/nfpipe/plugin/v1"
)

// MaxMessageBytes bounds one gRPC message each way; see sdk.MaxMessageBytes.
const MaxMessageBytes = 64 << 20

// Config says how to start a plugin process.
type Config struct {
	// Command is the program and its arguments; the program is an
	// absolute path or one that exec.LookPath finds.
	Command []string
	// Dir is the process's working directory; empty is the host's.
	Dir string
	// SHA256 is the expected checksum of the program file; nil skips
	// the check.
	SHA256 []byte
	// Logger receives the plugin's standard error, line by line, and
	// go-plugin's own messages.
	Logger *slog.Logger
	// StartTimeout bounds the handshake; zero is one minute.
	StartTimeout time.Duration
}

// Plugin is one running plugin process and its gRPC client.
type Plugin struct {
	client *plugin.Client
	rpc    pluginv1.PluginClient
	pid    int
	killed sync.Once
}

// live counts the plugin processes of this host that are not killed yet:
// go-plugin keeps every managed client in a global list that only
// CleanupClients empties, so it is called whenever the count drops to
// zero (all of ours are dead by then, so nothing running is touched).
var (
	liveMu sync.Mutex
	live   int
)

// Start starts the plugin process and performs the handshake. It honours
// ctx while waiting for the process: a cancelled ctx kills it.
func Start(ctx context.Context, cfg Config) (*Plugin, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("no command")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Dir = cfg.Dir
	var secure *plugin.SecureConfig
	if cfg.SHA256 != nil {
		secure = &plugin.SecureConfig{Checksum: cfg.SHA256, Hash: sha256.New()}
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	liveMu.Lock()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: pluginv1.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			pluginv1.ProtocolVersion: pluginv1.PluginSet(nil),
		},
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		StartTimeout:     timeout,
		Logger:           newHCLogAdapter(log),
		// Lines written to standard error before the handshake (and by
		// loggers holding the original descriptor) reach the log through
		// Logger; the raw copy is not wanted. After the handshake go-plugin
		// carries standard output and error over gRPC to SyncStdout and
		// SyncStderr.
		Stderr:     io.Discard,
		SyncStdout: newLineWriter(log, filepath.Base(cfg.Command[0]), "stdout"),
		SyncStderr: newLineWriter(log, filepath.Base(cfg.Command[0]), "stderr"),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))},
	})
	live++
	liveMu.Unlock()
	p := &Plugin{client: client}

	type result struct {
		rpc pluginv1.PluginClient
		err error
	}
	done := make(chan result, 1)
	go func() {
		rpc, err := dispense(client)
		done <- result{rpc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			p.Kill()
			return nil, r.err
		}
		p.rpc = r.rpc
	case <-ctx.Done():
		// Kill only once the start attempt is over: killing a client
		// that has not started its process yet would not stop it.
		go func() {
			<-done
			p.Kill()
		}()
		return nil, ctx.Err()
	}
	if rc := client.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}
	return p, nil
}

func dispense(client *plugin.Client) (pluginv1.PluginClient, error) {
	proto, err := client.Client()
	if err != nil {
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, errors.New("the program's sha256 checksum does not match sha256:; rebuild it or update the checksum")
		}
		return nil, fmt.Errorf("start: %w", err)
	}
	raw, err := proto.Dispense(pluginv1.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense: %w", err)
	}
	rpc, ok := raw.(pluginv1.PluginClient)
	if !ok {
		return nil, fmt.Errorf("dispense: unexpected %T", raw)
	}
	return rpc, nil
}

// Kill stops the process (gracefully, then by force) and forgets it. Safe
// to call more than once and on a process that already exited.
func (p *Plugin) Kill() {
	p.killed.Do(func() {
		p.client.Kill()
		liveMu.Lock()
		defer liveMu.Unlock()
		live--
		if live == 0 {
			plugin.CleanupClients()
		}
	})
}

// Exited reports whether the process has exited.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Pid is the process id.
func (p *Plugin) Pid() int { return p.pid }

// NegotiatedVersion is the protocol version agreed in the handshake.
func (p *Plugin) NegotiatedVersion() int { return p.client.NegotiatedVersion() }

// Describe asks for the plugin's spec.
func (p *Plugin) Describe(ctx context.Context) (*pluginv1.Spec, error) {
	resp, err := p.rpc.Describe(ctx, &pluginv1.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	if resp.GetSpec() == nil {
		return nil, errors.New("describe: the plugin sent no spec")
	}
	return resp.GetSpec(), nil
}

// Validate asks the plugin to check a config block (JSON). The field
// errors are the plugin's verdict; err means the call failed.
func (p *Plugin) Validate(ctx context.Context, configJSON []byte) ([]*pluginv1.FieldError, error) {
	resp, err := p.rpc.Validate(ctx, &pluginv1.ConfigRequest{ConfigJson: configJSON})
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return resp.GetErrors(), nil
}

// Configure asks the plugin to apply a config block (JSON).
func (p *Plugin) Configure(ctx context.Context, configJSON []byte) ([]*pluginv1.FieldError, error) {
	resp, err := p.rpc.Configure(ctx, &pluginv1.ConfigRequest{ConfigJson: configJSON})
	if err != nil {
		return nil, fmt.Errorf("configure: %w", err)
	}
	return resp.GetErrors(), nil
}

// Process opens the batch stream; it lives as long as ctx.
func (p *Plugin) Process(ctx context.Context) (pluginv1.Plugin_ProcessClient, error) {
	s, err := p.rpc.Process(ctx)
	if err != nil {
		return nil, fmt.Errorf("open process stream: %w", err)
	}
	return s, nil
}
