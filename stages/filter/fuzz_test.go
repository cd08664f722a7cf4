package filter

import (
	"testing"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// FuzzCompileAndRun compiles arbitrary expressions (the patcher rewrites
// their syntax trees) and runs those that compile over a flow: neither
// may panic.
func FuzzCompileAndRun(f *testing.F) {
	for _, s := range []string{
		`kind == "flow" && flow.bytes > 1e9`,
		`flow.client_ip in cidr("10.0.0.0/8")`,
		`flow.server_ip in ["192.0.2.1", "10.0.0.0/8"]`,
		`in_cidr(flow.client_ip, "10.0.0.0/8", cidr("fd00::/8"))`,
		`port_in(flow.server_port, 22, "8000-8999", "80,443")`,
		`flow.client_ip == "10.1.2.3" || flow.server_ip != flow.client_ip`,
		`"web" in flow.tags && flow.attrs["app"] == "x"`,
		`in_cidr(flow.client_ip, flow.proto)`,
		`port_in(flow.server_port, flow.client_port)`,
		`cidr(flow.proto) == cidr("1.2.3.0/24")`,
		`ip(flow.proto) in cidr("10.0.0.0/8")`,
		`flow.tags[2] == ip("::1")`,
	} {
		f.Add(s)
	}
	fl := sampleFlow()
	flt := newFilter(nil, false, nil)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := compile(src, Env{}, asAny)
		if err != nil {
			return
		}
		flt.box.env.setFlow(fl)
		_, _ = flt.vm.Run(p, flt.box.val)
		flt.box.env.setIPStat(&event.IPStatRec{})
		_, _ = flt.vm.Run(p, flt.box.val)
	})
}
