package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// Dialect names the database behind a store.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options say which database to open and how.
type Options struct {
	// Path is the SQLite file; its directory is created if missing.
	// Ignored when DSN is set.
	Path string
	// DSN selects PostgreSQL: postgres://user:pass@host:port/db?sslmode=...
	DSN string
	// Probe names the writing instance; it is stored in every row so that
	// several instances can share one PostgreSQL database.
	Probe string
	// ReadOnly opens an existing database for queries only: nothing is
	// created or migrated (the CLI uses it).
	ReadOnly bool
	// BusyTimeout is how long SQLite waits for a lock held by another
	// connection or process before reporting "database is locked".
	// Default 5s.
	BusyTimeout time.Duration
	// MaxConns bounds the connection pool. Default 4: one writer and
	// readers for the dashboard and the CLI.
	MaxConns int
}

// CheckOptions reports what New would reject, without opening anything.
func CheckOptions(o Options) error {
	if o.DSN != "" {
		if !IsPostgresDSN(o.DSN) {
			return fmt.Errorf("dsn must start with postgres:// or postgresql://")
		}
		if _, err := pgx.ParseConfig(o.DSN); err != nil {
			return fmt.Errorf("invalid PostgreSQL DSN %s: %w", redactDSN(o.DSN), err)
		}
		return nil
	}
	if o.Path == "" {
		return errors.New("no database path given")
	}
	return nil
}

// IsPostgresDSN reports whether s is a PostgreSQL connection URL.
func IsPostgresDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Store is the flow history: the write path used by the sink and the
// query layer used by the dashboard and the CLI. It is safe for
// concurrent use; writes should come from one goroutine (SQLite allows
// one writer at a time, and a single writer keeps batches in order).
type Store struct {
	db       *bun.DB
	dialect  Dialect
	probe    string
	where    string // path or redacted DSN, for messages
	readOnly bool
	busy     time.Duration

	wmu     sync.Mutex // serialises writes
	flowSeq string     // PostgreSQL: the sequence of flows.id
	block   *openBlock // the flow block being filled, nil before the first write
}

// Open opens (and unless ReadOnly, creates and migrates) a store.
func Open(ctx context.Context, o Options) (*Store, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	if err := s.Init(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// New prepares a store without touching the database: connections are
// made on first use. Call Init before writing; queries fail until the
// schema exists. The sink uses New so that the dashboard can hold the
// store while the database is still unreachable.
func New(o Options) (*Store, error) {
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 4
	}
	if o.DSN != "" {
		return openPostgres(o)
	}
	return openSQLite(o)
}

// Init connects, creates the SQLite directory and file if needed, and
// brings the schema up to date (unless ReadOnly). It may be called again
// after a failure.
func (s *Store) Init(ctx context.Context) error {
	if s.dialect == SQLite && !s.readOnly {
		if dir := filepath.Dir(s.where); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("cannot create the database directory: %w", err)
			}
		}
	}
	if s.dialect == SQLite && !s.readOnly {
		// Before any pooled connection touches a new file: their pragmas
		// would initialise it without incremental vacuum.
		if err := s.createSQLite(ctx); err != nil {
			return err
		}
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("cannot connect to %s: %w", s.where, err)
	}
	if s.readOnly {
		return nil
	}
	if s.dialect == SQLite {
		if err := s.ensureIncrementalVacuum(ctx); err != nil {
			return err
		}
	}
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("cannot prepare the schema of %s: %w", s.where, err)
	}
	return nil
}

