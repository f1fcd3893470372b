package riveradapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/riveradapter"
)

// fakeStore is an in-memory BatchInserter: a set of hashes, with a record of every batch.
type fakeStore struct {
	mu      sync.Mutex
	seen    map[string]bool
	batches [][]string
	fail    error
	delay   time.Duration
}

func (f *fakeStore) insert(ctx context.Context, jobs []riveradapter.WebhookArgs) ([]bool, error) {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	hashes := make([]string, len(jobs))
	dup := make([]bool, len(jobs))
	batch := map[string]bool{}
	for i, j := range jobs {
		if batch[j.SHA256] {
			return nil, errors.New("duplicate unique key inside one batch (SQLSTATE 21000)")
		}
		batch[j.SHA256] = true
		hashes[i] = j.SHA256
		dup[i] = f.seen[j.SHA256]
		f.seen[j.SHA256] = true
	}
	f.batches = append(f.batches, hashes)
	return dup, nil
}

type testBundle struct {
	store *fakeStore
	ing   *riveradapter.Ingester
}

func setup(t *testing.T, cfg riveradapter.IngestConfig) *testBundle {
	t.Helper()
	store := &fakeStore{seen: map[string]bool{}}
	ing := riveradapter.NewIngesterWith(store.insert, cfg)
	t.Cleanup(ing.Close)
	return &testBundle{store: store, ing: ing}
}

func TestNewWebhookArgs(t *testing.T) {
	t.Parallel()

	a := riveradapter.NewWebhookArgs([]byte(`{"object":"x"}`))
	require.Len(t, a.SHA256, 64)
	require.Equal(t, `{"object":"x"}`, string(a.Body()))
	js, err := json.Marshal(a)
	require.NoError(t, err)
	require.JSONEq(t, `{"sha256":"`+a.SHA256+`","raw":"eyJvYmplY3QiOiJ4In0="}`, string(js)) // base64, not nested JSON

	b := riveradapter.NewWebhookArgs([]byte("not json \xff"))
	require.Equal(t, "not json \xff", string(b.Body()))
	require.NotEqual(t, a.SHA256, b.SHA256)
}

func TestIngester(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentRequestsShareCommits", func(t *testing.T) {
		t.Parallel()
		b := setup(t, riveradapter.IngestConfig{Window: 5 * time.Millisecond, MaxBatch: 50, Flushers: 2})
		b.store.delay = 2 * time.Millisecond
		const n = 200
		var wg sync.WaitGroup
		var accepted atomic.Int32
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := b.ing.Ingest(context.Background(), fmt.Appendf(nil, `{"n":%d}`, i))
				require.NoError(t, err)
				require.False(t, dup)
				accepted.Add(1)
			}()
		}
		wg.Wait()
		require.EqualValues(t, n, accepted.Load())
		b.store.mu.Lock()
		defer b.store.mu.Unlock()
		require.Len(t, b.store.seen, n)
		require.Less(t, len(b.store.batches), n/2, "requests should be grouped into fewer commits")
		for _, batch := range b.store.batches {
			require.LessOrEqual(t, len(batch), 50)
		}
	})

	t.Run("IdenticalBodiesInOneBatchAreInsertedOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, riveradapter.IngestConfig{Window: 20 * time.Millisecond, Flushers: 1})
		const n = 20
		var wg sync.WaitGroup
		var dups atomic.Int32
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := b.ing.Ingest(context.Background(), []byte(`{"same":true}`))
				require.NoError(t, err)
				if dup {
					dups.Add(1)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, n-1, dups.Load(), "exactly one request inserts, the others are duplicates")
		require.Len(t, b.store.seen, 1)
	})

	t.Run("RedeliveryIsDuplicate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, riveradapter.IngestConfig{})
		dup, err := b.ing.Ingest(context.Background(), []byte(`{"a":1}`))
		require.NoError(t, err)
		require.False(t, dup)
		dup, err = b.ing.Ingest(context.Background(), []byte(`{"a":1}`))
		require.NoError(t, err)
		require.True(t, dup)
	})

	t.Run("FailureReachesEveryWaiter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, riveradapter.IngestConfig{Window: 5 * time.Millisecond})
		b.store.fail = errors.New("connection refused")
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := b.ing.Ingest(context.Background(), fmt.Appendf(nil, `{"n":%d}`, i))
				require.ErrorContains(t, err, "connection refused")
			}()
		}
		wg.Wait()
	})

	t.Run("CancelledRequestReturns", func(t *testing.T) {
		t.Parallel()
		b := setup(t, riveradapter.IngestConfig{})
		b.store.delay = 200 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := b.ing.Ingest(ctx, []byte(`{"slow":1}`))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("CloseCommitsAcceptedThenRefuses", func(t *testing.T) {
		t.Parallel()
		store := &fakeStore{seen: map[string]bool{}, delay: 5 * time.Millisecond}
		ing := riveradapter.NewIngesterWith(store.insert, riveradapter.IngestConfig{Window: 20 * time.Millisecond})
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := ing.Ingest(context.Background(), fmt.Appendf(nil, `{"n":%d}`, i))
				errs <- err
			}()
		}
		time.Sleep(2 * time.Millisecond) // let some requests in (not an assertion)
		ing.Close()
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
			} else {
				require.ErrorIs(t, err, riveradapter.ErrIngestStopped)
			}
		}
		store.mu.Lock()
		require.Len(t, store.seen, ok, "every request told it was queued was committed")
		store.mu.Unlock()
		_, err := ing.Ingest(context.Background(), []byte(`{}`))
		require.ErrorIs(t, err, riveradapter.ErrIngestStopped)
	})

	t.Run("OversizedBatchBytesSplit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, riveradapter.IngestConfig{Window: 20 * time.Millisecond, MaxBatchBytes: 100, Flushers: 1})
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := b.ing.Ingest(context.Background(), fmt.Appendf(nil, `{"n":%d,"pad":"%0100d"}`, i, 0))
				require.NoError(t, err)
			}()
		}
		wg.Wait()
		b.store.mu.Lock()
		defer b.store.mu.Unlock()
		for _, batch := range b.store.batches {
			require.Len(t, batch, 1, "a batch is full once it reaches MaxBatchBytes")
		}
	})
}
