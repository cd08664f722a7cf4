package capture

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Capabilities live capture uses.
const (
	capNetAdmin = unix.CAP_NET_ADMIN
	capNetRaw   = unix.CAP_NET_RAW
)

// capSets reads the calling thread's effective and permitted capability
// sets (the process's, as nfpipe never changes them per thread).
func capSets() (effective, permitted uint64, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, 0, err
	}
	effective = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	permitted = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	return effective, permitted, nil
}

// HasCapability reports whether the process has the capability (such as
// unix.CAP_NET_RAW) in its effective set.
func HasCapability(c int) bool {
	eff, _, err := capSets()
	return err == nil && eff&(1<<uint(c)) != 0
}

// ambientCaps are the capture capabilities a child such as tcpdump must
// inherit when nfpipe runs as an ordinary user given file capabilities.
func ambientCaps() []uintptr {
	if os.Geteuid() == 0 {
		return nil
	}
	_, perm, err := capSets()
	if err != nil {
		return nil
	}
	var caps []uintptr
	for _, c := range []int{capNetRaw, capNetAdmin} {
		if perm&(1<<uint(c)) != 0 {
			caps = append(caps, uintptr(c))
		}
	}
	return caps
}

// SetcapFix is the one command that lets an ordinary user run live
// capture with this binary.
func SetcapFix() string {
	exe := "$(command -v nfpipe)"
	if p, err := os.Executable(); err == nil && filepath.Base(p) == "nfpipe" {
		exe = p
	}
	return "sudo setcap cap_net_raw,cap_net_admin=eip " + exe
}

// errPermission marks a capture that failed for lack of privileges.
var errPermission = errors.New("permission denied")

// permissionError is the message for a capture without CAP_NET_RAW.
func permissionError(iface string) error {
	return fmt.Errorf("%w: capturing on %s needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); run as root, or grant them once with: %s",
		errPermission, iface, SetcapFix())
}

// isPermission reports whether a system error means missing privileges.
func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, errPermission)
}

// privGate switches the process to the user: account once every live
// capture built in it has opened its sockets (or failed to), so no
// capture is left without the privileges it needs to start.
var privGate struct {
	mu      sync.Mutex
	pending int
	user    string
	dropped bool
}

// gateAdd records a live capture that has yet to open its sockets.
func gateAdd(user string) {
	privGate.mu.Lock()
	defer privGate.mu.Unlock()
	privGate.pending++
	if user != "" {
		privGate.user = user
	}
}

// gateDone records that one live capture is open (or will never open)
// and switches user when it was the last. It returns the switch's error
// to the capture that triggered it.
func gateDone() (switched string, err error) {
	privGate.mu.Lock()
	defer privGate.mu.Unlock()
	privGate.pending--
	if privGate.pending > 0 || privGate.user == "" || privGate.dropped {
		return "", nil
	}
	privGate.dropped = true
	return privGate.user, dropPrivileges(privGate.user)
}

// privilegesDropped reports whether the process switched user.
func privilegesDropped() bool {
	privGate.mu.Lock()
	defer privGate.mu.Unlock()
	return privGate.dropped
}

// dropPrivileges switches every thread of the process to the user and
// its primary group, with no supplementary groups, which also clears
// every capability. Open sockets stay usable.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		if id, perr := strconv.Atoi(name); perr == nil {
			u, err = user.LookupId(strconv.Itoa(id))
		}
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	// The syscall package applies these to every thread of the process.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("switch to user %q: drop supplementary groups: %w", name, err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("switch to user %q: set group %d: %w", name, gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("switch to user %q: set user %d: %w", name, uid, err)
	}
	return nil
}
