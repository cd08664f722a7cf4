// Package plugin is the plugin stage: it runs an out-of-process stage
// built with the plugin SDK (plugins/sdk) or speaking the nfpipe.plugin.v1
// gRPC protocol, supervises it and streams batches through it. The engine
// sees an ordinary stage.
package plugin
