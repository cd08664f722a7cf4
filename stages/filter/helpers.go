package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// The helper functions rules can call. Arguments that are constants are
// parsed once at compile time by the patcher below, so a rule such as
// in_cidr(flow.client_ip, "10.0.0.0/8") does no parsing per record.
// ip_eq, ip_ne and str_in are what comparisons are rewritten into.
//
//	cidr("10.0.0.0/8")                 a network (netip.Prefix)
//	ip("192.0.2.1")                    an address (netip.Addr)
//	in_cidr(addr, "10.0.0.0/8", ...)   addr is in one of the networks
//	port_in(port, 22, "8000-8999", "80,443")
//	addr in cidr("10.0.0.0/8")         same as in_cidr
//	addr in ["10.0.0.1", "fd00::/8"]   addresses or networks
//	addr == "10.0.0.1"                 compare with an address literal

// portSet is a set of ports, 8 KiB, built at compile time.
type portSet [1024]uint64

func (s *portSet) has(p int) bool {
	return p >= 0 && p < 65536 && s[p>>6]&(1<<(p&63)) != 0
}

// add adds "80", "8000-8999" or "80,443,8000-8999" to s.
func (s *portSet) add(spec string) error {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return fmt.Errorf("invalid port %q; use e.g. 443, \"8000-8999\" or \"80,443\"", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return fmt.Errorf("invalid port range %q; use e.g. \"8000-8999\"", part)
			}
		}
		if a < 0 || b > 65535 || a > b {
			return fmt.Errorf("invalid port range %q; ports go from 0 to 65535, low to high", part)
		}
		for p := a; p <= b; p++ {
			s[p>>6] |= 1 << (p & 63)
		}
	}
	return nil
}

func (s *portSet) addAny(v any) error {
	switch x := v.(type) {
	case int:
		return s.add(strconv.Itoa(x))
	case string:
		return s.add(x)
	}
	return fmt.Errorf("port_in takes ports as numbers or strings, not %T", v)
}

// parseNet parses "10.0.0.0/8" or a single address.
func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return p, fmt.Errorf("invalid network %q; use e.g. \"10.0.0.0/8\" or \"fd00::/8\"", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q; use e.g. \"192.0.2.1\" or \"10.0.0.0/8\"", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, fmt.Errorf("invalid address %q; use e.g. \"192.0.2.1\" or \"2001:db8::1\"", s)
	}
	return a.Unmap(), nil
}

var (
	typeOfAddr    = reflect.TypeOf(netip.Addr{})
	typeOfStrings = reflect.TypeOf([]string(nil))
)

// funcs holds the helpers as fields of the environment. Helpers declared
// with expr.Function would cost an allocation per evaluation (the VM makes
// a fresh argument slice for every run that calls one); a func-typed
// field with one of the VM's known signatures is called directly. The
// patcher below turns every use into a call with exactly these shapes,
// and checks the argument types the signatures cannot express.
type funcs struct {
	CIDR   func(any) any       `expr:"cidr"`
	IP     func(any) any       `expr:"ip"`
	InCIDR func(any, any) bool `expr:"in_cidr"`
	PortIn func(any, any) bool `expr:"port_in"`
	IPEq   func(any, any) bool `expr:"ip_eq"`
	IPNe   func(any, any) bool `expr:"ip_ne"`
	StrIn  func(any, any) bool `expr:"str_in"`
}

