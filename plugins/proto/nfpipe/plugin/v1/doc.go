// Package pluginv1 is version 1 of the protocol between nfpipe and its
// out-of-process stage plugins: the messages and gRPC service generated
// from plugin.proto (never edit the .pb.go files; run make proto), plus
// the go-plugin handshake both sides share.
//
// Plugin authors in Go use the SDK (plugins/sdk) rather than this
// package; authors in other languages generate their own code from
// plugin.proto.
package pluginv1
