package rotation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/domain"
)

type fakeStore struct {
	rows   []domain.PhoneNumber
	failAt int // Update fails on this call number (1-based), 0 never
	calls  int
}

func (f *fakeStore) SealedAfter(_ context.Context, keyID string, after domain.ID, limit int) ([]domain.PhoneNumber, error) {
	var out []domain.PhoneNumber
	for _, p := range f.rows {
		if string(p.ID[:]) > string(after[:]) && (p.Token.KeyID != keyID || (p.PIN != nil && p.PIN.KeyID != keyID)) && len(out) < limit {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeStore) Update(_ context.Context, p domain.PhoneNumber) error {
	f.calls++
	if f.calls == f.failAt {
		return errors.New("boom")
	}
	for i := range f.rows {
		if f.rows[i].ID == p.ID {
			f.rows[i] = p
		}
	}
	return nil
}

type fakeEvents struct{ n int }

func (a *fakeEvents) Append(_ context.Context, os ...domain.Occurrence) error {
	a.n += len(os)
	return nil
}

// tx applies writes directly: good enough to test batching and resumption.
type tx struct {
	s *fakeStore
	a *fakeEvents
}

func (t tx) InTx(ctx context.Context, fn func(context.Context, rotation.Repos) error) error {
	return fn(ctx, rotation.Repos{Numbers: t.s, Events: t.a})
}

type rewrapper struct{}

func (rewrapper) KeyID() string { return "new" }
func (rewrapper) Rewrap(_ context.Context, s domain.Sealed) (domain.Sealed, error) {
	s.KeyID = "new"
	return s, nil
}

func TestRotateResumesAndCompletes(t *testing.T) {
	t.Parallel()
	s := &fakeStore{failAt: 4}
	for range 7 {
		pin := domain.Sealed{KeyID: "old"}
		s.rows = append(s.rows, domain.PhoneNumber{ID: domain.NewID(), Token: domain.Sealed{KeyID: "old"}, PIN: &pin})
	}
	a := &fakeEvents{}
	_, err := rotation.Rotate(context.Background(), tx{s, a}, rewrapper{}, 3, time.Now)
	require.Error(t, err, "the fourth update fails")

	res, err := rotation.Rotate(context.Background(), tx{s, a}, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Greater(t, res.Rotated, 0)
	for _, p := range s.rows {
		require.Equal(t, "new", p.Token.KeyID)
		require.Equal(t, "new", p.PIN.KeyID)
	}
	res, err = rotation.Rotate(context.Background(), tx{s, a}, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Zero(t, res.Rotated, "a second run finds nothing to do")
}
