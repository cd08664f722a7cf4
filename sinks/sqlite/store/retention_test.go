package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/nfpipe/nfpipe/pipeline/event"
)

func count(t testing.TB, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB().NewRaw(q, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetentionByPacketTime stores ten days of packet time, a flow and
// ipstats every five minutes, and prunes with a week for flows and two
// days for the minute rollups, measured from the newest packet.
func TestRetentionByPacketTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t, "")
		ctx := context.Background()
		base := time.Date(2009, 11, 1, 0, 0, 0, 0, time.UTC) // a capture from long ago
		const days = 10
		var recs []event.FlowRec
		for i, f := range synthFlows(days*24*12, base, 9) {
			f.LastSeen = event.TimeOf(base.Add(time.Duration(i) * 5 * time.Minute))
			f.FirstSeen = f.LastSeen - event.Time(time.Second)
			recs = append(recs, f)
		}
		writeFlows(t, s, recs, 1000)
		stats := synthIPStats(5, days*24*12, 5*time.Minute, base, 4)
		writeIPStats(t, s, stats, 5000)
		alerts := &Rows{}
		for d := 0; d < days; d++ {
			a := event.AlertRec{ID: "a", Rule: "r", Severity: "warning", State: event.AlertFiring, Time: event.TimeOf(base.Add(time.Duration(d) * 24 * time.Hour))}
			alerts.Alerts = append(alerts.Alerts, AlertFromRecord("", &a))
		}
		if err := s.Write(ctx, alerts); err != nil {
			t.Fatal(err)
		}
		newest := recs[len(recs)-1].LastSeen.Std()
		pol := DefaultRetention()
		pol.Flows = 7 * 24 * time.Hour
		pol.Alerts = 3 * 24 * time.Hour
		pr, err := s.Prune(ctx, pol, newest, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		cut := newest.Add(-pol.Flows).UnixNano()
		var wantFlows int64
		for _, f := range recs {
			if int64(f.LastSeen) >= cut {
				wantFlows++
			}
		}
		if got := count(t, s, "SELECT COUNT(*) FROM flows"); got != wantFlows {
			t.Errorf("%d flows left, want %d", got, wantFlows)
		}
		if old := count(t, s, "SELECT COUNT(*) FROM flows WHERE last_seen < ?", cut); old != 0 {
			t.Errorf("%d flows older than the limit remain", old)
		}
		if pr.Flows != int64(len(recs))-wantFlows {
			t.Errorf("pruned %d flows, want %d", pr.Flows, int64(len(recs))-wantFlows)
		}
		// The index follows: a query over everything returns exactly the
		// remaining flows.
		if got := len(allPages(t, s, FlowQuery{Limit: 1000})); int64(got) != wantFlows {
			t.Errorf("query finds %d flows after pruning, want %d", got, wantFlows)
		}
		minuteCut := newest.Add(-2 * 24 * time.Hour).UnixNano()
		if old := count(t, s, "SELECT COUNT(*) FROM ip_stats WHERE res = 60 AND bucket < ?", minuteCut); old != 0 {
			t.Errorf("%d minute buckets older than 2 days remain", old)
		}
		if kept := count(t, s, "SELECT COUNT(*) FROM ip_stats WHERE res = 60"); kept == 0 {
			t.Error("every minute bucket was deleted")
		}
		// Hourly buckets are kept 90 days: all ten days are still there.
		if hours := count(t, s, "SELECT COUNT(DISTINCT bucket) FROM ip_stats WHERE res = 3600"); hours != days*24 {
			t.Errorf("%d hourly buckets, want %d", hours, days*24)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM alerts"); n != 3 {
			t.Errorf("%d alerts left, want 3", n)
		}
		// A ten-day range is now answered from the 5-minute level (kept
		// 14 days), no longer from the pruned minutes.
		top, err := s.TopTalkers(ctx, TopQuery{Since: base, Until: newest})
		if err != nil {
			t.Fatal(err)
		}
		if top.Resolution != 5*time.Minute {
			t.Errorf("a ten-day ranking used %v buckets, want 5m", top.Resolution)
		}
		// Writing continues after the open block was pruned or moved.
		more := synthFlows(10, newest.Add(time.Minute), 10)
		writeFlows(t, s, more, 10)
		if got := len(allPages(t, s, FlowQuery{Since: newest.Add(time.Second)})); got != 10 {
			t.Errorf("found %d new flows after pruning, want 10", got)
		}
	})
}

// TestPruneShrinksFile checks that deleted pages go back to the file
// system without a manual VACUUM.
func TestPruneShrinksFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Unix(1700000000, 0)
	writeFlows(t, s, synthFlows(40000, base, 2), 5000)
	size := func() int64 {
		if _, err := s.DB().Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	pr, err := s.Prune(context.Background(), Retention{Flows: time.Second}, base.Add(40*time.Second), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	after := size()
	if pr.FreedPages == 0 || after >= before*2/3 {
		t.Errorf("file %d -> %d bytes after pruning %d of 40000 flows (%d pages freed)", before, after, pr.Flows, pr.FreedPages)
	}
}

// TestIncrementalVacuumMode checks the mode of a new database, and that a
// database created elsewhere (auto_vacuum off, a table of its own) is
// switched without losing anything.
func TestIncrementalVacuumMode(t *testing.T) {
	mode := func(s *Store) int {
		var m int
		if err := s.DB().QueryRow("PRAGMA auto_vacuum").Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	s := sqliteOpener(t)(t, "")
	if m := mode(s); m != 2 {
		t.Errorf("new database: auto_vacuum %d, want 2 (incremental)", m)
	}

	path := filepath.Join(t.TempDir(), "foreign.db")
	db, err := sql.Open(sqliteshim.ShimName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s2, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if m := mode(s2); m != 2 {
		t.Errorf("converted database: auto_vacuum %d, want 2", m)
	}
	var x string
	if err := s2.DB().QueryRow("SELECT x FROM notes").Scan(&x); err != nil || x != "kept" {
		t.Errorf("foreign table after conversion: %q %v", x, err)
	}
	var jm string
	s2.DB().QueryRow("PRAGMA journal_mode").Scan(&jm)
	if jm != "wal" {
		t.Errorf("journal_mode %q after conversion, want wal", jm)
	}
}
