package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// benchTx is the flows per transaction, the sink's default batch_size.
const benchTx = 1000

// plain strips the enrichment a pipeline without geoip or rules lacks.
func plain(recs []event.FlowRec) []event.FlowRec {
	for i := range recs {
		recs[i].Client.Geo, recs[i].Server.Geo = nil, nil
		recs[i].Tags, recs[i].Attrs = nil, nil
	}
	return recs
}

// benchInsert writes b.N transactions of benchTx flows, converting each
// record as the sink does, and reports rows per second of wall time and
// of CPU time (the machine may be shared).
func benchInsert(b *testing.B, s *Store, enriched bool) {
	ctx := context.Background()
	recs := synthFlows(benchTx*b.N, time.Unix(1700000000, 0), 1)
	if !enriched {
		recs = plain(recs)
	}
	rows := &Rows{}
	b.ReportAllocs()
	c0 := cpuNow()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows.Reset()
		for j := i * benchTx; j < (i+1)*benchTx; j++ {
			rows.Flows = append(rows.Flows, FlowFromRecord("", &recs[j]))
		}
		if err := s.Write(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N * benchTx)
	b.ReportMetric(n/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(n/(cpuNow()-c0).Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/row")
}

func BenchmarkInsertFlowsSQLite(b *testing.B) {
	for _, enriched := range []bool{false, true} {
		b.Run(fmt.Sprintf("geo=%v", enriched), func(b *testing.B) {
			s, err := Open(context.Background(), Options{Path: filepath.Join(b.TempDir(), "bench.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchInsert(b, s, enriched)
		})
	}
}

func BenchmarkInsertFlowsPostgres(b *testing.B) {
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		b.Skipf("set %s (run .ci/postgres.sh as root to get one)", pgEnv)
	}
	for _, enriched := range []bool{false, true} {
		b.Run(fmt.Sprintf("geo=%v", enriched), func(b *testing.B) {
			s := postgresOpener(b, dsn)(b, "bench")
			benchInsert(b, s, enriched)
		})
	}
}

// sizeFlows is how many flows the size benchmarks write: enough for the
// per-row size to settle, few enough to finish in seconds.
const sizeFlows = 200_000

// BenchmarkSizePerMillionFlows reports the disk space a million flows
// take (table, skip index, and the rest of the file), extrapolated from
// sizeFlows. Run it with -benchtime=1x.
func BenchmarkSizePerMillionFlows(b *testing.B) {
	ctx := context.Background()
	for _, enriched := range []bool{false, true} {
		b.Run(fmt.Sprintf("sqlite/geo=%v", enriched), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				path := filepath.Join(b.TempDir(), "size.db")
				s, err := Open(ctx, Options{Path: path})
				if err != nil {
					b.Fatal(err)
				}
				recs := synthFlows(sizeFlows, time.Unix(1700000000, 0), 2)
				if !enriched {
					recs = plain(recs)
				}
				writeFlows(b, s, recs, benchTx)
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				s.Close() // checkpoints the WAL into the file
				var total int64
				for _, f := range []string{path, path + "-wal", path + "-shm"} {
					if fi, err := os.Stat(f); err == nil {
						total += fi.Size()
					}
				}
				b.ReportMetric(float64(total)*1e6/sizeFlows/(1<<20), "MiB/Mflows")
				b.ReportMetric(float64(total)/sizeFlows, "bytes/flow")
			}
		})
	}
	if dsn := os.Getenv(pgEnv); dsn != "" {
		b.Run("postgres/geo=false", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := postgresOpener(b, dsn)(b, "size")
				writeFlows(b, s, plain(synthFlows(sizeFlows, time.Unix(1700000000, 0), 2)), benchTx)
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := s.DB().ExecContext(ctx, "VACUUM ANALYZE flows"); err != nil {
					b.Fatal(err)
				}
				var total int64
				if err := s.DB().QueryRowContext(ctx, "SELECT pg_total_relation_size('flows') + pg_total_relation_size('flow_blocks')").Scan(&total); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(total)*1e6/sizeFlows/(1<<20), "MiB/Mflows")
				b.ReportMetric(float64(total)/sizeFlows, "bytes/flow")
			}
		})
	}
}

// queryFlows is the size of the history the query benchmarks search.
const queryFlows = 500_000

// BenchmarkFlowQueries measures searches of a history of queryFlows flows
// (about 8 minutes of packet time at 1000 flows/s) through the skip
// index: an address seen once, one never seen, a port, and the last ten
// seconds.
func BenchmarkFlowQueries(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "q.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Unix(1700000000, 0).UTC()
	recs := plain(synthFlows(queryFlows, base, 5))
	const rare = "198.51.100.77" // outside the generator's ranges
	recs[queryFlows/3].Client.IP = netip.MustParseAddr(rare)
	writeFlows(b, s, recs, 5000)
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	end := base.Add(queryFlows * time.Millisecond)
	for _, c := range []struct {
		name string
		q    FlowQuery
		min  int
	}{
		{"ip-once", FlowQuery{IP: rare}, 1},
		{"ip-absent", FlowQuery{IP: "203.0.113.9"}, 0},
		{"port-22-page", FlowQuery{Port: 22, Limit: 100}, 100},
		{"last-10s", FlowQuery{Since: end.Add(-10 * time.Second), Limit: 20000}, 10000},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := s.Flows(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Flows) < c.min {
					b.Fatalf("%d flows, want at least %d", len(p.Flows), c.min)
				}
			}
		})
	}
}
