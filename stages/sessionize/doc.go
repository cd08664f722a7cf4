// Package sessionize implements the sessionize stage: it folds decoded
// packets into bidirectional flows with per-direction counters, TCP state,
// handshake RTT and end reasons, and emits flow updates and ends.
//
// The flow table is exported so that benchmarks and a fused
// capture-decode-sessionize worker can drive it without the engine:
// NewTable, then Add or AddBatch for packets, Expire to move packet time
// on, and Flush to end every flow; records come out through the callback
// given to NewTable.
package sessionize
