package capture

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseSpeed turns the speed setting into a replay factor: how many
// seconds of packet time pass per second of wall time. 0 means as fast as
// possible.
func parseSpeed(s string) (float64, error) {
	switch s {
	case "max":
		return 0, nil
	case "realtime":
		return 1, nil
	}
	num, ok := strings.CutSuffix(s, "x")
	if ok && num != "" && (num[0] >= '0' && num[0] <= '9' || num[0] == '.') {
		f, err := strconv.ParseFloat(num, 64)
		if err == nil && f > 0 && !math.IsInf(f, 0) {
			return f, nil
		}
		if err == nil && f == 0 {
			return 0, fmt.Errorf("invalid speed %q: the factor must be above 0; use max to read as fast as possible", s)
		}
	}
	return 0, fmt.Errorf("invalid speed %q; use max, realtime or a factor such as 10x or 0.5x", s)
}

// checkSpeed is the spec check of the speed field.
func checkSpeed(v any) error {
	_, err := parseSpeed(v.(string))
	return err
}
