// Package codec converts between nfpipe's event records (pipeline/event)
// and the messages of the plugin protocol (plugins/proto/nfpipe/plugin/v1).
// The host and the SDK both use it, so the two sides cannot disagree on
// the mapping. It imports nothing of nfpipe but those two packages.
package codec
