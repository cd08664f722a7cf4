package capture

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// inNetns runs fn with the calling OS thread moved into a network
// namespace: a name from `ip netns` or a path such as
// /proc/PID/ns/net. Sockets fn opens stay in that namespace for their
// whole life, and programs fn starts are born in it. With ns empty fn
// runs as is.
//
// fn runs on its own goroutine locked to its thread; if the thread
// cannot be moved back it is thrown away with the goroutine rather than
// returned to the scheduler in the wrong namespace.
func inNetns(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	path := ns
	if !strings.ContainsRune(ns, '/') {
		path = filepath.Join("/var/run/netns", ns)
	}
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace %q: %w", ns, err)
	}
	defer unix.Close(target)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open the current network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter network namespace %q: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread ends with this goroutine.
			done <- errors.Join(ferr, fmt.Errorf("leave network namespace %q: %w", ns, err))
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// defaultRouteInterface returns the interface of the IPv4 default route
// with the lowest metric, else that of the IPv6 one, as seen from the
// calling thread's network namespace.
func defaultRouteInterface() (string, error) {
	if dev := defaultRoute4("/proc/thread-self/net/route"); dev != "" {
		return dev, nil
	}
	if dev := defaultRoute6("/proc/thread-self/net/ipv6_route"); dev != "" {
		return dev, nil
	}
	return "", &ifaceError{msg: "no default route, so there is no default interface; give interface: a name (see nfpipe interfaces)"}
}

// defaultRoute4 reads /proc/net/route: Iface Destination Gateway Flags
// RefCnt Use Metric Mask ...
func defaultRoute4(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestMetric := "", int64(-1)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[1] != "00000000" || fl[7] != "00000000" {
			continue
		}
		flags, _ := strconv.ParseUint(fl[3], 16, 32)
		metric, _ := strconv.ParseInt(fl[6], 10, 64)
		if flags&unix.RTF_UP == 0 {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = fl[0], metric
		}
	}
	return best
}

// defaultRoute6 reads /proc/net/ipv6_route: dest destlen src srclen
// nexthop metric refcnt use flags device.
func defaultRoute6(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestMetric := "", uint64(0)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || strings.Trim(fl[0], "0") != "" || fl[1] != "00" || fl[9] == "lo" {
			continue
		}
		flags, _ := strconv.ParseUint(fl[8], 16, 32)
		metric, _ := strconv.ParseUint(fl[5], 16, 32)
		if flags&unix.RTF_UP == 0 || flags&unix.RTF_REJECT != 0 {
			continue
		}
		if best == "" || metric < bestMetric {
			best, bestMetric = fl[9], metric
		}
	}
	return best
}
