package riveradapter

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// GINIndexes are the GIN indexes River creates on river_job's args and metadata.
// Nothing here queries jobs by their args or metadata (they serve only River's optional
// JobList metadata filter and ad hoc SQL), yet every job paid for them three times: each
// of its row versions (insert, fetch, completion) put its args' keys and values into one
// and its metadata's into the other, and a webhook batch now and then stalled on a GIN
// pending-list merge (docs/ARCHITECTURE.md has the measurements). River's later
// migrations do not touch them; its reindexer is told to skip them (NewClient).
var GINIndexes = []string{"river_job_args_index", "river_job_metadata_index"}

// reindexed is River's reindexer list without GINIndexes.
func reindexed() []string {
	return slices.DeleteFunc(river.ReindexerIndexNamesDefault(), func(ix string) bool { return slices.Contains(GINIndexes, ix) })
}

// MigrateSchema applies River's schema (rivermigrate) and drops GINIndexes. It is a
// postgres.SchemaMigration: Migrate runs it under the migration lock, held on conn.
func MigrateSchema(ctx context.Context, pool *pgxpool.Pool, conn *pgxpool.Conn) (int, error) {
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return 0, fmt.Errorf("river schema: %w", err)
	}
	out, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("river schema: %w", err)
	}
	for _, ix := range GINIndexes {
		// CONCURRENTLY: on a live system the drop waits for the transactions using the
		// table instead of stopping every job insert and fetch behind its lock.
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{ix}.Sanitize()); err != nil {
			return len(out.Versions), fmt.Errorf("river schema: drop %s: %w", ix, err)
		}
	}
	return len(out.Versions), nil
}

// Ready reports nil when River's tables are there.
func Ready(ctx context.Context, pool *pgxpool.Pool) error {
	var ok bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&ok); err != nil {
		return fmt.Errorf("check river schema: %w", err)
	}
	if !ok {
		return errors.New("river schema missing")
	}
	return nil
}
