package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	"github.com/nfpipe/nfpipe/pipeline/pipetest"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// startYAML builds a pipeline logging into buf and runs it in the
// background; wait returns Run's error.
func startYAML(t *testing.T, yml string, buf *pipetest.SyncBuffer) (p *pipeline.Pipeline, wait func() error) {
	t.Helper()
	cfg, errs := config.Parse(filepath.Join(t.TempDir(), "test.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	p, errs = pipeline.FromConfig(cfg, pipeline.WithLogger(slog.New(slog.NewTextHandler(buf, nil))))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	var once sync.Once
	var err error
	t.Cleanup(func() { p.Kill(); once.Do(func() { err = <-done }) })
	return p, func() error { once.Do(func() { err = <-done }); return err }
}

// waitFor polls cond; a generous deadline only catches a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(p *pipeline.Pipeline, name string) pipeline.ComponentStatus {
	st, _ := p.Status().Component(name)
	return st
}

// lockDB takes SQLite's write lock from another connection, as another
// process writing the same file would, and returns its release.
func lockDB(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open(sqliteshim.ShimName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// faultPipeline replays a generated capture at full speed into the
// history sink only (so rows are flows) and a jsonl reference.
func faultPipeline(capture, db, ref string, maxPending int) string {
	return fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], idle_timeout: 30s}
sinks:
  history: {type: sqlite, inputs: [sessions], path: %q, batch_size: 100, max_pending: %d, busy_timeout: 20ms}
  reference: {type: jsonl, inputs: [sessions], path: %q}
`, capture, db, maxPending, ref)
}

// precreate makes the database (schema included) so that another
// connection can lock it before the pipeline starts.
func precreate(t *testing.T, path string) {
	s, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestLockedDatabaseRetriesWithoutLoss holds the write lock while a
// capture is replayed: the sink retries with backoff, reports itself
// degraded, and once the lock goes writes every flow.
func TestLockedDatabaseRetriesWithoutLoss(t *testing.T) {
	dir := t.TempDir()
	capture := generatedCapture(t, gen.Config{Packets: 20000, Flows: 3000, Concurrent: 300, Seed: 5})
	db, ref := filepath.Join(dir, "h.db"), filepath.Join(dir, "ref.jsonl")
	precreate(t, db)
	release := lockDB(t, db)
	var logs pipetest.SyncBuffer
	p, wait := startYAML(t, faultPipeline(capture, db, ref, 100000), &logs)
	waitFor(t, "retries while locked", func() bool {
		st := status(p, "history")
		return st.Counters["write_retries"] >= 3 && st.Health == pipeline.Degraded
	})
	if msg := status(p, "history").HealthMsg; !strings.Contains(msg, "locked") && !strings.Contains(msg, "busy") {
		t.Errorf("health message %q does not say the database is locked", msg)
	}
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	st := status(p, "history")
	if st.Dropped != 0 || st.Counters["rows_dropped"] != 0 {
		t.Errorf("dropped %d rows with room in the buffer", st.Dropped)
	}
	s := openStore(t, store.Options{Path: db, ReadOnly: true})
	want := int64(len(readLines(t, ref)))
	if got := count(t, s, "SELECT COUNT(*) FROM flows"); got != want {
		t.Errorf("%d flows stored after the lock, want %d", got, want)
	}
	if !strings.Contains(logs.String(), "history write failed; retrying with backoff") {
		t.Errorf("no retry in the log:\n%s", logs.String())
	}
}

// TestFailingDatabaseNeverStallsCapture keeps the database locked for the
// whole replay with a small buffer: the capture still runs to its end,
// the rows beyond the buffer are dropped and counted, and what was
// buffered is written once the lock goes.
func TestFailingDatabaseNeverStallsCapture(t *testing.T) {
	dir := t.TempDir()
	capture := generatedCapture(t, gen.Config{Packets: 20000, Flows: 3000, Concurrent: 300, Seed: 6})
	db, ref := filepath.Join(dir, "h.db"), filepath.Join(dir, "ref.jsonl")
	precreate(t, db)
	release := lockDB(t, db)
	var logs pipetest.SyncBuffer
	p, wait := startYAML(t, faultPipeline(capture, db, ref, 200), &logs)
	// The source finishes although nothing can be written.
	waitFor(t, "the replay to finish while locked", func() bool {
		return status(p, "capture").Health == pipeline.Stopped && status(p, "sessions").Health == pipeline.Stopped
	})
	waitFor(t, "drops", func() bool { return status(p, "history").Dropped > 0 })
	waitFor(t, "the stop warning", func() bool {
		return strings.Contains(logs.String(), "the pipeline is stopping but the history database fails")
	})
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	st := status(p, "history")
	if st.Counters["rows_dropped"] != st.Dropped {
		t.Errorf("dropped %d, rows_dropped %d: want the same count in both", st.Dropped, st.Counters["rows_dropped"])
	}
	s := openStore(t, store.Options{Path: db, ReadOnly: true})
	stored := count(t, s, "SELECT COUNT(*) FROM flows")
	want := int64(len(readLines(t, ref)))
	if stored == 0 || stored+int64(st.Dropped) != want {
		t.Errorf("stored %d + dropped %d != %d flows", stored, st.Dropped, want)
	}
	if !strings.Contains(logs.String(), "history buffer full while the database fails: rows dropped") {
		t.Errorf("drops not logged:\n%s", logs.String())
	}
}

// TestDiskFullIsReported limits the database's size, as a full disk
// would: the sink says so in its health and log, keeps the rows, and
// writes them once there is room.
func TestDiskFullIsReported(t *testing.T) {
	dir := t.TempDir()
	capture := generatedCapture(t, gen.Config{Packets: 20000, Flows: 3000, Concurrent: 300, Seed: 8})
	db, ref := filepath.Join(dir, "h.db"), filepath.Join(dir, "ref.jsonl")
	cfg, errs := config.Parse(filepath.Join(dir, "p.yaml"), []byte(faultPipeline(capture, db, ref, 100000)), func(string) (string, bool) { return "", false })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var logs pipetest.SyncBuffer
	p, berrs := pipeline.FromConfig(cfg, pipeline.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if len(berrs.Fatal()) > 0 {
		t.Fatal(berrs)
	}
	comp, _ := p.Component("history")
	st := comp.(*Sink).Store()
	ctx := context.Background()
	if err := st.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// One connection, so the page limit (a per-connection setting) holds
	// for every write.
	st.DB().SetMaxOpenConns(1)
	var pages int64
	st.DB().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
	if _, err := st.DB().ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+5)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "the disk-full report", func() bool {
		s := status(p, "history")
		return s.Health == pipeline.Unhealthy && strings.Contains(s.HealthMsg, "disk full")
	})
	if !strings.Contains(logs.String(), "disk full: the history database cannot grow; free space or shorten retention") {
		t.Errorf("no clear disk-full message in the log:\n%s", logs.String())
	}
	if _, err := st.DB().ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := openStore(t, store.Options{Path: db, ReadOnly: true})
	want := int64(len(readLines(t, ref)))
	if got := count(t, s, "SELECT COUNT(*) FROM flows"); got != want {
		t.Errorf("%d flows stored once there was room, want %d", got, want)
	}
	if d := status(p, "history").Dropped; d != 0 {
		t.Errorf("dropped %d rows", d)
	}
}

// TestUnreachablePostgresRetriesAndDrops points the sink at a port with
// no server: the pipeline runs, the sink is degraded and drops beyond its
// buffer, and a forced stop ends it.
func TestUnreachablePostgresRetriesAndDrops(t *testing.T) {
	capture := generatedCapture(t, gen.Config{Packets: 5000, Flows: 800, Concurrent: 100, Seed: 9})
	yml := fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode]}
sinks:
  history: {type: sqlite, inputs: [sessions], dsn: "postgres://nfpipe:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", probe: p, batch_size: 50, max_pending: 100}
`, capture)
	var logs pipetest.SyncBuffer
	p, wait := startYAML(t, yml, &logs)
	waitFor(t, "the replay to finish", func() bool { return status(p, "sessions").Health == pipeline.Stopped })
	waitFor(t, "drops", func() bool { return status(p, "history").Dropped > 0 })
	if st := status(p, "history"); st.Health != pipeline.Degraded || !strings.Contains(st.HealthMsg, "unreachable") {
		t.Errorf("health %s %q, want degraded: unreachable", st.Health, st.HealthMsg)
	}
	if strings.Contains(logs.String(), "nfpipe:x@") {
		t.Error("the log shows the password")
	}
	p.Kill()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	st := status(p, "history")
	if st.Dropped != st.Counters["rows_dropped"] || st.Dropped != status(p, "sessions").EventsOut {
		t.Errorf("dropped %d (rows_dropped %d) of %d flows", st.Dropped, st.Counters["rows_dropped"], status(p, "sessions").EventsOut)
	}
}