func openSQLite(o Options) (*Store, error) {
	if o.Path == "" {
		return nil, errors.New("no database path given")
	}
	if o.ReadOnly {
		if _, err := os.Stat(o.Path); err != nil {
			return nil, fmt.Errorf("no database at %s: %w", o.Path, err)
		}
	}
	// Pragmas run on every new connection, in this order. busy_timeout
	// comes first so the others wait for a lock rather than fail.
	// synchronous=NORMAL in WAL mode loses no committed transaction when
	// the process dies (only on power loss), at a fraction of FULL's
	// fsyncs. journal_size_limit truncates the WAL after checkpoints so a
	// burst does not leave a huge file behind. _txlock=immediate takes the
	// write lock at BEGIN, so two writers wait on the busy timeout instead
	// of failing to upgrade a read lock. auto_vacuum is not among them:
	// setting it takes the write lock even when it changes nothing, so a
	// new connection would fail while another process writes; a new file
	// gets it once, in Init.
	q := url.Values{}
	if o.ReadOnly {
		// query_only rather than mode=ro: a read-only connection cannot
		// create the WAL index a WAL database needs after a clean close.
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "journal_size_limit(67108864)")
		q.Add("_pragma", "foreign_keys(OFF)")
		q.Set("_txlock", "immediate")
	}
	dsn := sqliteDSN(o.Path, q)
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", o.Path, err)
	}
	sqldb.SetMaxOpenConns(o.MaxConns)
	sqldb.SetMaxIdleConns(o.MaxConns)
	sqldb.SetConnMaxIdleTime(0)
	return &Store{db: bun.NewDB(sqldb, sqlitedialect.New()), dialect: SQLite, probe: o.Probe, where: o.Path, readOnly: o.ReadOnly, busy: o.BusyTimeout}, nil
}

func openPostgres(o Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL DSN %s: %w", redactDSN(o.DSN), err)
	}
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(o.MaxConns)
	sqldb.SetMaxIdleConns(o.MaxConns)
	return &Store{db: bun.NewDB(sqldb, pgdialect.New()), dialect: Postgres, probe: o.Probe, where: redactDSN(o.DSN), readOnly: o.ReadOnly}, nil
}

// redactDSN drops the password so a DSN can be logged.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

func sqliteDSN(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// createSQLite initialises a new database file with incremental
// auto-vacuum, so retention can hand freed pages back to the file system.
// The mode must be set before the first table and before the switch to
// WAL; after that only a VACUUM outside WAL mode changes it (see
// ensureIncrementalVacuum). Two processes creating the file at once both
// set the same mode; the busy timeout orders them.
func (s *Store) createSQLite(ctx context.Context) error {
	if fi, err := os.Stat(s.where); err == nil && fi.Size() > 0 {
		return nil
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", s.busy.Milliseconds()))
	q.Add("_pragma", "auto_vacuum(INCREMENTAL)")
	q.Add("_pragma", "journal_mode(WAL)")
	boot, err := sql.Open(sqliteshim.ShimName, sqliteDSN(s.where, q))
	if err == nil {
		err = boot.PingContext(ctx)
		boot.Close()
	}
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", s.where, err)
	}
	return nil
}

// ensureIncrementalVacuum switches a database created elsewhere, without
// incremental auto-vacuum, to it: out of WAL mode, one VACUUM, back.
func (s *Store) ensureIncrementalVacuum(ctx context.Context) error {
	var mode int
	if err := s.db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return fmt.Errorf("cannot read auto_vacuum of %s: %w", s.where, err)
	}
	const incremental = 2
	if mode == incremental {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"PRAGMA journal_mode = DELETE", "PRAGMA auto_vacuum = INCREMENTAL", "VACUUM", "PRAGMA journal_mode = WAL"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("cannot switch %s to incremental vacuum (%s): %w", s.where, q, err)
		}
	}
	return nil
}

// DB returns the underlying bun handle, for tests and tools that need SQL
// the query layer does not offer.
func (s *Store) DB() *bun.DB { return s.db }

// Dialect returns the kind of database.
func (s *Store) Dialect() Dialect { return s.dialect }

// Probe returns the probe name this store writes.
func (s *Store) Probe() string { return s.probe }

// Where names the database (file path, or DSN without password).
func (s *Store) Where() string { return s.where }

// Close checkpoints the WAL (SQLite) and closes the database.
func (s *Store) Close() error {
	if s.dialect == SQLite {
		// Fold the WAL into the main file so the database is a single file
		// again when nothing runs; harmless if another process holds it.
		_, _ = s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return s.db.Close()
}
