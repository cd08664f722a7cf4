package sessionize

import (
	"sync/atomic"

	"github.com/nfpipe/nfpipe/pipeline"
)

// metrics mirrors the table's totals into the component's status. The
// table counts in plain integers; they are published once per input
// batch, so the packet path does no atomic operations.
type metrics struct {
	started, ended, evicted, noAddress *atomic.Uint64
	active                             *atomic.Int64
}

func newMetrics(s *pipeline.Stats) *metrics {
	return &metrics{
		started:   s.Counter("flows_started"),
		ended:     s.Counter("flows_ended"),
		evicted:   s.Counter("flows_evicted"),
		noAddress: s.Counter("packets_no_address"),
		active:    s.Gauge("active_flows"),
	}
}

func (m *metrics) publish(st Stats) {
	m.started.Store(st.Started)
	m.ended.Store(st.Ended)
	m.evicted.Store(st.Evicted)
	m.noAddress.Store(st.NoAddress)
	m.active.Store(int64(st.Active))
}
