package pluginv1

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// This file is not generated: it holds what the host and the SDK must
// agree on besides the messages, so both take it from one place.

// ProtocolVersion is the go-plugin protocol version of this package. The
// host offers it in VersionedPlugins; a plugin built for another version
// fails the handshake with a message naming both.
const ProtocolVersion = 1

// PluginName is the key of the stage plugin in go-plugin's plugin set.
const PluginName = "stage"

// Handshake is the go-plugin handshake. The magic cookie only tells a
// plugin binary that it was started by nfpipe, so that running it by hand
// prints a helpful message instead of hanging: it is a UX feature, not a
// security feature. Integrity comes from the optional sha256 of the
// binary; confidentiality from AutoMTLS.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "NFPIPE_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "5b0b8f7c-nfpipe-stage-plugin",
}

// GRPCPlugin connects the Plugin service to go-plugin. The SDK sets
// Impl; the host leaves it nil and gets a PluginClient from Dispense.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the plugin's implementation (plugin side only).
	Impl PluginServer
}

// GRPCServer registers the service on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient returns the client the host dispenses.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewPluginClient(c), nil
}

// PluginSet is the plugin set served under ProtocolVersion.
func PluginSet(server PluginServer) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{Impl: server}}
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)
