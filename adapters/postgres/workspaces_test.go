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
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

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

	t.Run("EmailUniqueCaseInsensitively", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := createUser(t, b.repo, "ann@example.com")

		err := b.repo.CreateUser(ctx, domain.User{ID: domain.NewID(), Email: "ANN@Example.com", Name: "x", PasswordHash: "h", CreatedAt: now()})
		requireKind(t, domain.KindEmailTaken, err)

		got, err := b.repo.UserByEmail(ctx, "Ann@EXAMPLE.com")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, "ann@example.com", got.Email)
		require.Equal(t, "h", got.PasswordHash)
		require.True(t, u.CreatedAt.Equal(got.CreatedAt))

		got, err = b.repo.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u.Email, got.Email)

		_, err = b.repo.UserByEmail(ctx, "bob@example.com")
		requireKind(t, domain.KindNotFound, err)
		_, err = b.repo.UserByID(ctx, domain.NewID())
		requireKind(t, domain.KindNotFound, err)

		// A duplicate id is not an email problem.
		err = b.repo.CreateUser(ctx, domain.User{ID: u.ID, Email: "other@example.com", Name: "x", PasswordHash: "h", CreatedAt: now()})
		require.Error(t, err)
		require.False(t, domain.IsKind(err, domain.KindEmailTaken))
	})

	t.Run("Workspace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w := createWorkspace(t, b.repo, "Acme")

		got, err := b.repo.Workspace(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, "Acme", got.Name)
		require.Equal(t, domain.PlanFree, got.Plan)

		w.Name, w.Plan, w.UpdatedAt = "Acme Ltd", domain.PlanEnterprise, now().Add(time.Minute)
		require.NoError(t, b.repo.UpdateWorkspace(ctx, w))
		got, err = b.repo.Workspace(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, "Acme Ltd", got.Name)
		require.Equal(t, domain.PlanEnterprise, got.Plan)
		require.True(t, w.UpdatedAt.Equal(got.UpdatedAt))
		require.True(t, w.CreatedAt.Equal(got.CreatedAt))

		_, err = b.repo.Workspace(ctx, domain.NewID())
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("Memberships", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w1, w2 := createWorkspace(t, b.repo, "One"), createWorkspace(t, b.repo, "Two")
		ann, bob := createUser(t, b.repo, "ann@example.com"), createUser(t, b.repo, "bob@example.com")
		t0 := now()

		require.NoError(t, b.repo.AddMember(ctx, w1.ID, ann.ID, access.Owner, t0))
		require.NoError(t, b.repo.AddMember(ctx, w2.ID, ann.ID, access.Viewer, t0.Add(time.Second)))
		require.NoError(t, b.repo.AddMember(ctx, w1.ID, bob.ID, access.Agent, t0.Add(2*time.Second)))

		err := b.repo.AddMember(ctx, w1.ID, bob.ID, access.Manager, now())
		requireKind(t, domain.KindConflict, err)

		role, err := b.repo.MemberRole(ctx, w1.ID, bob.ID)
		require.NoError(t, err)
		require.Equal(t, access.Agent, role, "the duplicate did not change the role")
		_, err = b.repo.MemberRole(ctx, w2.ID, bob.ID)
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
		role, err = b.repo.MemberRole(ctx, w1.ID, bob.ID)
		require.NoError(t, err)
		require.Equal(t, access.Manager, role)

		require.NoError(t, b.repo.RemoveMember(ctx, w1.ID, bob.ID))
		_, err = b.repo.MemberRole(ctx, w1.ID, bob.ID)
		requireKind(t, domain.KindNotFound, err)
		role, err = b.repo.MemberRole(ctx, w1.ID, ann.ID)
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

		got, err := b.repo.ActiveAPIKey(ctx, domain.HashAPIKey(s1))
		require.NoError(t, err)
		require.Equal(t, k1.ID, got.ID)
		require.Equal(t, w.ID, got.WorkspaceID)
		require.Equal(t, access.Agent, got.Role)
		require.Equal(t, creator, got.CreatedBy)
		_, err = b.repo.ActiveAPIKey(ctx, domain.HashAPIKey("wsk_unknown"))
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

		_, err = b.repo.ActiveAPIKey(ctx, domain.HashAPIKey(s1))
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

	t.Run("MembersCursorAndLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w, other := createWorkspace(t, b.repo, "Acme"), createWorkspace(t, b.repo, "Other")
		base := time.Now()
		var users []domain.User
		for i := range 5 {
			u := domain.User{ID: idAt(base.Add(time.Duration(i) * time.Millisecond)), Email: string(rune('a'+i)) + "@example.com",
				Name: "u", PasswordHash: "h", CreatedAt: now()}
			require.NoError(t, b.repo.CreateUser(ctx, u))
			users = append(users, u)
		}
		// Joined in the reverse order of their ids: the list follows the id, not the join.
		t0 := now()
		for i := range users {
			require.NoError(t, b.repo.AddMember(ctx, w.ID, users[len(users)-1-i].ID, access.Agent, t0.Add(time.Duration(i)*time.Second)))
		}
		require.NoError(t, b.repo.AddMember(ctx, other.ID, users[2].ID, access.Owner, t0))

		seen := walkIDs(t, func(after domain.ID, limit int) ([]domain.Member, error) {
			return b.repo.Members(ctx, w.ID, after, limit)
		},
			func(m domain.Member) domain.ID { return m.UserID }, func(m domain.Member) { require.Equal(t, w.ID, m.WorkspaceID) })
		require.Equal(t, []domain.ID{users[0].ID, users[1].ID, users[2].ID, users[3].ID, users[4].ID}, seen)

		// A cursor stays valid when its member has gone meanwhile.
		require.NoError(t, b.repo.RemoveMember(ctx, w.ID, users[1].ID))
		page, err := b.repo.Members(ctx, w.ID, users[1].ID, 50)
		require.NoError(t, err)
		require.Len(t, page, 3)
		require.Equal(t, users[2].ID, page[0].UserID)
	})

	t.Run("APIKeysCursorAndLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		w, other := createWorkspace(t, b.repo, "Acme"), createWorkspace(t, b.repo, "Other")
		base := time.Now()
		var keys []domain.APIKey
		for i := range 6 {
			_, hash := domain.NewAPIKeySecret()
			k := domain.APIKey{ID: idAt(base.Add(time.Duration(i) * time.Millisecond)), WorkspaceID: w.ID, Name: "key", Role: access.Agent,
				Hash: hash, CreatedBy: domain.NewID(), CreatedAt: now()}
			require.NoError(t, b.repo.CreateAPIKey(ctx, k))
			keys = append(keys, k)
		}
		_, hash := domain.NewAPIKeySecret()
		require.NoError(t, b.repo.CreateAPIKey(ctx, domain.APIKey{ID: domain.NewID(), WorkspaceID: other.ID, Name: "key", Role: access.Agent,
			Hash: hash, CreatedBy: domain.NewID(), CreatedAt: now()}))
		require.NoError(t, b.repo.RevokeAPIKey(ctx, w.ID, keys[2].ID, now()))

		seen := walkIDs(t, func(before domain.ID, limit int) ([]domain.APIKey, error) {
			return b.repo.APIKeys(ctx, w.ID, before, limit)
		},
			func(k domain.APIKey) domain.ID { return k.ID }, func(k domain.APIKey) { require.Nil(t, k.Hash) })
		require.Equal(t, []domain.ID{keys[5].ID, keys[4].ID, keys[3].ID, keys[1].ID, keys[0].ID}, seen, "newest first, revoked left out")

		// A revoked key's id is still a valid cursor.
		page, err := b.repo.APIKeys(ctx, w.ID, keys[2].ID, 50)
		require.NoError(t, err)
		require.Len(t, page, 2)
		require.Equal(t, keys[1].ID, page[0].ID)
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
