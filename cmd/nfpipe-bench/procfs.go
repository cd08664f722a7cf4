package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the user plus system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads the named kB fields (e.g. VmRSS, VmHWM) of
// /proc/self/status, in bytes; missing fields are zero.
func procStatus(names ...string) map[string]uint64 {
	out := make(map[string]uint64, len(names))
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if key == n {
				fields := strings.Fields(val)
				if len(fields) > 0 {
					kb, _ := strconv.ParseUint(fields[0], 10, 64)
					out[n] = kb * 1024
				}
			}
		}
	}
	return out
}
