package websocket

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// maxFilterLen and maxFilterNodes bound what a client may ask the server
// to evaluate for every event.
const (
	maxFilterLen   = 4096
	maxFilterNodes = 500
)

// compileFilter compiles a client's filter expression against the typed
// event environment: unknown fields and type errors are found here, with
// their position, not while events flow.
func compileFilter(src string) (*vm.Program, error) {
	if len(src) > maxFilterLen {
		return nil, fmt.Errorf("the filter is longer than %d bytes", maxFilterLen)
	}
	check := &constArgs{}
	prog, err := expr.Compile(src, expr.Env(filterEnv{}), expr.AsBool(), expr.MaxNodes(maxFilterNodes),
		expr.Function("in_cidr", inCIDR, new(func(string, ...string) bool)),
		expr.Function("port_in", portIn, new(func(int, ...any) bool)),
		expr.Patch(check),
	)
	if check.err != nil {
		return nil, check.err.Bind(file.NewSource(src))
	}
	return prog, err
}

// constArgs finds bad constant arguments of in_cidr and port_in when the
// filter is compiled, rather than failing every event later.
type constArgs struct {
	err *file.Error
}

// Visit implements ast.Visitor.
func (v *constArgs) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || v.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	var try func(...any) (any, error)
	var first any
	switch id.Value {
	case "in_cidr":
		try, first = inCIDR, "0.0.0.0"
	case "port_in":
		try, first = portIn, 0
	default:
		return
	}
	for _, arg := range call.Arguments[min(1, len(call.Arguments)):] {
		var val any
		switch a := arg.(type) {
		case *ast.StringNode:
			val = a.Value
		case *ast.IntegerNode:
			val = a.Value
		default:
			continue
		}
		if _, err := try(first, val); err != nil {
			v.err = &file.Error{Location: arg.Location(), Message: err.Error()}
			return
		}
	}
}

// inCIDR is in_cidr(addr, "10.0.0.0/8", "fd00::/8", "192.0.2.1"): whether
// the address is in one of the networks (a bare address is a network of
// one). An invalid network is an error, which fails the event.
func inCIDR(params ...any) (any, error) {
	a, err := netip.ParseAddr(params[0].(string))
	if err != nil {
		return false, nil // an event without that address
	}
	a = a.Unmap()
	for _, p := range params[1:] {
		s := p.(string)
		var pre netip.Prefix
		if strings.Contains(s, "/") {
			if pre, err = netip.ParsePrefix(s); err != nil {
				return nil, fmt.Errorf("in_cidr: invalid network %q", s)
			}
		} else {
			n, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("in_cidr: invalid address %q", s)
			}
			pre = netip.PrefixFrom(n.Unmap(), n.Unmap().BitLen())
		}
		if pre.Masked().Contains(a) {
			return true, nil
		}
	}
	return false, nil
}

// portIn is port_in(port, 22, "8000-8999", "80,443").
func portIn(params ...any) (any, error) {
	port := params[0].(int)
	for _, p := range params[1:] {
		switch x := p.(type) {
		case int:
			if x == port {
				return true, nil
			}
		case string:
			for _, part := range strings.Split(x, ",") {
				lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
				a, err := strconv.Atoi(strings.TrimSpace(lo))
				b := a
				if err == nil && isRange {
					b, err = strconv.Atoi(strings.TrimSpace(hi))
				}
				if err != nil {
					return nil, fmt.Errorf("port_in: invalid port %q; use e.g. 443, \"8000-8999\" or \"80,443\"", part)
				}
				if port >= a && port <= b {
					return true, nil
				}
			}
		default:
			return nil, fmt.Errorf("port_in takes ports as numbers or strings, not %T", p)
		}
	}
	return false, nil
}
