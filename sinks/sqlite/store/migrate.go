package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

// The schema is versioned by SQL files, one directory per dialect with
// the same version numbers, so an upgrade applies only what is new and
// keeps the data. Files ending in .tx.up.sql run in a transaction: a
// failed migration leaves the schema as it was.
//
//go:embed migrations
var migrationFiles embed.FS

// Migration tables get nfpipe names so they cannot collide with another
// application's bun migrations in a shared PostgreSQL database.
const (
	migrationsTable = "nfpipe_migrations"
	migrationsLocks = "nfpipe_migration_locks"
)

func (s *Store) migrations() (*migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, err
	}
	return ms, nil
}

// migrateLockKey is the PostgreSQL advisory lock taken while migrating:
// an arbitrary constant ("nfpipe" in ASCII) shared by every instance.
const migrateLockKey = 0x6e6670697065

// migrate brings the schema up to date. Several probes may start at once
// against one PostgreSQL database: they serialise on a session advisory
// lock, which the server releases by itself if the holder dies, so a crash
// mid-migration never leaves the schema locked. SQLite needs no lock
// (each migration is one immediate transaction); if two processes race,
// the loser finds nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	m := migrate.NewMigrator(s.db, ms,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationsLocks),
		migrate.WithMarkAppliedOnSuccess(true))
	if s.dialect == Postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrateLockKey); err != nil {
			return fmt.Errorf("cannot take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrateLockKey)
	}
	// An up-to-date schema needs no write at all, so a database another
	// process holds locked still opens. On PostgreSQL this is asked only
	// under the lock: another probe may have recorded a migration as
	// applied before its tables are visible, until it releases the lock.
	if missing, err := m.MissingMigrations(ctx); err == nil && len(missing) == 0 {
		return nil
	}
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("cannot create the migration tables: %w", err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		if missing, merr := m.MissingMigrations(ctx); merr == nil && len(missing) == 0 {
			return nil // another process applied them meanwhile
		}
		return fmt.Errorf("migration failed: %w", err)
	}
	return nil
}

// SchemaVersion returns the name of the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (string, error) {
	ms, err := s.migrations()
	if err != nil {
		return "", err
	}
	m := migrate.NewMigrator(s.db, ms, migrate.WithTableName(migrationsTable), migrate.WithLocksTableName(migrationsLocks))
	applied, err := m.AppliedMigrations(ctx)
	if err != nil {
		return "", err
	}
	if len(applied) == 0 {
		return "", nil
	}
	// AppliedMigrations lists the newest first.
	return applied[0].Name, nil
}
