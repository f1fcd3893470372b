package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/domain"
)

func TestPhoneNumberRepoListPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	wsRepo := postgres.NewWorkspaceRepo(pool)
	repo := postgres.NewPhoneNumberRepo(pool)
	w, other := createWorkspace(t, wsRepo, "Acme"), createWorkspace(t, wsRepo, "Other")

	seq := 0
	create := func(ws domain.ID, id domain.ID) domain.PhoneNumber {
		t.Helper()
		seq++
		p := domain.PhoneNumber{ID: id, WorkspaceID: ws, PhoneNumberID: fmt.Sprint(1000 + seq), WABAID: "2001",
			Status: domain.NumberConnecting, Token: domain.Sealed{Ciphertext: []byte{1}, Nonce: []byte{2}, WrappedKey: []byte{3}, KeyID: "k"},
			CreatedAt: now(), UpdatedAt: now()}
		require.NoError(t, repo.Create(ctx, p))
		return p
	}
	base := time.Now()
	var all []domain.ID
	for i := range 5 {
		all = append(all, create(w.ID, idAt(base.Add(time.Duration(i)*time.Millisecond))).ID)
	}
	create(other.ID, domain.NewID())

	seen := walkIDs(t, func(after domain.ID, limit int) ([]domain.PhoneNumber, error) {
		return repo.ListPage(ctx, w.ID, after, limit)
	},
		func(p domain.PhoneNumber) domain.ID { return p.ID }, func(p domain.PhoneNumber) {
			require.Equal(t, w.ID, p.WorkspaceID)
			require.Equal(t, "k", p.Token.KeyID, "the whole row is read")
		})
	require.Equal(t, all, seen, "oldest first, each once")

	page, err := repo.ListPage(ctx, w.ID, all[2], 50)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, all[3], page[0].ID)

	page, err = repo.ListPage(ctx, w.ID, all[4], 50)
	require.NoError(t, err)
	require.Empty(t, page)

	// List, which the send path reads, still returns every number.
	list, err := repo.List(ctx, w.ID)
	require.NoError(t, err)
	require.Len(t, list, 5)
}
