package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t) // already migrated from the template

	res, err := postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	require.True(t, res.NoChange(), "second run changed something: %+v", res)
	require.NoError(t, postgres.Ready(ctx, pool))
}

func TestMigrateConcurrentOnFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	// Drop everything the template brought, to migrate a truly empty database.
	_, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public;`)
	require.NoError(t, err)
	require.Error(t, postgres.Ready(ctx, pool), "an empty database must not be ready")

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = postgres.Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, postgres.Ready(ctx, pool))

	// River's GIN indexes were created by the run and then dropped; its others remain.
	var gin, others int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE indexname = ANY ($1)), count(*) FILTER (WHERE NOT indexname = ANY ($1))
		FROM pg_indexes WHERE tablename = 'river_job'`, postgres.RiverGINIndexes).Scan(&gin, &others))
	require.Zero(t, gin)
	require.GreaterOrEqual(t, others, 5)
}