var helperFuncs = funcs{
	CIDR: func(s any) any { return must(parseNet(str(s))) },
	IP:   func(s any) any { return must(parseAddr(str(s))) },
	InCIDR: func(a, nets any) bool {
		return inCIDR(addr(a), nets)
	},
	PortIn: func(p, set any) bool {
		port := toInt(p)
		switch x := set.(type) {
		case *portSet:
			return x.has(port)
		case []any:
			var s portSet
			for _, v := range x {
				if err := s.addAny(v); err != nil {
					panic(err)
				}
			}
			return s.has(port)
		}
		panic(fmt.Errorf("port_in takes ports, not %T", set))
	},
	IPEq: func(a, b any) bool { return addr(a) == addr(b) },
	IPNe: func(a, b any) bool { return addr(a) != addr(b) },
	StrIn: func(s, list any) bool {
		l, _ := list.([]string)
		return slices.Contains(l, str(s))
	},
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func str(v any) string {
	s, ok := v.(string)
	if !ok {
		panic(fmt.Errorf("want a string, got %T", v))
	}
	return s
}

func addr(v any) netip.Addr {
	switch a := v.(type) {
	case netip.Addr:
		return a.Unmap()
	case string:
		return must(parseAddr(a))
	}
	panic(fmt.Errorf("want an address, got %T", v))
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case uint16:
		return int(x)
	case uint64:
		return int(x)
	case float64:
		return int(x)
	}
	panic(fmt.Errorf("want a port number, got %T", v))
}

