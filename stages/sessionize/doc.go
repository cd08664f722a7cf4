// Package sessionize implements the sessionize stage: it folds decoded
// packets into bidirectional flows with per-direction counters, TCP state,
// handshake RTT and end reasons, and emits flow updates and ends.
//
// The flow table (Table) is exported so benchmarks and a fused
// capture-decode-sessionize worker can drive it without the engine.
package sessionize
