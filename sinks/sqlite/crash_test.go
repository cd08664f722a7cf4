package sqlite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfpipe/nfpipe/cmd/pcapgen/gen"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
)

// crashEnv makes the test binary, started again by the kill and SIGTERM
// tests, run a pipeline file until it is killed or signalled.
const crashEnv = "NFPIPE_SQLITE_CRASH_PIPELINE"

// TestCrashHelperProcess is the child of the kill and SIGTERM tests; on
// its own it does nothing.
func TestCrashHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("runs only as the child of TestKill9KeepsCommittedBatches and TestSigtermFlushesEverything")
	}
	yml, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// SIGTERM stops the pipeline as nfpipe run does: sources stop, the
	// rest drains.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	p := buildYAML(t, string(yml))
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Fatal("the pipeline finished before it was signalled")
	}
}

// crashPipeline replays a capture into the history sink with small,
// frequent transactions.
func crashPipeline(capture, db, speed string) string {
	return fmt.Sprintf(`
stages:
  capture: {type: capture, file: %q, speed: %s}
  decode: {type: decode, inputs: [capture]}
  sessions: {type: sessionize, inputs: [decode], idle_timeout: 1s, close_linger: 100ms}
  stats: {type: ipstats, inputs: [decode], interval: 1s}
sinks:
  history: {type: sqlite, inputs: [sessions, stats], path: %q, batch_size: 100, flush_period: 50ms, rollups: [1s, 10s, 1m]}
`, capture, speed, db)
}

