package plugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// resolveCommand makes the program path absolute: a path with a slash is
// relative to the pipeline file's directory (like every path in a
// pipeline), a bare name is looked up in PATH.
func resolveCommand(command []string, dir string) ([]string, error) {
	prog := command[0]
	switch {
	case strings.ContainsRune(prog, '/'):
		if !filepath.IsAbs(prog) {
			prog = filepath.Join(dir, prog)
		}
	default:
		p, err := exec.LookPath(prog)
		if err != nil {
			return nil, fmt.Errorf("command: program %q is not in PATH; give its path, e.g. ./bin/plugins/%s", prog, prog)
		}
		prog = p
	}
	abs, err := filepath.Abs(prog)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return nil, fmt.Errorf("command: program %s not found; build the plugin (make plugins builds the examples) or fix the path", abs)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("command: %s is not a program file", abs)
	case fi.Mode().Perm()&0o111 == 0:
		return nil, fmt.Errorf("command: %s is not executable; chmod +x it", abs)
	}
	return append([]string{abs}, command[1:]...), nil
}

// checkFileSum compares the program's SHA-256 with the configured one, so
// a mismatch fails validation with both values instead of a start error.
func checkFileSum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sha256: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("sha256: reading %s: %w", path, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("sha256: %s has checksum %s, not %s; rebuild the plugin or update sha256", path, hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return nil
}

// configToJSON converts the YAML config block to the JSON the plugin
// gets; an absent block is {}.
func configToJSON(n *yaml.Node) ([]byte, error) {
	if n == nil || n.Tag == "!!null" {
		return []byte("{}"), nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errNoConfigMap
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("config: cannot be handed to the plugin as JSON (%v); use string keys", err)
	}
	return b, nil
}
