package riveradapter

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGroupWithoutWindow(t *testing.T) {
	t.Parallel()

	t.Run("BatchesFormWhileTheFlusherIsBusy", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		var mu sync.Mutex
		var batches [][]int
		g := newGroup(groupConfig{MaxBatch: 3, Flushers: 1}, nil, func(b []int) {
			if b[0] == 0 {
				<-release // the first batch holds the only flusher
			}
			mu.Lock()
			batches = append(batches, b)
			mu.Unlock()
		})
		require.NoError(t, g.submit(context.Background(), 0))
		for i := 1; i <= 7; i++ {
			require.NoError(t, g.submit(context.Background(), i))
		}
		close(release)
		g.close()
		mu.Lock()
		defer mu.Unlock()
		var got []int
		for _, b := range batches {
			require.LessOrEqual(t, len(b), 3)
			got = append(got, b...)
		}
		require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7}, got, "every item once, in order")
		require.Less(t, len(batches), 8, "items that waited went together")
	})

	t.Run("ALoneItemGoesAtOnce", func(t *testing.T) {
		t.Parallel()
		flushed := make(chan []int, 1)
		g := newGroup(groupConfig{MaxBatch: 10, Flushers: 1}, nil, func(b []int) { flushed <- b })
		defer g.close()
		require.NoError(t, g.submit(context.Background(), 42))
		require.Equal(t, []int{42}, <-flushed) // no window to wait out
	})

	t.Run("ClosedRefuses", func(t *testing.T) {
		t.Parallel()
		g := newGroup(groupConfig{MaxBatch: 10, Flushers: 1}, nil, func([]int) {})
		g.close()
		require.ErrorIs(t, g.submit(context.Background(), 1), errGroupClosed)
	})
}
