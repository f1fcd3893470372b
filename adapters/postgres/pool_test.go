package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
)

// DB runs a request's queries and transactions on the request pool and everything else on
// the background pool, so requests never wait for a connection behind background work.
func TestDBPoolByContext(t *testing.T) {
	t.Parallel()
	url := pgtest.NewURL(t)
	ctx := context.Background()
	requests, err := postgres.NewPool(ctx, url, 2, "test-requests")
	require.NoError(t, err)
	background, err := postgres.NewPool(ctx, url, 2, "test-background")
	require.NoError(t, err)
	db := postgres.NewDB(requests, background)
	t.Cleanup(db.Close)
	require.Len(t, db.Pools(), 2)

	// Every background connection held: a request still runs, queries and a transaction.
	var held []interface{ Release() }
	for range 2 {
		c, err := background.Acquire(ctx)
		require.NoError(t, err)
		held = append(held, c)
	}
	req := postgres.ForRequest(ctx)
	require.True(t, postgres.IsRequest(req))
	require.False(t, postgres.IsRequest(ctx))
	require.Same(t, requests, db.Pool(req))
	require.Same(t, background, db.Pool(ctx))
	var name string
	require.NoError(t, db.QueryRow(req, `SELECT current_setting('application_name')`).Scan(&name))
	require.Equal(t, "test-requests", name, "pg_stat_activity tells the pools apart")
	tx := postgres.NewTxRunner(db, func(tx pgx.Tx) pgx.Tx { return tx })
	require.NoError(t, tx.InTx(req, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT 1`)
		return err
	}))
	for _, c := range held {
		c.Release()
	}

	// And background work uses its own pool.
	before := background.Stat().AcquireCount()
	require.NoError(t, db.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&name))
	require.Equal(t, "test-background", name)
	require.Greater(t, background.Stat().AcquireCount(), before)

	// One pool for both: a process of one role.
	shared := postgres.NewDB(requests, requests)
	require.Len(t, shared.Pools(), 1)
	require.Same(t, requests, shared.Pool(ctx))
}

func TestSplitConns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total                int32
		cpus                 int
		requests, background int32
	}{{25, 8, 8, 16}, {4, 8, 2, 2}, {10, 8, 3, 7}, {100, 8, 33, 16}, {25, 2, 8, 4}, {25, 1, 8, 2}, {4, 1, 2, 2}} {
		r, b := postgres.SplitConns(c.total, c.cpus)
		require.Equal(t, c.requests, r, "requests of %d on %d CPUs", c.total, c.cpus)
		require.Equal(t, c.background, b, "background of %d on %d CPUs", c.total, c.cpus)
		require.LessOrEqual(t, r+b, c.total)
	}
}
