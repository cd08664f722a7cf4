// Package all imports every built-in sink so that it registers itself.
// Adding a sink means adding one line here.
package all

import (
	_ "github.com/nfpipe/nfpipe/sinks/dashboard"
	_ "github.com/nfpipe/nfpipe/sinks/discard"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	_ "github.com/nfpipe/nfpipe/sinks/sqlite"
	_ "github.com/nfpipe/nfpipe/sinks/webhook"
	_ "github.com/nfpipe/nfpipe/sinks/websocket"
)
