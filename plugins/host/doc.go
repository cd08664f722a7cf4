// Package host runs nfpipe plugins: it starts a plugin program with
// go-plugin (gRPC only, AutoMTLS, managed clients, the versioned
// handshake of pluginv1), mirrors its standard error into a slog logger,
// makes the protocol's calls with the caller's context, keeps several
// batches in flight on one Process stream, and restarts a plugin that
// died (Supervisor). It knows nothing of pipelines: the plugin stage
// (stages/plugin) adapts it to the engine.
package host
