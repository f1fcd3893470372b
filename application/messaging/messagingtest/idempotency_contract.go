package messagingtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// IdempotencySubject is an idempotency store under the contract.
type IdempotencySubject struct {
	Keys messaging.IdempotencyKeys
	// Save saves r through the store's IdempotencySaver, in a transaction of its own.
	Save func(ctx context.Context, r messaging.IdempotencyRecord) error
	// Workspace creates a workspace and returns its id.
	Workspace func(t *testing.T) domain.ID
}

// NewIdempotencySubject returns the Memory's idempotency keys as a contract subject.
func NewIdempotencySubject(db *Memory) IdempotencySubject {
	return IdempotencySubject{Keys: db,
		Save: func(ctx context.Context, r messaging.IdempotencyRecord) error {
			return db.InTx(ctx, func(ctx context.Context, tx messaging.Repos) error { return tx.Idempotency.Save(ctx, r) })
		},
		Workspace: func(*testing.T) domain.ID { return domain.NewID() }}
}

// RunIdempotencyContract holds messaging.IdempotencyKeys and IdempotencySaver to what the
// ports promise. newSubject returns a fresh, empty store for each sub-test. Expiry follows
// the clock, so the records' times are around now.
func RunIdempotencyContract(t *testing.T, newSubject func(t *testing.T) IdempotencySubject) {
	t.Helper()
	ctx := context.Background()
	record := func(ws domain.ID, key string, expiresIn time.Duration) messaging.IdempotencyRecord {
		now := time.Now().UTC().Truncate(time.Microsecond)
		return messaging.IdempotencyRecord{WorkspaceID: ws, Key: key, RequestHash: []byte("hash of " + key), Status: 202,
			Body: []byte(`{"id":"` + domain.NewID().String() + `","status":"queued"}`), CreatedAt: now.Add(expiresIn - messaging.IdempotencyTTL),
			ExpiresAt: now.Add(expiresIn)}
	}
	save := func(t *testing.T, sub IdempotencySubject, r messaging.IdempotencyRecord) {
		t.Helper()
		require.NoError(t, sub.Save(ctx, r))
	}
	find := func(t *testing.T, sub IdempotencySubject, ws domain.ID, key string) (messaging.IdempotencyRecord, bool) {
		t.Helper()
		r, ok, err := sub.Keys.Find(ctx, ws, key)
		require.NoError(t, err)
		return r, ok
	}
	requireSame := func(t *testing.T, want, got messaging.IdempotencyRecord) {
		t.Helper()
		require.JSONEq(t, string(want.Body), string(got.Body), "the body, as JSON")
		want.Body, got.Body = nil, nil
		want.CreatedAt, want.ExpiresAt = want.CreatedAt.UTC(), want.ExpiresAt.UTC()
		got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
		require.Equal(t, want, got)
	}

	t.Run("SaveThenFindInItsWorkspace", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		r := record(ws, "order-1", time.Hour)
		save(t, sub, r)
		got, ok := find(t, sub, ws, "order-1")
		require.True(t, ok)
		requireSame(t, r, got)

		_, ok = find(t, sub, other, "order-1")
		require.False(t, ok, "another workspace's key")
		_, ok = find(t, sub, ws, "ORDER-1")
		require.False(t, ok, "keys are case-sensitive")
		_, ok = find(t, sub, ws, "order-2")
		require.False(t, ok)
	})

	t.Run("AnUnexpiredKeyIsSavedOnce", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		first := record(ws, "k", time.Hour)
		save(t, sub, first)
		second := record(ws, "k", 2*time.Hour)
		second.RequestHash = []byte("another body")
		err := sub.Save(ctx, second)
		require.Equal(t, domain.KindConflict, domain.KindOf(err), "a held key: %v", err)
		got, ok := find(t, sub, ws, "k")
		require.True(t, ok)
		requireSame(t, first, got)

		save(t, sub, record(other, "k", time.Hour)) // another workspace's key is free
	})

	t.Run("AnExpiredRecordIsGoneAndItsKeyFree", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		save(t, sub, record(ws, "k", -time.Minute))
		_, ok := find(t, sub, ws, "k")
		require.False(t, ok, "an expired record is not found")

		again := record(ws, "k", time.Hour)
		require.NoError(t, sub.Save(ctx, again), "and its key is free again")
		got, ok := find(t, sub, ws, "k")
		require.True(t, ok)
		requireSame(t, again, got)
	})

	t.Run("DeleteExpiredInBatches", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		cut := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
		for i, w := range []domain.ID{ws, other, ws, other} {
			save(t, sub, record(w, "old"+string(rune('a'+i)), -time.Duration(i+1)*time.Minute))
		}
		atCut := record(ws, "at-cut", time.Hour)
		atCut.ExpiresAt = cut // expired by the cut-off
		save(t, sub, atCut)
		fresh := record(ws, "fresh", 2*time.Hour)
		save(t, sub, fresh)

		var got []int
		for {
			n, err := sub.Keys.DeleteExpired(ctx, cut, 2)
			require.NoError(t, err)
			got = append(got, n)
			if n < 2 || len(got) > 10 {
				break
			}
		}
		require.Equal(t, []int{2, 2, 1}, got)
		_, ok := find(t, sub, ws, "fresh")
		require.True(t, ok, "an unexpired record stays")
		n, err := sub.Keys.DeleteExpired(ctx, cut.Add(2*time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, 1, n, "until it expires too")
	})
}
