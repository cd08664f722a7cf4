package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func BenchmarkInsertFlowsSQLite(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, p := range strings.Split(os.Getenv("ZZP"), ";") {
		if p != "" {
			if _, err := s.db.Exec(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	const batch = 1000
	recs := synthFlows(batch*b.N, time.Unix(1700000000, 0), 1)
	rows := &Rows{}
	c0 := cpuNow()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows.Reset()
		for j := range recs[i*batch : i*batch+batch] {
			rows.Flows = append(rows.Flows, FlowFromRecord("", &recs[i*batch+j]))
		}
		if err := s.Write(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N*batch)/(cpuNow()-c0).Seconds(), "rows/cpu-s")
}