// inCIDR reports whether a is in one of nets: a list parsed at compile
// time, or values (networks or strings) computed at run time.
func inCIDR(a netip.Addr, nets any) bool {
	switch x := nets.(type) {
	case []netip.Prefix:
		for _, p := range x {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case []any:
		for _, n := range x {
			var p netip.Prefix
			switch v := n.(type) {
			case netip.Prefix:
				p = v
			case string:
				p = must(parseNet(v))
			default:
				panic(fmt.Errorf("in_cidr takes networks, not %T", n))
			}
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	panic(fmt.Errorf("in_cidr takes networks, not %T", nets))
}

// patcher rewrites helper calls into the two-argument shapes of funcs,
// parsing constant arguments once, and address comparisons into helper
// calls, before the type check. Bad constants and arguments of the wrong
// type become errors at their position.
type patcher struct {
	err *file.Error
}

func (p *patcher) fail(n ast.Node, err error) {
	if p.err == nil {
		p.err = &file.Error{Location: n.Location(), Message: err.Error()}
	}
}

func (p *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		p.call(node, n)
	case *ast.BinaryNode:
		p.binary(node, n)
	}
}

func constant(node *ast.Node, v any) {
	ast.Patch(node, &ast.ConstantNode{Value: v})
}

func isType(n ast.Node, t reflect.Type) bool {
	return n.Type() == t
}

// knownNot reports whether n's type is known and is not t.
func knownNot(n ast.Node, t reflect.Type) bool {
	nt := n.Type()
	return nt != nil && nt.Kind() != reflect.Interface && nt != t
}

func (p *patcher) call(node *ast.Node, n *ast.CallNode) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch id.Value {
	case "cidr", "ip":
		if len(n.Arguments) != 1 {
			p.fail(n, fmt.Errorf("%s takes one string, e.g. %s", id.Value, map[string]string{"cidr": `cidr("10.0.0.0/8")`, "ip": `ip("192.0.2.1")`}[id.Value]))
			return
		}
		s, ok := n.Arguments[0].(*ast.StringNode)
		if !ok {
			return // parsed at run time
		}
		var v any
		var err error
		if id.Value == "cidr" {
			v, err = parseNet(s.Value)
		} else {
			v, err = parseAddr(s.Value)
		}
		if err != nil {
			p.fail(s, err)
			return
		}
		constant(node, v)
	case "in_cidr":
		if len(n.Arguments) < 2 {
			p.fail(n, errors.New(`in_cidr takes an address and networks, e.g. in_cidr(flow.client_ip, "10.0.0.0/8")`))
			return
		}
		if knownNot(n.Arguments[0], typeOfAddr) {
			p.fail(n.Arguments[0], fmt.Errorf("in_cidr takes an address first, not %s", n.Arguments[0].Type()))
			return
		}
		if nets, ok := p.constNets(n.Arguments[1:]); ok {
			n.Arguments = []ast.Node{n.Arguments[0], &ast.ConstantNode{Value: nets}}
		} else if p.err == nil {
			n.Arguments = []ast.Node{n.Arguments[0], &ast.ArrayNode{Nodes: n.Arguments[1:]}}
		}
	case "port_in":
		if len(n.Arguments) < 2 {
			p.fail(n, errors.New(`port_in takes a port and ports or ranges, e.g. port_in(flow.server_port, 22, "8000-8999")`))
			return
		}
		if t := n.Arguments[0].Type(); t != nil && t.Kind() != reflect.Interface && t.Kind() != reflect.Int && t.Kind() != reflect.Float64 {
			p.fail(n.Arguments[0], fmt.Errorf("port_in takes a port number first, not %s", t))
			return
		}
		var set portSet
		for _, a := range n.Arguments[1:] {
			var err error
			switch c := a.(type) {
			case *ast.IntegerNode:
				err = set.addAny(c.Value)
			case *ast.StringNode:
				err = set.add(c.Value)
			default:
				// Not all constant: parsed at every call.
				n.Arguments = []ast.Node{n.Arguments[0], &ast.ArrayNode{Nodes: n.Arguments[1:]}}
				return
			}
			if err != nil {
				p.fail(a, err)
				return
			}
		}
		n.Arguments = []ast.Node{n.Arguments[0], &ast.ConstantNode{Value: &set}}
	}
}

// constNets parses arguments that are all network or address literals
// (or cidr(...) already folded into constants).
func (p *patcher) constNets(args []ast.Node) ([]netip.Prefix, bool) {
	var nets []netip.Prefix
	for _, a := range args {
		switch c := a.(type) {
		case *ast.StringNode:
			pf, err := parseNet(c.Value)
			if err != nil {
				p.fail(c, err)
				return nil, false
			}
			nets = append(nets, pf)
		case *ast.ConstantNode:
			switch v := c.Value.(type) {
			case netip.Prefix:
				nets = append(nets, v)
			case netip.Addr:
				nets = append(nets, netip.PrefixFrom(v, v.BitLen()))
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return nets, true
}

// binary turns addr == "literal", addr != "literal", addr == addr,
// addr in cidr(...), addr in ["literal", ...] and s in list_of_strings
// into helper calls.
func (p *patcher) binary(node *ast.Node, n *ast.BinaryNode) {
	switch n.Operator {
	case "==", "!=":
		if !isType(n.Left, typeOfAddr) && !isType(n.Right, typeOfAddr) {
			return
		}
		for _, side := range []*ast.Node{&n.Left, &n.Right} {
			if s, ok := (*side).(*ast.StringNode); ok {
				a, err := parseAddr(s.Value)
				if err != nil {
					p.fail(s, err)
					return
				}
				constant(side, a)
			}
		}
		if !addrLike(n.Left) || !addrLike(n.Right) {
			return // a type error the checker reports
		}
		fn := "ip_eq"
		if n.Operator == "!=" {
			fn = "ip_ne"
		}
		patchCall(node, fn, n.Left, n.Right)
	case "in":
		if isType(n.Right, typeOfStrings) {
			patchCall(node, "str_in", n.Left, n.Right)
			return
		}
		if !isType(n.Left, typeOfAddr) {
			return
		}
		switch r := n.Right.(type) {
		case *ast.ConstantNode:
			if pf, ok := r.Value.(netip.Prefix); ok {
				patchCall(node, "in_cidr", n.Left, &ast.ConstantNode{Value: []netip.Prefix{pf}})
			}
		case *ast.CallNode:
			if id, ok := r.Callee.(*ast.IdentifierNode); ok && id.Value == "cidr" {
				patchCall(node, "in_cidr", n.Left, &ast.ArrayNode{Nodes: []ast.Node{r}})
			}
		case *ast.ArrayNode:
			if nets, ok := p.constNets(r.Nodes); ok {
				patchCall(node, "in_cidr", n.Left, &ast.ConstantNode{Value: nets})
			} else if p.err == nil {
				p.fail(r, errors.New(`list an address's networks as strings, e.g. ["10.0.0.0/8", "192.0.2.1"]`))
			}
		}
	}
}

// addrLike reports whether n is an address: typed so, or a folded
// address constant.
func addrLike(n ast.Node) bool {
	if c, ok := n.(*ast.ConstantNode); ok {
		_, isAddr := c.Value.(netip.Addr)
		return isAddr
	}
	return isType(n, typeOfAddr)
}

func patchCall(node *ast.Node, fn string, args ...ast.Node) {
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args})
}
