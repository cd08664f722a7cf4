package main

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// builtin is the embedded table; see the comment at its top for where the
// names come from.
//
//go:embed services.txt
var builtin string

// key is a port of one transport protocol.
type key struct {
	proto uint8
	port  uint16
}

// table maps ports to service names.
type table map[key]string

// parseServices reads services(5) lines: "name port/protocol [aliases…]
// [# comment]". Protocols other than tcp, udp and sctp are skipped; a
// malformed line is an error naming its line number.
func parseServices(r io.Reader, t table) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return fmt.Errorf("line %d: want \"name port/protocol\", got %q", line, sc.Text())
		}
		k, err := parseKey(fields[1])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if k.proto != 0 {
			t[k] = fields[0]
		}
	}
	return sc.Err()
}

// parseKey parses "443/tcp"; an unknown protocol gives proto 0.
func parseKey(s string) (key, error) {
	port, proto, ok := strings.Cut(s, "/")
	n, err := strconv.ParseUint(port, 10, 16)
	if !ok || err != nil {
		return key{}, fmt.Errorf("%q is not port/protocol, e.g. 443/tcp", s)
	}
	p, known := event.ParseProto(proto)
	if !known || (p != 6 && p != 17 && p != 132) {
		return key{port: uint16(n)}, nil
	}
	return key{proto: p, port: uint16(n)}, nil
}
