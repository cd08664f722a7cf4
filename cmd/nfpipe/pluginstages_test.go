package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	examplePluginsOnce sync.Once
	examplePluginsDir  string
	examplePluginsErr  error
)

// examplePlugins builds the example plugins once into a temporary
// directory.
func examplePlugins(t *testing.T) string {
	t.Helper()
	examplePluginsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nfpipe-example-plugins")
		if err != nil {
			examplePluginsErr = err
			return
		}
		examplePluginsDir = dir
		out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "../../examples/plugins/...").CombinedOutput()
		if err != nil {
			examplePluginsErr = errors.New(string(out))
		}
	})
	if examplePluginsErr != nil {
		t.Fatalf("building the example plugins: %v", examplePluginsErr)
	}
	return examplePluginsDir
}

func TestStagesPipelinePrintsPluginSpecs(t *testing.T) {
	bin := examplePlugins(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "list.txt"), []byte("192.0.2.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.yaml")
	yml := `stages:
  capture: {type: capture, file: x.pcap}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
  names: {type: plugin, inputs: [sessions], command: [` + filepath.Join(bin, "servicename") + `]}
  block: {type: plugin, inputs: [names], command: [` + filepath.Join(bin, "blocklist") + `], config: {lists: [list.txt]}}
sinks:
  out: {type: jsonl, inputs: [block], path: "-"}
`
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := printPluginStages(&out, &errOut, path); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	s := out.String()
	for _, want := range []string{
		"# stages.names: " + filepath.Join(bin, "servicename"),
		"servicename 1.0.0: Tags flows with the IANA service name of their server port.",
		"config.tag_prefix",
		"# stages.block: ",
		"blocklist 1.0.0: Tags flows that touch a listed address",
		"config.lists                 list of strings, required",
		"config.severity              enum(info|warning|critical) (default: `warning`)",
		"type: plugin",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	if strings.Index(s, "stages.names") > strings.Index(s, "stages.block") {
		t.Error("plugins not listed in file order")
	}

	// A plugin that rejects its config is reported like validate does.
	bad := strings.Replace(yml, "lists: [list.txt]", "lists: [missing.txt]", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	err := printPluginStages(&out, &errOut, path)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitConfig || !strings.Contains(errOut.String(), "stages.block: config.lists[0]: cannot read missing.txt") {
		t.Errorf("err %v, stderr %q", err, errOut.String())
	}
}

func TestStagesPipelineWithoutPlugins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte("stages:\n  capture: {type: capture, file: x.pcap}\n  decode: {type: decode, inputs: [capture]}\nsinks:\n  out: {type: jsonl, inputs: [decode], path: \"-\"}\n"), 0o644)
	var out, errOut bytes.Buffer
	if err := printPluginStages(&out, &errOut, path); err != nil || !strings.Contains(out.String(), "declares no plugin stages") {
		t.Errorf("%v %q %q", err, out.String(), errOut.String())
	}
}
