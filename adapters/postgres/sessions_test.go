package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/identity/identitytest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// identitySubject is a fresh database's WorkspaceRepo (identity.Users) and SessionRepo
// (identity.Sessions) under identitytest's contracts.
func identitySubject(t *testing.T) identitytest.Subject {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	wr := postgres.NewWorkspaceRepo(pool)
	return identitytest.Subject{
		Users:     wr,
		Sessions:  postgres.NewSessionRepo(pool),
		Workspace: func(t *testing.T, name string) domain.ID { return createWorkspace(t, wr, name).ID },
		Member: func(t *testing.T, ws, userID domain.ID, role access.Role, at time.Time) {
			require.NoError(t, wr.AddMember(ctx, ws, userID, role, at))
		},
		APIKey: func(t *testing.T, k domain.APIKey) {
			require.NoError(t, wr.CreateAPIKey(ctx, k))
			if k.RevokedAt != nil {
				require.NoError(t, wr.RevokeAPIKey(ctx, k.WorkspaceID, k.ID, *k.RevokedAt))
			}
		},
		DeleteWorkspace: func(t *testing.T, id domain.ID) {
			tag, err := pool.Exec(ctx, `UPDATE workspaces SET deleted_at = now() WHERE id = $1`, id)
			require.NoError(t, err)
			require.EqualValues(t, 1, tag.RowsAffected())
		},
		RevokedReason: func(t *testing.T, id domain.ID) string {
			var reason string
			require.NoError(t, pool.QueryRow(ctx, `SELECT revoked_reason FROM sessions WHERE id = $1`, id).Scan(&reason))
			return reason
		},
	}
}

func TestSessionRepoContract(t *testing.T) {
	t.Parallel()
	identitytest.RunSessionsContract(t, identitySubject)
}
