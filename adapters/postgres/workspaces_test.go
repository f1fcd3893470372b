package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/identity/identitytest"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/application/workspaces/workspacestest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// TestWorkspaceRepo covers what the repository does beyond the contracts of the ports it
// implements (workspacestest's and identitytest's, run below against it and the in-memory
// stores).
func TestWorkspaceRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		pool *pgxpool.Pool
		repo *postgres.WorkspaceRepo
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		pool := pgtest.NewPool(t)
		return &testBundle{pool: pool, repo: postgres.NewWorkspaceRepo(pool)}
	}

	t.Run("Memberships", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w1, w2 := createWorkspace(t, b.repo, "One"), createWorkspace(t, b.repo, "Two")
		ann, bob := createUser(t, b.repo, "ann@example.com"), createUser(t, b.repo, "bob@example.com")
		t0 := now()
		memberRole := func(ws, userID domain.ID) (access.Role, error) {
			m, err := b.repo.Member(ctx, ws, userID)
			return m.Role, err
		}

		require.NoError(t, b.repo.AddMember(ctx, w1.ID, ann.ID, access.Owner, t0))
		require.NoError(t, b.repo.AddMember(ctx, w2.ID, ann.ID, access.Viewer, t0.Add(time.Second)))
		require.NoError(t, b.repo.AddMember(ctx, w1.ID, bob.ID, access.Agent, t0.Add(2*time.Second)))

		err := b.repo.AddMember(ctx, w1.ID, bob.ID, access.Manager, now())
		requireKind(t, domain.KindConflict, err)

		role, err := memberRole(w1.ID, bob.ID)
		require.NoError(t, err)
		require.Equal(t, access.Agent, role, "the duplicate did not change the role")
		_, err = memberRole(w2.ID, bob.ID)
		requireKind(t, domain.KindNotFound, err)

		ms, err := b.repo.Memberships(ctx, ann.ID)
		require.NoError(t, err)
		require.Equal(t, []domain.Membership{
			{WorkspaceID: w1.ID, WorkspaceName: "One", Role: access.Owner},
			{WorkspaceID: w2.ID, WorkspaceName: "Two", Role: access.Viewer},
		}, ms)

		m, err := b.repo.Member(ctx, w1.ID, bob.ID)
		require.NoError(t, err)
		require.Equal(t, "bob@example.com", m.Email)
		require.Equal(t, "bob", m.Name)
		require.Equal(t, access.Agent, m.Role)
		_, err = b.repo.Member(ctx, w2.ID, bob.ID)
		requireKind(t, domain.KindNotFound, err)

		members, err := b.repo.Members(ctx, w1.ID, domain.NilID, 50)
		require.NoError(t, err)
		require.Len(t, members, 2)
		require.Equal(t, ann.ID, members[0].UserID, "by user id")
		require.Equal(t, bob.ID, members[1].UserID)

		require.NoError(t, b.repo.SetMemberRole(ctx, w1.ID, bob.ID, access.Manager))
		role, err = memberRole(w1.ID, bob.ID)
		require.NoError(t, err)
		require.Equal(t, access.Manager, role)

		require.NoError(t, b.repo.RemoveMember(ctx, w1.ID, bob.ID))
		_, err = memberRole(w1.ID, bob.ID)
		requireKind(t, domain.KindNotFound, err)
		role, err = memberRole(w1.ID, ann.ID)
		require.NoError(t, err)
		require.Equal(t, access.Owner, role, "only that membership went")
	})

	t.Run("LockOwners", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w, other := createWorkspace(t, b.repo, "Acme"), createWorkspace(t, b.repo, "Other")
		for i, r := range []access.Role{access.Owner, access.Owner, access.Manager, access.Agent} {
			u := createUser(t, b.repo, string(rune('a'+i))+"@example.com")
			require.NoError(t, b.repo.AddMember(ctx, w.ID, u.ID, r, now()))
			require.NoError(t, b.repo.AddMember(ctx, other.ID, u.ID, access.Owner, now()))
		}

		tx, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		n, err := postgres.NewWorkspaceRepo(tx).LockOwners(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		// While tx holds the owner rows, a second transaction cannot lock them...
		tx2, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx2.Rollback(ctx) }()
		_, err = tx2.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`)
		require.NoError(t, err)
		_, err = postgres.NewWorkspaceRepo(tx2).LockOwners(ctx, w.ID)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "55P03", pgErr.Code, "lock_not_available")
		require.NoError(t, tx2.Rollback(ctx))

		// ...but another workspace's owners are not held.
		n, err = postgres.NewWorkspaceRepo(b.pool).LockOwners(ctx, other.ID)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		require.NoError(t, tx.Rollback(ctx))

		n, err = b.repo.LockOwners(ctx, domain.NewID())
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("APIKeys", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w, other := createWorkspace(t, b.repo, "Acme"), createWorkspace(t, b.repo, "Other")
		creator := domain.NewID()
		mk := func(ws domain.ID, role access.Role) (domain.APIKey, string) {
			secret, hash := domain.NewAPIKeySecret()
			k := domain.APIKey{ID: domain.NewID(), WorkspaceID: ws, Name: "key", Role: role, Hash: hash, CreatedBy: creator, CreatedAt: now()}
			require.NoError(t, b.repo.CreateAPIKey(ctx, k))
			return k, secret
		}
		k1, s1 := mk(w.ID, access.Agent)
		k2, _ := mk(w.ID, access.Viewer)
		k3, _ := mk(other.ID, access.Owner)

		got, err := b.repo.ActiveAPIKey(ctx, domain.HashSecret(s1))
		require.NoError(t, err)
		require.Equal(t, k1.ID, got.ID)
		require.Equal(t, w.ID, got.WorkspaceID)
		require.Equal(t, access.Agent, got.Role)
		require.Equal(t, creator, got.CreatedBy)
		_, err = b.repo.ActiveAPIKey(ctx, domain.HashSecret("wsk_unknown"))
		requireKind(t, domain.KindNotFound, err)

		list, err := b.repo.APIKeys(ctx, w.ID, domain.NilID, 50)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.ElementsMatch(t, []domain.ID{k1.ID, k2.ID}, []domain.ID{list[0].ID, list[1].ID})
		require.Nil(t, list[0].Hash, "lists never carry the hash")

		// Revoking through another workspace does nothing.
		requireKind(t, domain.KindNotFound, b.repo.RevokeAPIKey(ctx, other.ID, k1.ID, now()))
		require.NoError(t, b.repo.RevokeAPIKey(ctx, w.ID, k1.ID, now()))
		requireKind(t, domain.KindNotFound, b.repo.RevokeAPIKey(ctx, w.ID, k1.ID, now()))
		requireKind(t, domain.KindNotFound, b.repo.RevokeAPIKey(ctx, w.ID, domain.NewID(), now()))

		_, err = b.repo.ActiveAPIKey(ctx, domain.HashSecret(s1))
		requireKind(t, domain.KindNotFound, err)
		list, err = b.repo.APIKeys(ctx, w.ID, domain.NilID, 50)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, k2.ID, list[0].ID)
		list, err = b.repo.APIKeys(ctx, other.ID, domain.NilID, 50)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, k3.ID, list[0].ID)

		var revokedAt *time.Time
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT revoked_at FROM api_keys WHERE id = $1`, k1.ID).Scan(&revokedAt))
		require.NotNil(t, revokedAt)
	})

	t.Run("RunsInsideATransaction", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			repo := postgres.NewWorkspaceRepo(tx)
			createUser(t, repo, "tx@example.com")
			_, err := repo.UserByEmail(ctx, "tx@example.com")
			require.NoError(t, err, "visible inside its transaction")
			_, err = b.repo.UserByEmail(ctx, "tx@example.com")
			requireKind(t, domain.KindNotFound, err) // and not outside before commit
			return nil
		})
		require.NoError(t, err)
		_, err = b.repo.UserByEmail(ctx, "tx@example.com")
		require.NoError(t, err)
	})
}

func TestWorkspaceRepoContract(t *testing.T) {
	t.Parallel()
	workspacestest.RunStoreContract(t, func(t *testing.T) workspacestest.Subject {
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		return workspacestest.Subject{
			Tx: postgres.NewTxRunner(pool, func(tx pgx.Tx) workspaces.Repos {
				return workspaces.Repos{Store: postgres.NewWorkspaceRepo(tx), Events: postgres.NewEventLog(tx)}
			}),
			Store: wr,
			User:  func(t *testing.T, u domain.User) { require.NoError(t, wr.CreateUser(context.Background(), u)) },
		}
	})
}

func TestWorkspaceRepoUsersContract(t *testing.T) {
	t.Parallel()
	identitytest.RunUsersContract(t, identitySubject)
}
