package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// installSh runs install.sh with the test binary and the given
// variables; it fails the test if the script fails.
func installSh(t *testing.T, action string, vars ...string) string {
	t.Helper()
	script, _ := filepath.Abs("../../install.sh")
	cmd := exec.Command("sh", script, action)
	cmd.Env = append(append(os.Environ(), "BINARY="+nfpipeBin, "PREFIX=", "PURGE=", "UNITDIR=", "SYSUSERSDIR=", "TMPFILESDIR="), vars...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install.sh %s %v: %v\n%s", action, vars, err, out)
	}
	return string(out)
}

// snapshot lists every file and directory under root with its mode and,
// for files, a hash of the content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		info, _ := d.Info()
		v := info.Mode().String()
		if info.Mode().IsRegular() {
			data, _ := os.ReadFile(path)
			v += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		out["/"+rel] = v
		return nil
	})
	return out
}

// TestInstallScript installs into a DESTDIR and checks every file and
// its mode, that a second run changes nothing, that the operator's
// pipeline survives reinstalling and uninstalling, and that PURGE=1
// removes everything.
func TestInstallScript(t *testing.T) {
	user := func() string { out, _ := exec.Command("getent", "passwd", "nfpipe").Output(); return string(out) }
	userBefore := user()
	d := t.TempDir()
	out := installSh(t, "install", "DESTDIR="+d)
	for path, mode := range map[string]string{
		"/usr/local/bin/nfpipe":                                  "-rwxr-xr-x",
		"/usr/local/lib/systemd/system/nfpipe.service":           "-rw-r--r--",
		"/usr/local/lib/sysusers.d/nfpipe.conf":                  "-rw-r--r--",
		"/usr/local/lib/tmpfiles.d/nfpipe.conf":                  "-rw-r--r--",
		"/usr/local/share/bash-completion/completions/nfpipe":    "-rw-r--r--",
		"/usr/local/share/zsh/site-functions/_nfpipe":            "-rw-r--r--",
		"/usr/local/share/fish/vendor_completions.d/nfpipe.fish": "-rw-r--r--",
		"/etc/nfpipe":               "drwxr-xr-x",
		"/etc/nfpipe/pipeline.yaml": "-rw-r--r--",
		"/etc/nfpipe/nfpipe.env":    "-rw-------",
		"/var/lib/nfpipe":           "drwxr-x---",
	} {
		st, err := os.Stat(d + path)
		if err != nil {
			t.Errorf("%s not installed: %v\n%s", path, err, out)
			continue
		}
		if st.Mode().String() != mode {
			t.Errorf("%s: mode %s, want %s", path, st.Mode(), mode)
		}
	}
	same := func(a, b string) bool {
		x, _ := os.ReadFile(a)
		y, _ := os.ReadFile(b)
		return len(x) > 0 && string(x) == string(y)
	}
	if !same(d+"/usr/local/bin/nfpipe", nfpipeBin) || !same(d+"/etc/nfpipe/pipeline.yaml", "../../examples/systemd/pipeline.yaml") {
		t.Error("installed files differ from their sources")
	}
	unit, _ := os.ReadFile(d + "/usr/local/lib/systemd/system/nfpipe.service")
	if !strings.Contains(string(unit), "\nExecStart=/usr/local/bin/nfpipe run /etc/nfpipe/pipeline.yaml\n") {
		t.Errorf("ExecStart:\n%s", unit)
	}
	if r := nfpipe(t, nil, "validate", "--no-environment", d+"/etc/nfpipe/pipeline.yaml"); r.code != 0 {
		t.Errorf("the installed pipeline does not validate: %s", r.stderr)
	}

	// Idempotent: nothing to do the second time.
	before := snapshot(t, d)
	if out := installSh(t, "install", "DESTDIR="+d); strings.Contains(out, "installed") {
		t.Errorf("second install changed files:\n%s", out)
	}
	if after := snapshot(t, d); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("second install changed the tree:\n%v\n%v", before, after)
	}
	// The operator's pipeline is kept on reinstall.
	mine := "# mine\n" + string(must(os.ReadFile(d+"/etc/nfpipe/pipeline.yaml")))
	os.WriteFile(d+"/etc/nfpipe/pipeline.yaml", []byte(mine), 0o644)
	if out := installSh(t, "install", "DESTDIR="+d); !strings.Contains(out, "kept "+d+"/etc/nfpipe/pipeline.yaml") {
		t.Errorf("reinstall over a changed pipeline:\n%s", out)
	}
	if got := string(must(os.ReadFile(d + "/etc/nfpipe/pipeline.yaml"))); got != mine {
		t.Error("reinstall overwrote the operator's pipeline")
	}

	// Uninstall keeps the data and the changed pipeline, and is
	// idempotent too; PURGE=1 removes them.
	os.WriteFile(d+"/var/lib/nfpipe/nfpipe.db", []byte("data"), 0o640)
	installSh(t, "uninstall", "DESTDIR="+d)
	installSh(t, "uninstall", "DESTDIR="+d)
	var files []string
	for path, v := range snapshot(t, d) {
		if !strings.HasPrefix(v, "d") {
			files = append(files, path)
		}
	}
	sort.Strings(files)
	if want := []string{"/etc/nfpipe/pipeline.yaml", "/var/lib/nfpipe/nfpipe.db"}; fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("after uninstall: %v, want %v", files, want)
	}
	installSh(t, "uninstall", "DESTDIR="+d, "PURGE=1")
	for _, p := range []string{"/etc/nfpipe", "/var/lib/nfpipe"} {
		if _, err := os.Stat(d + p); err == nil {
			t.Errorf("PURGE=1 left %s", p)
		}
	}
	if user() != userBefore {
		t.Error("a DESTDIR install changed the users of this machine")
	}

	// Another prefix moves the binary, and ExecStart with it.
	d = t.TempDir()
	installSh(t, "install", "DESTDIR="+d, "PREFIX=/usr")
	unit, err := os.ReadFile(d + "/usr/lib/systemd/system/nfpipe.service")
	if err != nil || !strings.Contains(string(unit), "\nExecStart=/usr/bin/nfpipe run ") {
		t.Errorf("PREFIX=/usr: %v\n%s", err, unit)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// unitRoot installs into a DESTDIR and adds what systemd-analyze
// --root needs from this machine: its own units (the targets the unit
// depends on) and /bin/kill, which ExecReload runs.
func unitRoot(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	installSh(t, "install", "DESTDIR="+d)
	os.MkdirAll(d+"/usr/lib/systemd", 0o755)
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", d+"/usr/lib/systemd/").CombinedOutput(); err != nil {
		t.Fatalf("copy the system units: %v %s", err, out)
	}
	kill, err := os.ReadFile("/bin/kill")
	if err != nil {
		t.Skip("needs /bin/kill (apt-get install procps)")
	}
	os.MkdirAll(d+"/usr/bin", 0o755)
	os.WriteFile(d+"/usr/bin/kill", kill, 0o755)
	os.Symlink("usr/bin", d+"/bin")
	return d
}

