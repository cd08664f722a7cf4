package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/nfpipe/nfpipe/pipeline"
	"github.com/nfpipe/nfpipe/pipeline/config"
	_ "github.com/nfpipe/nfpipe/sinks/jsonl"
	"github.com/nfpipe/nfpipe/sinks/sqlite/store"
	_ "github.com/nfpipe/nfpipe/stages/all"
)

// pgEnv names the variable holding the DSN of a PostgreSQL server for the
// tests; .ci/postgres.sh prepares one and prints it.
const pgEnv = "NFPIPE_TEST_POSTGRES"

// repoRoot is the module root, for test captures.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// pgSchemaDSN creates a schema of the test's own in the server named by
// NFPIPE_TEST_POSTGRES and returns a DSN that uses it, or skips.
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (run .ci/postgres.sh as root to start a server and print it)", pgEnv)
	}
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
	return dsn + sep + "search_path=" + schema
}

// runYAML builds and runs a pipeline from YAML with the default registry
// and returns it after it finished.
func runYAML(t testing.TB, yml string) *pipeline.Pipeline {
	t.Helper()
	p := buildYAML(t, yml)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func buildYAML(t testing.TB, yml string) *pipeline.Pipeline {
	t.Helper()
	cfg, errs := config.Parse(filepath.Join(t.TempDir(), "test.yaml"), []byte(yml), func(string) (string, bool) { return "", false })
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	p, errs := pipeline.FromConfig(cfg, pipeline.WithLogger(testLogger(t)))
	if len(errs.Fatal()) > 0 {
		t.Fatal(errs)
	}
	return p
}

// testLogger sends the pipeline's log to the test log, warnings and up.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// openStore opens a finished pipeline's database for checks.
func openStore(t testing.TB, o store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readLines returns the lines of a file.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return out
}

func count(t testing.TB, s *store.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB().NewRaw(q, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}
