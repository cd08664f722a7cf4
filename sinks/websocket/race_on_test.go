//go:build race

package websocket

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts of pooled code are meaningless under it.
const raceEnabled = true
