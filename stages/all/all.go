// Package all imports every built-in stage so that it registers itself.
// Adding a stage means adding one line here.
package all

import (
	_ "github.com/nfpipe/nfpipe/stages/capture"
	_ "github.com/nfpipe/nfpipe/stages/decode"
	_ "github.com/nfpipe/nfpipe/stages/filter"
	_ "github.com/nfpipe/nfpipe/stages/geoip"
	_ "github.com/nfpipe/nfpipe/stages/ipstats"
	_ "github.com/nfpipe/nfpipe/stages/plugin"
	_ "github.com/nfpipe/nfpipe/stages/sessionize"
)
