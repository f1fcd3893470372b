package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/application/workspaces/workspacestest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

func TestInvitationRepoContract(t *testing.T) {
	t.Parallel()
	workspacestest.RunInvitationsContract(t, func(t *testing.T) workspacestest.Subject {
		pool := pgtest.NewPool(t)
		return workspacestest.Subject{
			Tx: postgres.NewTxRunner(pool, func(tx pgx.Tx) workspaces.Repos {
				return workspaces.Repos{Store: postgres.NewWorkspaceRepo(tx), Events: postgres.NewEventLog(tx),
					Invitations: postgres.NewInvitationRepo(tx)}
			}),
			Store:       postgres.NewWorkspaceRepo(pool),
			Invitations: postgres.NewInvitationRepo(pool),
		}
	})
}

// A token is spent once even when two requests present it at the same moment: the lookup
// locks the invitation until the first transaction ends.
func TestInvitationByTokenLocksTheInvitation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	now := time.Now().UTC()
	w := domain.Workspace{ID: domain.NewID(), Name: "Acme", Plan: domain.PlanFree, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, postgres.NewWorkspaceRepo(pool).CreateWorkspace(ctx, w))
	_, hash := domain.NewSecret(domain.InvitationTokenPrefix)
	inv := domain.Invitation{ID: domain.NewID(), WorkspaceID: w.ID, Email: "ann@example.com", Role: access.Agent,
		InvitedBy: domain.NewID(), CreatedAt: now, ExpiresAt: now.Add(domain.InvitationTTL)}
	require.NoError(t, postgres.NewInvitationRepo(pool).CreateInvitation(ctx, inv, hash))

	first, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = first.Rollback(ctx) }()
	_, err = postgres.NewInvitationRepo(first).InvitationByToken(ctx, hash)
	require.NoError(t, err)

	err = pgx.BeginFunc(ctx, pool, func(second pgx.Tx) error {
		_, err := second.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`)
		require.NoError(t, err)
		_, err = postgres.NewInvitationRepo(second).InvitationByToken(ctx, hash)
		return err
	})
	require.ErrorContains(t, err, "lock timeout", "the second lookup waits for the first transaction")
}
