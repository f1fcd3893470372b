package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/wabaplatform/waba/adapters/ratelimit"
)

// A campaign takes from the API's per-minute counter, up to the window's limit less what it
// leaves to the API, and the API's sends count against what the campaign took.
func TestTakeUpToSharesTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := ratelimit.NewQuota(memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "t", CleanUpInterval: time.Minute}))
	const key, limit, keep = "quota:messages:ws", 100, 10

	for range 5 { // the API sent five
		_, err := q.Take(ctx, key, limit)
		require.NoError(t, err)
	}
	got, reset, err := q.TakeUpTo(ctx, key, limit, keep, 80)
	require.NoError(t, err)
	require.Equal(t, 80, got)
	require.WithinDuration(t, time.Now().Add(time.Minute), reset, 2*time.Second)
	got, _, err = q.TakeUpTo(ctx, key, limit, keep, 80)
	require.NoError(t, err)
	require.Equal(t, 5, got, "up to 90: the last 10 stay for the API")
	got, _, err = q.TakeUpTo(ctx, key, limit, keep, 80)
	require.NoError(t, err)
	require.Zero(t, got)
	st, err := q.Take(ctx, key, limit)
	require.NoError(t, err)
	require.False(t, st.Reached, "the API still sends")
	require.Equal(t, 9, st.Remaining)
}
