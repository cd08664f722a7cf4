package store

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// DefaultRollups are the ip_stats bucket widths kept by default: minutes
// for the last hours, five minutes for days, hours for months.
var DefaultRollups = []time.Duration{time.Minute, 5 * time.Minute, time.Hour}

// BucketStart aligns t down to a multiple of width in packet time (Unix
// epoch based, so hourly buckets start on the hour in UTC).
func BucketStart(t event.Time, width time.Duration) int64 {
	w := int64(width)
	b := int64(t) / w * w
	if int64(t) < 0 && int64(t)%w != 0 {
		b -= w // floor, not truncation, for times before 1970
	}
	return b
}

// AppendRollups appends one increment per rollup width for an ipstat
// record: the record counts in the bucket holding its interval's start,
// so an interval is never split and every level sums to the same totals.
// Widths are expected in whole seconds.
func AppendRollups(dst []IPStat, probe string, widths []time.Duration, r *event.IPStatRec) []IPStat {
	ip := addrString(r.IP)
	geo := geoCols(r.Geo)
	for _, w := range widths {
		dst = append(dst, IPStat{
			Probe:      probe,
			Res:        int64(w / time.Second),
			Bucket:     BucketStart(r.Start, w),
			IP:         ip,
			BytesIn:    int64(r.BytesIn),
			BytesOut:   int64(r.BytesOut),
			PacketsIn:  int64(r.PacketsIn),
			PacketsOut: int64(r.PacketsOut),
			Flows:      int64(r.Flows),
			Peers:      int64(r.Peers),
			DstPorts:   int64(r.DstPorts),
			Intervals:  1,
			Geo:        geo,
		})
	}
	return dst
}

// TableName is the retention key of an ip_stats level: "ip_stats_1m",
// "ip_stats_5m", "ip_stats_1h", "ip_stats_1d", "ip_stats_30s".
func TableName(width time.Duration) string {
	return "ip_stats_" + shortDuration(width)
}

// shortDuration renders a whole number of days, hours, minutes or seconds
// with one unit.
func shortDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// CheckRollups validates rollup widths: whole seconds, positive, distinct,
// and each a multiple of the previous one so coarser buckets are unions
// of finer ones. It returns them sorted.
func CheckRollups(widths []time.Duration) ([]time.Duration, error) {
	out := append([]time.Duration(nil), widths...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	for i, w := range out {
		if w < time.Second || w%time.Second != 0 {
			return nil, fmt.Errorf("rollup width %v must be a positive whole number of seconds, e.g. 1m", w)
		}
		if i > 0 && w == out[i-1] {
			return nil, fmt.Errorf("rollup width %v is given twice", w)
		}
		if i > 0 && w%out[i-1] != 0 {
			return nil, fmt.Errorf("rollup width %v is not a multiple of %v; use e.g. 1m, 5m, 1h", w, out[i-1])
		}
	}
	return out, nil
}

// ParseRollupKey reads the width out of a retention key such as
// "ip_stats_5m".
func ParseRollupKey(key string) (time.Duration, bool) {
	s, ok := strings.CutPrefix(key, "ip_stats_")
	if !ok || s == "" {
		return 0, false
	}
	n := 0
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 0 || i != len(s)-1 || n == 0 {
		return 0, false
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[i]]
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}
