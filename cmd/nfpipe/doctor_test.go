package main

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestDoctor runs every check: a busy port and a missing interface fail
// with their fix; a writable data directory passes.
func TestDoctor(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out bytes.Buffer
	err = runDoctor(&out, &doctorOptions{iface: "nft-nosuch0", dataDir: filepath.Join(t.TempDir(), "data"), listen: l.Addr().String(), geoip: filepath.Join(t.TempDir(), "none.mmdb")})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit code 1", err)
	}
	s := out.String()
	for _, want := range []string{
		"OK    kernel", "CAP_NET_RAW", "FAIL  interface", `no such interface "nft-nosuch0"`, "fix: pick one from nfpipe interfaces",
		"OK    data dir", "FAIL  listen port", "fix: stop what listens there", "WARN  geo database", "fix: make geoip", "libpcap",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

// TestInterfacesList lists the loopback interface with its details.
func TestInterfacesList(t *testing.T) {
	cmd := &cobra.Command{}
	var out bytes.Buffer
	cmd.SetOut(&out)
	if err := listInterfaces(cmd, "", false); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"NAME", "INDEX", "STATE", "MTU", "LINK TYPE", "ADDRESSES", "lo", "loopback (ethernet framing)", "127.0.0.1/8"} {
		if !strings.Contains(s, want) {
			t.Errorf("listing lacks %q:\n%s", want, s)
		}
	}
	t.Log("\n" + s)
}
