// Package sdk is how a plugin for nfpipe is written in Go: implement
// Processor over typed events (package pipeline/event), describe the
// plugin with a Spec, and call Serve from main. The SDK hides go-plugin's
// handshake, the protocol version and gRPC.
//
//	func main() {
//		sdk.Serve(sdk.ServeOpts{Processor: &tagger{}, Spec: spec})
//	}
//
// Counters declared in the spec's Metrics are incremented from Process
// through CountersFrom(ctx).Add; nfpipe reports them with the stage's own
// counters, as plugin.NAME.
//
// nfpipe runs the program as a stage of `type: plugin`. See README.md
// beside this file for building, running, testing and for writing a
// plugin in another language.
//
// The SDK imports nothing of nfpipe but the event model, the protocol and
// the codec between them, so it can become a module of its own.
package sdk