// unitSettings reads the key=value lines of a unit file.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestServiceUnit checks the installed unit with systemd-analyze verify
// (any finding fails, warnings included; a broken copy shows the check
// can fail), its hardening settings one by one, its exposure with
// systemd-analyze security, and the sysusers.d and tmpfiles.d files with
// the systemd tools applied to the DESTDIR.
func TestServiceUnit(t *testing.T) {
	for _, tool := range []string{"systemd-analyze", "systemd-sysusers", "systemd-tmpfiles"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install systemd)", tool)
		}
	}
	d := unitRoot(t)
	unitDir := d + "/usr/local/lib/systemd/system"
	out, err := exec.Command("systemd-analyze", "verify", "--root="+d, "nfpipe.service").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	unit := string(must(os.ReadFile(unitDir + "/nfpipe.service")))
	broken := strings.Replace(strings.Replace(unit, "ProtectSystem=strict", "ProtectSystem=strikt", 1), "/usr/local/bin/nfpipe", "/usr/local/bin/nfpipe-missing", 1)
	os.WriteFile(unitDir+"/nfpipe-broken.service", []byte(broken), 0o644)
	out, _ = exec.Command("systemd-analyze", "verify", "--root="+d, "nfpipe-broken.service").CombinedOutput()
	if !strings.Contains(string(out), "strikt") || !strings.Contains(string(out), "nfpipe-missing") {
		t.Errorf("systemd-analyze verify misses a broken unit:\n%s", out)
	}
	os.Remove(unitDir + "/nfpipe-broken.service")

	set := unitSettings(t, unitDir+"/nfpipe.service")
	for k, want := range map[string]string{
		"User":                     "nfpipe",
		"Group":                    "nfpipe",
		"ExecStart":                "/usr/local/bin/nfpipe run /etc/nfpipe/pipeline.yaml",
		"ExecReload":               "/bin/kill -HUP $MAINPID",
		"AmbientCapabilities":      "CAP_NET_RAW CAP_NET_ADMIN",
		"CapabilityBoundingSet":    "CAP_NET_RAW CAP_NET_ADMIN",
		"NoNewPrivileges":          "yes",
		"ProtectSystem":            "strict",
		"ProtectHome":              "yes",
		"PrivateTmp":               "yes",
		"ReadWritePaths":           "/var/lib/nfpipe",
		"Restart":                  "on-failure",
		"RestartPreventExitStatus": "78",
	} {
		if got := set[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%v, want %s", k, got, want)
		}
	}

	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--root="+d, "nfpipe.service").CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for nfpipe.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.5 {
		t.Errorf("exposure level %.1f, want at most 2.5:\n%s", level, out)
	}

	// The user and the data directory, as systemd makes them.
	os.MkdirAll(d+"/etc", 0o755)
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		os.WriteFile(d+"/etc/"+f, nil, 0o644)
	}
	if out, err := exec.Command("systemd-sysusers", "--root="+d, d+"/usr/local/lib/sysusers.d/nfpipe.conf").CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd := string(must(os.ReadFile(d + "/etc/passwd")))
	pw := regexp.MustCompile(`(?m)^nfpipe:x:(\d+):(\d+):[^:]*:/var/lib/nfpipe:/usr/sbin/nologin$`).FindStringSubmatch(passwd)
	if pw == nil {
		t.Fatalf("no nfpipe system user:\n%s", passwd)
	}
	if uid, _ := strconv.Atoi(pw[1]); uid == 0 || uid >= 1000 {
		t.Errorf("uid %d is not a system user's", uid)
	}
	if os.Geteuid() == 0 {
		os.Remove(d + "/var/lib/nfpipe")
		if out, err := exec.Command("systemd-tmpfiles", "--root="+d, "--create", d+"/usr/local/lib/tmpfiles.d/nfpipe.conf").CombinedOutput(); err != nil {
			t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
		}
		st, err := os.Stat(d + "/var/lib/nfpipe")
		if err != nil || st.Mode().String() != "drwxr-x---" {
			t.Errorf("data directory: %v %v", err, st)
		}
		if out, _ := exec.Command("stat", "-c", "%u:%g", d+"/var/lib/nfpipe").Output(); strings.TrimSpace(string(out)) != pw[1]+":"+pw[2] {
			t.Errorf("data directory owned by %s, want %s:%s", out, pw[1], pw[2])
		}
	}
}
