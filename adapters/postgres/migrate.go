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
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/wabaplatform/waba/migrations"
)

// migrationLockKey serialises `waba migrate` across instances: rivermigrate, for one, takes
// no lock of its own and fails with duplicate-key errors when two instances race on a fresh
// database.
const migrationLockKey = 727_001

// SchemaMigration migrates another component's schema in the same database (River's) while
// Migrate holds the migration lock on conn; it returns how many steps it applied.
type SchemaMigration func(ctx context.Context, pool *pgxpool.Pool, conn *pgxpool.Conn) (applied int, err error)

// MigrateResult tells what a migration run changed.
type MigrateResult struct {
	AppFrom, AppTo uint
	OtherApplied   int // steps applied by the SchemaMigrations
}

// NoChange reports whether the run applied nothing.
func (r MigrateResult) NoChange() bool { return r.AppFrom == r.AppTo && r.OtherApplied == 0 }

// Migrate applies the app schema (golang-migrate) and then each of others under one
// session-level advisory lock, so concurrent instances take turns and the second one finds
// nothing to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool, others ...SchemaMigration) (MigrateResult, error) {
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
	for _, m := range others {
		n, err := m(ctx, pool, conn)
		res.OtherApplied += n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

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

// Ready reports nil when the database answers and holds the app schema this binary
// expects: the migrations at the latest version, not dirty.
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
	return nil
}
