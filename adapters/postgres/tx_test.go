package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

func TestTxRunner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		pool *pgxpool.Pool
		tx   *postgres.TxRunner[workspaces.Repos]
		repo *postgres.WorkspaceRepo
		user domain.User
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		pool := pgtest.NewPool(t)
		tx := postgres.NewTxRunner(pool, func(tx pgx.Tx) workspaces.Repos {
			return workspaces.Repos{Store: postgres.NewWorkspaceRepo(tx), Audit: postgres.NewAuditRepo(tx)}
		})
		repo := postgres.NewWorkspaceRepo(pool)
		return &testBundle{pool: pool, tx: tx, repo: repo, user: createUser(t, repo, "owner@example.com")}
	}
	// write does what creating a workspace does: the workspace, its owner, its audit entry.
	write := func(ctx context.Context, r workspaces.Repos, u domain.User) (domain.Workspace, error) {
		w := domain.Workspace{ID: domain.NewID(), Name: "W", Plan: domain.PlanFree, CreatedAt: now(), UpdatedAt: now()}
		if err := r.Store.CreateWorkspace(ctx, w); err != nil {
			return w, err
		}
		if err := r.Store.AddMember(ctx, w.ID, u.ID, access.Owner, now()); err != nil {
			return w, err
		}
		c := domain.Caller{Type: domain.ActorUser, ID: u.ID, WorkspaceID: w.ID}
		return w, r.Audit.Record(ctx, domain.NewAuditEntry(c, "workspace.created", "workspace", w.ID.String(), nil, now()))
	}
	count := func(t *testing.T, b *testBundle, table string) int {
		t.Helper()
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n))
		return n
	}

	t.Run("CommitsWhenFnSucceeds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var w domain.Workspace
		err := b.tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			var err error
			w, err = write(ctx, r, b.user)
			return err
		})
		require.NoError(t, err)

		_, err = b.repo.Workspace(ctx, w.ID)
		require.NoError(t, err)
		role, err := b.repo.MemberRole(ctx, w.ID, b.user.ID)
		require.NoError(t, err)
		require.Equal(t, access.Owner, role)
		list, err := postgres.NewAuditRepo(b.pool).List(ctx, w.ID, audit.Filter{}, 10)
		require.NoError(t, err)
		require.Len(t, list, 1)
	})

	t.Run("RollsBackWhenFnFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("boom")
		var w domain.Workspace
		err := b.tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			var err error
			if w, err = write(ctx, r, b.user); err != nil {
				return err
			}
			// Everything is visible inside the transaction...
			_, err = r.Store.Workspace(ctx, w.ID)
			require.NoError(t, err)
			return boom
		})
		require.ErrorIs(t, err, boom)

		// ...and nothing of it after.
		_, err = b.repo.Workspace(ctx, w.ID)
		requireKind(t, domain.KindNotFound, err)
		require.Zero(t, count(t, b, "workspaces"))
		require.Zero(t, count(t, b, "memberships"))
		require.Zero(t, count(t, b, "audit_logs"))
	})

	t.Run("RollsBackOnADomainErrorFromAWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			w, err := write(ctx, r, b.user)
			if err != nil {
				return err
			}
			return r.Store.AddMember(ctx, w.ID, b.user.ID, access.Agent, now()) // already the owner
		})
		requireKind(t, domain.KindConflict, err)
		require.Zero(t, count(t, b, "workspaces"))
		require.Zero(t, count(t, b, "audit_logs"))
	})

	t.Run("RetriesSerializationFailures", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		attempts := 0
		err := b.tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			attempts++
			if _, err := write(ctx, r, b.user); err != nil {
				return err
			}
			if attempts == 1 {
				return &pgconn.PgError{Code: pgerrcode.SerializationFailure}
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, attempts)
		require.Equal(t, 1, count(t, b, "workspaces"), "only the successful attempt's writes remain")
		require.Equal(t, 1, count(t, b, "audit_logs"))
	})

	t.Run("GivesUpAfterThreeAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		attempts := 0
		err := b.tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			attempts++
			return &pgconn.PgError{Code: pgerrcode.DeadlockDetected}
		})
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, pgerrcode.DeadlockDetected, pgErr.Code)
		require.Equal(t, 3, attempts)
	})

	t.Run("DoesNotRetryOtherErrors", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		attempts := 0
		err := b.tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			attempts++
			return &pgconn.PgError{Code: pgerrcode.UniqueViolation}
		})
		require.Error(t, err)
		require.Equal(t, 1, attempts)
	})
}
