package dashboard

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkWebSocketFanout measures what 200 WebSocket clients cost the
// pipeline: the sample capture is replayed at full speed (in a loop,
// through decode, sessionize, ipstats and the dashboard) for a fixed
// time, once with no client and once with 200 clients on loopback that
// read every message. It reports the packets per second of both runs, how
// much slower the second was, and the push latency (from the moment a
// summary is made to the moment a client has read it).
//
//	go test -run '^$' -bench BenchmarkWebSocketFanout -benchtime 1x ./sinks/dashboard/
//
// CLIENTS=summary,sessions in the topics below would also push every
// session update to every client; the default is what the overview page
// subscribes to.
func BenchmarkWebSocketFanout(b *testing.B) {
	const (
		clients = 200
		rounds  = 5 // alternating runs, medians reported: the machine is shared
		warmup  = 2 * time.Second
		window  = 4 * time.Second
		topics  = "summary,events"
	)
	for i := 0; i < b.N; i++ {
		var base, with, baseCPU, withCPU []float64
		var lat fanoutResult
		for r := 0; r < rounds; r++ {
			res0 := fanoutRun(b, "max", 0, topics, warmup, window)
			base, baseCPU = append(base, res0.pps), append(baseCPU, res0.cpuPerPacket)
			res := fanoutRun(b, "max", clients, topics, warmup, window)
			with, withCPU = append(with, res.pps), append(withCPU, res.cpuPerPacket)
			if r == rounds/2 {
				lat = res
			}
		}
		// The same clients while the sample replays in real time: the
		// latency a user sees when capture does not saturate the CPU.
		calm := fanoutRun(b, "realtime", clients, topics, warmup, 2*window)
		mb, mw := median(base), median(with)
		b.ReportMetric(mb, "pps-0-clients")
		b.ReportMetric(mw, "pps-200-clients")
		b.ReportMetric(100*(mb-mw)/mb, "%-slower")
		// CPU time per packet is steadier than wall-clock throughput on a
		// shared machine; with clients it includes the in-process
		// clients' own reading and decoding, so it overstates the cost.
		cb, cw := median(baseCPU), median(withCPU)
		b.ReportMetric(cb, "cpu-ns/packet-0-clients")
		b.ReportMetric(cw, "cpu-ns/packet-200-clients")
		b.ReportMetric(100*(cw-cb)/cb, "%-more-cpu")
		b.ReportMetric(lat.p50, "ms-p50-push-full-speed")
		b.ReportMetric(lat.p99, "ms-p99-push-full-speed")
		b.ReportMetric(calm.p50, "ms-p50-push-realtime")
		b.ReportMetric(calm.p99, "ms-p99-push-realtime")
		b.ReportMetric(float64(lat.kicked+calm.kicked), "clients-kicked")
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

type fanoutResult struct {
	pps          float64
	cpuPerPacket float64 // process CPU nanoseconds per packet read
	p50, p99     float64 // milliseconds
	messages     int
	kicked       uint64
}

func fanoutRun(b *testing.B, speed string, n int, topics string, warmup, window time.Duration) fanoutResult {
	b.Helper()
	r := startPipeline(b, pipelineOf([]string{samplePath(b)}, speed, "1s", ""))
	defer func() {
		// Stop and drain before the next run, so runs never overlap; hand
		// the result on to the cleanup that checks it.
		r.p.Stop()
		r.done <- <-r.done
	}()
	wsURL := "ws" + strings.TrimPrefix(r.base, "http") + "/ws?topics=" + topics
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var lat []float64
	measuring := false
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		conn, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		conn.SetReadLimit(1 << 24)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.CloseNow()
			var m struct {
				Type string  `json:"type"`
				TS   float64 `json:"ts"`
			}
			for {
				_, data, err := conn.Read(ctx)
				if err != nil {
					return
				}
				now := float64(time.Now().UnixMicro()) / 1000
				if json.Unmarshal(data, &m) != nil || m.Type == "hello" {
					continue
				}
				mu.Lock()
				if measuring {
					lat = append(lat, now-m.TS)
				}
				mu.Unlock()
			}
		}()
	}
	if n > 0 {
		eventually(b, "all clients registered", func() bool { return r.d.hub.count() == n })
	}
	packets := func() uint64 {
		p, _, _ := sourceTotals(r.p.Status())
		return p
	}
	time.Sleep(warmup)
	mu.Lock()
	measuring = true
	mu.Unlock()
	p0, t0, c0 := packets(), time.Now(), cpuTime()
	time.Sleep(window)
	p1, t1, c1 := packets(), time.Now(), cpuTime()
	mu.Lock()
	measuring = false
	res := fanoutResult{pps: float64(p1-p0) / t1.Sub(t0).Seconds(), messages: len(lat), kicked: r.d.hub.kicked.Load()}
	if p1 > p0 {
		res.cpuPerPacket = float64(c1-c0) / float64(p1-p0)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	mu.Unlock()
	cancel()
	wg.Wait()
	b.Logf("%s, %d clients: %.0f packets/s, %.0f CPU ns/packet, %d messages, latency p50 %.2f ms p99 %.2f ms, %d kicked", speed, n, res.pps, res.cpuPerPacket, res.messages, res.p50, res.p99, res.kicked)
	if n > 0 && res.messages == 0 {
		b.Fatalf("the %d clients received nothing", n)
	}
	return res
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
