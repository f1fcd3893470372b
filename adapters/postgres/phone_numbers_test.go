package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/application/rotation/rotationtest"
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

func TestPhoneNumberRepoRotationContract(t *testing.T) {
	t.Parallel()
	rotationtest.RunStoreContract(t, func(t *testing.T) rotationtest.Subject {
		ctx := context.Background()
		pool := pgtest.NewPool(t)
		wr, repo := postgres.NewWorkspaceRepo(pool), postgres.NewPhoneNumberRepo(pool)
		return rotationtest.Subject{
			Tx: postgres.NewTxRunner(pool, func(tx pgx.Tx) rotation.Repos {
				return rotation.Repos{Numbers: postgres.NewPhoneNumberRepo(tx), Hooks: postgres.NewHookRepo(tx), Events: postgres.NewEventLog(tx)}
			}),
			Workspace: func(t *testing.T) domain.ID { return createWorkspace(t, wr, "Acme").ID },
			Number: func(t *testing.T, p domain.PhoneNumber) {
				require.NoError(t, repo.Create(ctx, p))
				require.NoError(t, repo.Update(ctx, p)) // Create writes only what onboarding knows first
			},
			Read: func(t *testing.T, ws, id domain.ID) domain.PhoneNumber {
				p, err := repo.Get(ctx, ws, id, false)
				require.NoError(t, err)
				return p
			},
			Lock: func(t *testing.T, ws, id domain.ID) func() {
				tx, err := pool.Begin(ctx)
				require.NoError(t, err)
				release := func() { _ = tx.Rollback(ctx) }
				t.Cleanup(release) // before the pool closes, which waits for this connection
				_, err = postgres.NewPhoneNumberRepo(tx).Get(ctx, ws, id, true)
				require.NoError(t, err)
				return release
			},
			Waiting: func(*testing.T) int { return lockWaiters(pool) },
		}
	})
}

// Two rotations at once share the work: the second waits for the rows the first has locked
// through SealedAfter, and takes only those still to rotate once the first commits.
func TestPhoneNumberRepoSealedAfterWaitsForWhatAnotherRotationLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	repo := postgres.NewPhoneNumberRepo(pool)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme").ID
	var all []domain.ID
	for i := range 3 {
		p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: fmt.Sprint(1000 + i), WABAID: "2001",
			Status: domain.NumberConnected, Token: domain.Sealed{Ciphertext: []byte{1}, Nonce: []byte{2}, WrappedKey: []byte{3}, KeyID: "old"},
			CreatedAt: now(), UpdatedAt: now()}
		require.NoError(t, repo.Create(ctx, p))
		all = append(all, p.ID)
	}
	ids := func(ps []domain.PhoneNumber) []domain.ID {
		out := []domain.ID{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}

	first, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = first.Rollback(ctx) }()
	got, err := postgres.NewPhoneNumberRepo(first).SealedAfter(ctx, "new", domain.NilID, 2)
	require.NoError(t, err)
	require.Equal(t, all[:2], ids(got))

	type result struct {
		got []domain.PhoneNumber
		err error
	}
	second := make(chan result, 1)
	go func() {
		var got []domain.PhoneNumber
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			got, err = postgres.NewPhoneNumberRepo(tx).SealedAfter(ctx, "new", domain.NilID, 10)
			return err
		})
		second <- result{got, err}
	}()
	require.Eventually(t, func() bool { return lockWaiters(pool) == 1 }, 10*time.Second, 5*time.Millisecond,
		"the second waits for the first's rows")
	for _, p := range got {
		p.Token.KeyID = "new"
		require.NoError(t, postgres.NewPhoneNumberRepo(first).Update(ctx, p))
	}
	require.NoError(t, first.Commit(ctx))
	res := <-second
	require.NoError(t, res.err)
	require.Equal(t, all[2:], ids(res.got), "the rows the first rotated are not taken again")
}

// lockWaiters counts the sessions of pool's database waiting for a lock (-1: it could not
// tell).
func lockWaiters(pool *pgxpool.Pool) int {
	n := -1
	_ = pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
	return n
}
