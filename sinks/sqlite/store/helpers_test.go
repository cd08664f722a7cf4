package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

// pgEnv names the variable holding the DSN of a PostgreSQL server for the
// tests; .ci/postgres.sh prepares one and prints it.
const pgEnv = "NFPIPE_TEST_POSTGRES"

// backend opens stores on one database kind. Stores of one backend in one
// test share a database, so probes can be tested against each other.
type backend struct {
	name string
	open func(t testing.TB, probe string) *Store
}

// backends returns SQLite always and PostgreSQL when NFPIPE_TEST_POSTGRES
// is set (each test gets a fresh schema).
func backends(t *testing.T) []backend {
	out := []backend{{name: "sqlite", open: sqliteOpener(t)}}
	if dsn := os.Getenv(pgEnv); dsn != "" {
		out = append(out, backend{name: "postgres", open: postgresOpener(t, dsn)})
	} else {
		t.Logf("PostgreSQL variant skipped: set %s (run .ci/postgres.sh as root to get one)", pgEnv)
	}
	return out
}

// eachBackend runs f as a subtest per backend.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func sqliteOpener(t testing.TB) func(testing.TB, string) *Store {
	path := filepath.Join(t.TempDir(), "history.db")
	return func(tb testing.TB, probe string) *Store {
		s, err := Open(context.Background(), Options{Path: path, Probe: probe})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}
}

// postgresOpener creates a schema of its own and returns an opener whose
// stores use it through search_path.
func postgresOpener(t testing.TB, dsn string) func(testing.TB, string) *Store {
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema (is %s right?): %v", pgEnv, err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	sdsn := dsn + sep + "search_path=" + schema
	return func(tb testing.TB, probe string) *Store {
		s, err := Open(context.Background(), Options{DSN: sdsn, Probe: probe})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}
}

var _ = stdlib.GetDefaultDriver // registers "pgx" for the admin connection

// synthFlows makes n realistic flows ending 1 ms apart from base: a few
// hundred clients talking to servers drawn from a Zipf law (real traffic
// concentrates on few destinations), TCP and UDP, some with geo and tags,
// seeded so runs are reproducible.
func synthFlows(n int, base time.Time, seed uint64) []event.FlowRec {
	rng := rand.New(rand.NewPCG(seed, 0x6e6670))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(seed, 1)), 1.1, 1, 20000-1)
	out := make([]event.FlowRec, n)
	geo := []*event.Geo{
		nil,
		{CountryCode: "DE", Country: "Germany", City: "Berlin", Lat: 52.52, Lon: 13.405, ASN: 3320, ASOrg: "Deutsche Telekom AG"},
		{CountryCode: "US", Country: "United States", ASN: 15169, ASOrg: "Google LLC"},
		{Label: "private"},
	}
	for i := range out {
		f := &out[i]
		f.ID = rng.Uint64()
		f.Event = event.FlowEnd
		if rng.IntN(4) == 0 {
			f.Proto = 17
		} else {
			f.Proto = 6
		}
		f.Client.IP = netip.AddrFrom4([4]byte{192, 168, byte(rng.IntN(2)), byte(1 + rng.IntN(250))})
		f.Client.Port = uint16(32768 + rng.IntN(28000))
		srv := uint32(zipf.Uint64())*2654435761 + 0x01000000 // spread over the address space
		f.Server.IP = netip.AddrFrom4([4]byte{byte(srv >> 24), byte(srv >> 16), byte(srv >> 8), byte(srv)})
		f.Server.Port = []uint16{443, 80, 53, 22, 8443, 123}[rng.IntN(6)]
		f.Server.Geo = geo[rng.IntN(len(geo))]
		end := base.Add(time.Duration(i) * time.Millisecond)
		f.LastSeen = event.TimeOf(end)
		f.FirstSeen = event.TimeOf(end.Add(-time.Duration(rng.IntN(60000)) * time.Millisecond))
		f.C2S = event.Counters{Packets: uint64(1 + rng.IntN(50)), Bytes: uint64(60 + rng.IntN(20000))}
		f.S2C = event.Counters{Packets: uint64(rng.IntN(80)), Bytes: uint64(rng.IntN(200000))}
		if f.Proto == 6 {
			f.TCPState = []event.TCPState{event.TCPClosed, event.TCPEstablished, event.TCPReset}[rng.IntN(3)]
			f.FlagsC2S = event.FlagSYN | event.FlagACK | event.FlagFIN | event.FlagPSH
			f.FlagsS2C = event.FlagSYN | event.FlagACK | event.FlagFIN
			f.RTT = time.Duration(rng.IntN(80000)) * time.Microsecond
			f.Reason = event.ReasonFIN
		} else {
			f.Reason = event.ReasonIdle
		}
		if rng.IntN(10) == 0 {
			f.Tags = []string{"big"}
			f.Attrs = map[string]string{"app": "x\"y"}
		}
	}
	return out
}

// synthIPStats makes ipstat records for ips addresses over n intervals of
// width iv starting at base.
func synthIPStats(ips, n int, iv time.Duration, base time.Time, seed uint64) []event.IPStatRec {
	rng := rand.New(rand.NewPCG(seed, 2))
	var out []event.IPStatRec
	for k := 0; k < n; k++ {
		start := base.Add(time.Duration(k) * iv)
		for i := 0; i < ips; i++ {
			if rng.IntN(3) == 0 {
				continue // silent this interval
			}
			r := event.IPStatRec{
				IP:         netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
				Start:      event.TimeOf(start),
				End:        event.TimeOf(start.Add(iv)),
				BytesIn:    uint64(rng.IntN(1e6)),
				BytesOut:   uint64(rng.IntN(1e6)),
				PacketsIn:  uint64(rng.IntN(1000)),
				PacketsOut: uint64(rng.IntN(1000)),
				Flows:      uint64(rng.IntN(20)),
				Peers:      uint32(rng.IntN(50)),
				DstPorts:   uint32(rng.IntN(50)),
			}
			if i%7 == 0 {
				r.Geo = &event.Geo{CountryCode: "FR", Country: "France", ASN: 3215}
			}
			out = append(out, r)
		}
	}
	return out
}

// writeFlows stores recs in transactions of per flows.
func writeFlows(t testing.TB, s *Store, recs []event.FlowRec, per int) {
	t.Helper()
	for start := 0; start < len(recs); start += per {
		rows := &Rows{}
		for i := start; i < min(start+per, len(recs)); i++ {
			rows.Flows = append(rows.Flows, FlowFromRecord("", &recs[i]))
		}
		if err := s.Write(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
