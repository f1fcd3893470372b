package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/wabaplatform/waba/migrations"
)

// migrationLockKey serialises `waba migrate` across instances: rivermigrate takes no lock
// of its own and fails with duplicate-key errors when two instances race on a fresh database.
const migrationLockKey = 727_001

// MigrateResult tells what a migration run changed.
type MigrateResult struct {
	AppFrom, AppTo uint
	RiverApplied   int
}

// NoChange reports whether the run applied nothing.
func (r MigrateResult) NoChange() bool { return r.AppFrom == r.AppTo && r.RiverApplied == 0 }

// Migrate applies the app schema (golang-migrate) and River's schema (rivermigrate) under
// one session-level advisory lock, so concurrent instances take turns and the second one
// finds nothing to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (MigrateResult, error) {
	var res MigrateResult
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return res, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
	}()

	from, to, err := migrateApp(pool)
	if err != nil {
		return res, fmt.Errorf("app schema: %w", err)
	}
	res.AppFrom, res.AppTo = from, to

	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("river schema: %w", err)
	}
	out, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("river schema: %w", err)
	}
	res.RiverApplied = len(out.Versions)
	for _, ix := range RiverGINIndexes {
		// CONCURRENTLY: on a live system the drop waits for the transactions using the
		// table instead of stopping every job insert and fetch behind its lock.
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{ix}.Sanitize()); err != nil {
			return res, fmt.Errorf("river schema: drop %s: %w", ix, err)
		}
	}
	return res, nil
}

// RiverGINIndexes are the GIN indexes River creates on river_job's args and metadata.
// Nothing here queries jobs by their args or metadata (they serve only River's optional
// JobList metadata filter and ad hoc SQL), yet every job paid for them three times: each
// of its row versions (insert, fetch, completion) put its args' keys and values into one
// and its metadata's into the other, and a webhook batch now and then stalled on a GIN
// pending-list merge (docs/ARCHITECTURE.md has the measurements). River's later
// migrations do not touch them; its reindexer is told to skip them (riveradapter.NewClient).
var RiverGINIndexes = []string{"river_job_args_index", "river_job_metadata_index"}

func migrateApp(pool *pgxpool.Pool) (from, to uint, err error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return 0, 0, err
	}
	db := stdlib.OpenDBFromPool(pool) // closing it leaves the pool open
	defer db.Close()
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		return 0, 0, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return 0, 0, err
	}
	defer m.Close() // releases the connection the driver holds
	m.LockTimeout = time.Minute
	from, _, err = m.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return 0, 0, err
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return from, from, err
	}
	to, _, err = m.Version()
	return from, to, err
}

// LatestAppVersion is the highest migration number embedded in this binary.
func LatestAppVersion() uint {
	var latest uint
	entries, _ := fs.ReadDir(migrations.FS, ".")
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(num, 10, 32); err == nil && uint(n) > latest {
			latest = uint(n)
		}
	}
	return latest
}

// Ready reports nil when the database answers and holds the schema this binary expects:
// the app migrations at the latest version, not dirty, and River's tables present.
func Ready(ctx context.Context, pool *pgxpool.Pool) error {
	var version int64
	var dirty bool
	err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if dirty || uint(version) < LatestAppVersion() {
		return fmt.Errorf("schema at version %d (dirty=%t), want %d", version, dirty, LatestAppVersion())
	}
	var river bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&river); err != nil {
		return fmt.Errorf("check river schema: %w", err)
	}
	if !river {
		return errors.New("river schema missing")
	}
	return nil
}
