package postgres_test

import (
	"time"

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
			return workspaces.Repos{Store: postgres.NewWorkspaceRepo(tx), Events: postgres.NewEventLog(tx)}
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
		return w, r.Events.Append(ctx, domain.Occurred(c, now(), domain.WorkspaceCreated{WorkspaceID: w.ID, Name: w.Name, Plan: w.Plan}))
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
		m, err := b.repo.Member(ctx, w.ID, b.user.ID)
		require.NoError(t, err)
		require.Equal(t, access.Owner, m.Role)
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

// allowAll lets every role do everything, so only the use case's own rules decide.
type allowAll struct{}

func (allowAll) Can(access.Role, string, access.Permission) bool { return true }

// Two owners demoting or removing each other at the same moment: LockOwners serializes
// the last-owner check, so exactly one wins and the workspace keeps an owner.
func TestLastOwnerUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	repo := postgres.NewWorkspaceRepo(pool)
	tx := postgres.NewTxRunner(pool, func(tx pgx.Tx) workspaces.Repos {
		return workspaces.Repos{Store: postgres.NewWorkspaceRepo(tx), Events: postgres.NewEventLog(tx)}
	})
	svc := workspaces.NewService(workspaces.Deps{Tx: tx, Store: repo, Authz: allowAll{}, Now: time.Now})
	a, b := createUser(t, repo, "a@example.com"), createUser(t, repo, "b@example.com")

	for round := range 6 {
		w := createWorkspace(t, repo, "W")
		require.NoError(t, repo.AddMember(ctx, w.ID, a.ID, access.Owner, now()))
		require.NoError(t, repo.AddMember(ctx, w.ID, b.ID, access.Owner, now()))
		caller := func(u domain.User) domain.Caller {
			return domain.Caller{Type: domain.ActorUser, ID: u.ID, WorkspaceID: w.ID, Role: access.Owner}
		}

		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() {
			<-start
			_, err := svc.ChangeRole(ctx, caller(a), b.ID, "agent")
			errs <- err
		}()
		go func() {
			<-start
			if round%2 == 0 {
				_, err := svc.ChangeRole(ctx, caller(b), a.ID, "viewer")
				errs <- err
				return
			}
			errs <- svc.RemoveMember(ctx, caller(b), a.ID)
		}()
		close(start)
		e1, e2 := <-errs, <-errs

		if e1 != nil {
			e1, e2 = e2, e1
		}
		require.NoError(t, e1, "round %d: one change goes through", round)
		requireKind(t, domain.KindLastOwner, e2)
		n, err := repo.LockOwners(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, 1, n, "round %d: exactly one owner is left", round)
	}
}
