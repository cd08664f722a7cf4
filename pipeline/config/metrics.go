package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nfpipe/nfpipe/pipeline/spec"
)

// Metrics is the top-level metrics: block: where to serve Prometheus
// metrics when no dashboard sink serves them at its own /metrics.
//
//	metrics:
//	  listen: 127.0.0.1:9464
type Metrics struct {
	// Listen is the host:port of the metrics endpoint.
	Listen string
	// Node is the block's mapping, for positions.
	Node *yaml.Node
}

// metricsFields are the keys of the metrics: block.
var metricsFields = []string{"listen"}

// parseMetrics decodes the metrics: block strictly: a mapping with a
// listen address and nothing else.
func parseMetrics(k, v *yaml.Node, add func(*yaml.Node, string, string, ...any)) *Metrics {
	if v.Kind != yaml.MappingNode {
		add(v, "metrics", "expected a mapping, e.g. metrics: {listen: 127.0.0.1:9464}")
		return nil
	}
	m := &Metrics{Node: v}
	var listen *yaml.Node
	for i := 0; i+1 < len(v.Content); i += 2 {
		fk, fv := v.Content[i], v.Content[i+1]
		switch fk.Value {
		case "listen":
			if listen != nil {
				add(fk, "metrics.listen", "field given twice")
				continue
			}
			listen = fv
		default:
			msg := fmt.Sprintf("unknown field %q", fk.Value)
			if s := spec.Suggest(fk.Value, metricsFields); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; valid fields: " + strings.Join(metricsFields, ", ")
			}
			add(fk, "metrics", "%s", msg)
		}
	}
	if listen == nil {
		add(k, "metrics", "missing required field \"listen\" (address: host:port to serve /metrics on, e.g. 127.0.0.1:9464)")
		return nil
	}
	if err := checkListen(listen); err != "" {
		add(listen, "metrics.listen", "%s", err)
		return nil
	}
	m.Listen = listen.Value
	return m
}

// checkListen returns what is wrong with a host:port, or "".
func checkListen(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		return "expected an address host:port, e.g. 127.0.0.1:9464"
	}
	_, port, err := net.SplitHostPort(n.Value)
	if err != nil {
		return fmt.Sprintf("invalid address %q; write host:port, e.g. 127.0.0.1:9464 or [::1]:9464", n.Value)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Sprintf("invalid port %q in %q; use a number from 0 to 65535", port, n.Value)
	}
	return ""
}
