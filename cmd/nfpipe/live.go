package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/examples"
	"github.com/nfpipe/nfpipe/pipeline"
)

// liveOptions are the flags of nfpipe run that turn the default pipeline
// into a live capture.
type liveOptions struct {
	iface   string
	bpf     string
	user    string
	workers int
}

// addLiveFlags adds -i, --bpf, -Z and --workers to a command.
func addLiveFlags(cmd *cobra.Command, o *liveOptions) {
	cmd.Flags().StringVarP(&o.iface, "interface", "i", "", `capture live on this interface with the default pipeline ("default": the interface of the default route; see nfpipe interfaces)`)
	cmd.Flags().StringVar(&o.bpf, "bpf", "", "with -i: capture only packets matching this tcpdump filter")
	cmd.Flags().StringVarP(&o.user, "user", "Z", "", "with -i: switch to this user once the capture sockets are open, as tcpdump -Z does")
	cmd.Flags().IntVar(&o.workers, "workers", 0, "with -i: capture workers (0: one per CPU)")
}

// liveDefaultPipeline writes the default pipeline with its capture stage
// reading the interface live instead of replaying the sample, next to
// the default pipeline in the user's cache directory, and returns its
// path. Decode and sessionize run one shard per capture worker when
// they can, so each worker's flows stay on one thread.
func liveDefaultPipeline(o liveOptions) (string, error) {
	if o.iface == "" {
		return "", errors.New("no interface given")
	}
	workers := o.workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(examples.DefaultPipeline(), &doc); err != nil {
		return "", fmt.Errorf("read the default pipeline: %w", err)
	}
	root := doc.Content[0]
	root.HeadComment = fmt.Sprintf("# The built-in default pipeline, capturing live on %s (nfpipe run -i %s).", o.iface, o.iface)
	stages := mapGet(root, "stages")
	if stages == nil {
		return "", errors.New("the default pipeline has no stages")
	}
	for i := 0; i+1 < len(stages.Content); i += 2 {
		st := stages.Content[i+1]
		switch typ := mapGet(st, "type"); {
		case typ == nil:
		case typ.Value == "capture":
			for _, k := range []string{"file", "speed", "loop", "progress"} {
				mapDel(st, k)
			}
			mapSet(st, "interface", o.iface)
			mapSet(st, "workers", fmt.Sprint(workers))
			if o.bpf != "" {
				mapSet(st, "bpf", o.bpf)
			}
			if o.user != "" {
				mapSet(st, "user", o.user)
			}
		case workers > 1 && shardable(typ.Value):
			mapSet(st, "shards", fmt.Sprint(workers))
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "", err
	}
	def, err := examples.Default()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(def), "live.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return "", fmt.Errorf("write the live pipeline: %w", err)
	}
	return path, nil
}

// shardable reports whether a stage type may run as several instances.
func shardable(typ string) bool {
	reg, ok := pipeline.Default.Lookup(typ)
	return ok && reg.Spec.Shardable
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapDel(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// mapSet sets a scalar value, as a string so YAML keeps it verbatim.
func mapSet(m *yaml.Node, key, val string) {
	if v := mapGet(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "", val, 0
		return
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Value: val}
	if key == "bpf" || key == "interface" || key == "user" {
		v.Style = yaml.DoubleQuotedStyle
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}