// TestKill9KeepsCommittedBatches kills a process with SIGKILL while it
// writes the history, then checks the database: it is intact, holds at
// least every batch seen committed before the kill, no part of any other,
// and every flow in it is a flow the capture really has.
func TestKill9KeepsCommittedBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a capture in real time for several seconds")
	}
	dir := t.TempDir()
	// About twelve seconds of traffic, flows ending all along.
	capture := generatedCapture(t, gen.Config{Packets: 120000, Flows: 12000, Concurrent: 600, Seed: 3, Spacing: 100 * time.Microsecond})

	// The reference: the same capture at full speed, to the end.
	refDB := filepath.Join(dir, "ref.db")
	runYAML(t, crashPipeline(capture, refDB, "max"))
	ref := openStore(t, store.Options{Path: refDB, ReadOnly: true})
	refFlows := map[string]bool{}
	var rows []store.Flow
	if err := ref.DB().NewSelect().Model(&rows).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		r := rows[i].Record()
		refFlows[string(r.AppendJSON(nil))] = true
	}

	db := filepath.Join(dir, "crash.db")
	yml := filepath.Join(dir, "crash.yaml")
	if err := os.WriteFile(yml, []byte(crashPipeline(capture, db, "realtime")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+yml)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Watch the commits from outside, as another process would, and kill
	// once several transactions with flows and with rollups are in.
	var seen, withFlows, withStats int64
	deadline := time.Now().Add(2 * time.Minute)
	for withFlows < 8 || withStats < 2 {
		select {
		case err := <-exited:
			t.Fatalf("the child exited before the kill (%v):\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no commits within two minutes:\n%s", out.String())
		}
		seen, withFlows, withStats = committedBatches(t, db)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no flush, no cleanup
		t.Fatal(err)
	}
	<-exited

	s := openStore(t, store.Options{Path: db})
	ctx := context.Background()
	var check string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	batches := count(t, s, "SELECT COUNT(*) FROM batches")
	if batches < seen {
		t.Errorf("%d batches after the crash, %d were seen committed before it", batches, seen)
	}
	flows := count(t, s, "SELECT COUNT(*) FROM flows")
	if sum := count(t, s, "SELECT COALESCE(SUM(flows), 0) FROM batches"); sum != flows {
		t.Errorf("batches account for %d flows, the table holds %d: a partial batch", sum, flows)
	}
	if flows == 0 {
		t.Fatal("no flows were committed before the kill")
	}
	// Every stored flow is whole and true: the same JSON as the complete
	// run's flow.
	rows = nil
	if err := s.DB().NewSelect().Model(&rows).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		r := rows[i].Record()
		if js := string(r.AppendJSON(nil)); !refFlows[js] {
			t.Fatalf("flow after the crash is not one of the capture's: %s", js)
		}
	}
	// Each transaction added the same increments to every rollup level,
	// so the levels agree exactly.
	var sums []int64
	if err := s.DB().NewRaw("SELECT SUM(bytes_in + bytes_out) FROM ip_stats GROUP BY res ORDER BY res").Scan(ctx, &sums); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 3 || sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("rollup levels disagree after the crash: %v", sums)
	}
	// The index survived with the data: queries find every flow.
	found := 0
	q := store.FlowQuery{Limit: 1000}
	for {
		page, err := s.Flows(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		found += len(page.Flows)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if int64(found) != flows {
		t.Errorf("queries find %d of %d flows after the crash", found, flows)
	}
	// And the database takes new writes.
	more := &store.Rows{Flows: rows[:1]}
	more.Flows[0].ID = 0
	if err := s.Write(ctx, more); err != nil {
		t.Fatalf("write after the crash: %v", err)
	}
	t.Logf("killed after %d batches seen committed; %d batches and %d flows survived", seen, batches, flows)
}

// committedBatches counts the transactions committed so far, all of them,
// those with flows and those with rollups, reading the database like any
// other process (zeros before it exists).
func committedBatches(t *testing.T, db string) (all, flows, stats int64) {
	if _, err := os.Stat(db); err != nil {
		return 0, 0, 0
	}
	s, err := store.Open(context.Background(), store.Options{Path: db, ReadOnly: true, MaxConns: 1})
	if err != nil {
		return 0, 0, 0
	}
	defer s.Close()
	err = s.DB().NewRaw("SELECT COUNT(*), COALESCE(SUM(CASE WHEN flows > 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN ip_stats > 0 THEN 1 ELSE 0 END), 0) FROM batches").
		Scan(context.Background(), &all, &flows, &stats)
	if err != nil {
		return 0, 0, 0 // the schema is not there yet
	}
	return all, flows, stats
}

// TestSigtermFlushesEverything stops a process writing the history with
// SIGTERM: every flow sessionize emitted, those still open and ended at
// shutdown included, is in the database, exactly as a jsonl sink of the
// same pipeline wrote it, and the stop is the last event stored.
func TestSigtermFlushesEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a capture in real time for several seconds")
	}
	dir := t.TempDir()
	capture := generatedCapture(t, gen.Config{Packets: 120000, Flows: 12000, Concurrent: 600, Seed: 4, Spacing: 100 * time.Microsecond})
	db, ref := filepath.Join(dir, "h.db"), filepath.Join(dir, "ref.jsonl")
	yml := filepath.Join(dir, "p.yaml")
	pipelineText := crashPipeline(capture, db, "realtime") + fmt.Sprintf("  reference: {type: jsonl, inputs: [sessions], path: %q}\n", ref)
	if err := os.WriteFile(yml, []byte(pipelineText), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+yml)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the child exited before the signal (%v):\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if _, flows, _ := committedBatches(t, db); flows >= 5 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no commits within two minutes:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("the child failed after SIGTERM (%v):\n%s", err, out.String())
	}

	var want []string
	shutdown := 0
	for _, l := range readLines(t, ref) {
		want = append(want, l)
		if strings.Contains(l, `"end_reason":"shutdown"`) {
			shutdown++
		}
	}
	if shutdown == 0 {
		t.Fatal("no flow was open at the stop: the test proves nothing about the final flush")
	}
	s := openStore(t, store.Options{Path: db, ReadOnly: true})
	var rows []store.Flow
	if err := s.DB().NewSelect().Model(&rows).Order("id").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rows))
	for i := range rows {
		r := rows[i].Record()
		got[i] = string(r.AppendJSON(nil))
	}
	if !slices.Equal(got, want) {
		t.Errorf("after SIGTERM the database holds %d flows, the jsonl sink wrote %d", len(got), len(want))
	}
	var kinds []string
	if err := s.DB().NewRaw("SELECT kind FROM events ORDER BY time, id").Scan(context.Background(), &kinds); err != nil {
		t.Fatal(err)
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != "stopped" {
		t.Errorf("events %v, want the stop last", kinds)
	}
	t.Logf("%d flows stored, %d of them ended by the shutdown", len(got), shutdown)
}
