// Package websocket is the websocket sink: a WebSocket server that
// streams the events it receives (flows, per-IP statistics, alerts) as
// JSON to any number of clients. Each client chooses the kinds it wants
// and may give an expression filter; each has a bounded queue, and a
// client that falls behind is disconnected and counted rather than ever
// slowing the pipeline.
package websocket
