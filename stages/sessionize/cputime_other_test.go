//go:build !linux

package sessionize

import "time"

// threadTime is not measured on this platform; benchmarks then report
// wall time only.
func threadTime() time.Duration { return 0 }
