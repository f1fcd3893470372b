package rotation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/application/rotation/rotationtest"
	"github.com/wabaplatform/waba/domain"
)

// failingTx makes the failAt-th Update (1-based) fail, so its transaction rolls back.
type failingTx struct {
	rotation.TxRunner
	failAt, calls int
}

func (f *failingTx) InTx(ctx context.Context, fn func(context.Context, rotation.Repos) error) error {
	return f.TxRunner.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
		r.Numbers = failingStore{Store: r.Numbers, tx: f}
		return fn(ctx, r)
	})
}

type failingStore struct {
	rotation.Store
	tx *failingTx
}

func (s failingStore) Update(ctx context.Context, p domain.PhoneNumber) error {
	if s.tx.calls++; s.tx.calls == s.tx.failAt {
		return errors.New("boom")
	}
	return s.Store.Update(ctx, p)
}

type rewrapper struct{}

func (rewrapper) KeyID() string { return "new" }
func (rewrapper) Rewrap(_ context.Context, s domain.Sealed) (domain.Sealed, error) {
	s.KeyID = "new"
	return s, nil
}

func TestRotateResumesAndCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := rotationtest.NewMemory()
	var ps []domain.PhoneNumber
	for range 7 {
		pin := domain.Sealed{KeyID: "old"}
		p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: domain.NewID(), Token: domain.Sealed{KeyID: "old"}, PIN: &pin}
		db.Put(p)
		ps = append(ps, p)
	}

	// The fifth update, in the second batch, fails: the first batch stays done, the second
	// is rolled back whole.
	res, err := rotation.Rotate(ctx, &failingTx{TxRunner: db, failAt: 5}, rewrapper{}, 3, time.Now)
	require.Error(t, err)
	require.Equal(t, rotation.Result{Rotated: 3, Batches: 1}, res, "what committed before the failure")
	require.Len(t, db.Events(), 3)
	got, ok := db.Number(ps[3].WorkspaceID, ps[3].ID)
	require.True(t, ok)
	require.Equal(t, "old", got.Token.KeyID, "the failed batch's first update was rolled back")

	res, err = rotation.Rotate(ctx, db, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Equal(t, rotation.Result{Rotated: 4, Batches: 2}, res, "the run resumes with the rest")
	for _, p := range ps {
		got, ok := db.Number(p.WorkspaceID, p.ID)
		require.True(t, ok)
		require.Equal(t, "new", got.Token.KeyID)
		require.Equal(t, "new", got.PIN.KeyID)
	}
	require.Len(t, db.Events(), 7, "one event per number rotated")

	res, err = rotation.Rotate(ctx, db, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Zero(t, res.Rotated, "a second run finds nothing to do")
}
