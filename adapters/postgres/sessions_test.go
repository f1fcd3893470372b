package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/identity"
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

// plainHasher and plainTokens stand in for argon2id and JWT.
type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error)       { return "h:" + p, nil }
func (plainHasher) Verify(p, hash string) (bool, error) { return hash == "h:"+p, nil }

type plainTokens struct{}

func (plainTokens) Issue(userID, sessionID domain.ID) (string, time.Duration, error) {
	return userID.String() + " " + sessionID.String(), time.Minute, nil
}

func (plainTokens) Verify(token string) (domain.ID, domain.ID, error) {
	u, s, ok := strings.Cut(token, " ")
	if !ok {
		return domain.NilID, domain.NilID, errors.New("bad token")
	}
	userID, err := domain.ParseID(u)
	if err != nil {
		return domain.NilID, domain.NilID, err
	}
	sessionID, err := domain.ParseID(s)
	return userID, sessionID, err
}

type noThrottle struct{}

func (noThrottle) Peek(context.Context, identity.LoginLimit, string) (identity.Throttle, error) {
	return identity.Throttle{Limit: 10, Remaining: 10}, nil
}
func (noThrottle) Fail(context.Context, identity.LoginLimit, string) error { return nil }

// The reuse of a spent refresh token is answered 401, yet its revocation and event commit:
// what the in-memory tests cannot show, as their transactions never roll back.
func TestRefreshTokenReuseCommitsTheRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	wr := postgres.NewWorkspaceRepo(pool)
	tx := postgres.NewTxRunner(pool, func(tx pgx.Tx) identity.Repos {
		return identity.Repos{Users: postgres.NewWorkspaceRepo(tx), Sessions: postgres.NewSessionRepo(tx), Events: postgres.NewEventLog(tx)}
	})
	svc, err := identity.NewService(identity.Deps{Tx: tx, Users: wr, Sessions: postgres.NewSessionRepo(pool), Hasher: plainHasher{},
		Tokens: plainTokens{}, Throttle: noThrottle{}, Events: postgres.NewEventLog(pool), Now: now})
	require.NoError(t, err)
	u := domain.User{ID: domain.NewID(), Email: "ann@example.com", Name: "Ann", PasswordHash: "h:0123456789", CreatedAt: now()}
	require.NoError(t, wr.CreateUser(ctx, u))

	first, err := svc.Login(ctx, u.Email, "0123456789", domain.RequestMeta{})
	require.NoError(t, err)
	second, err := svc.Refresh(ctx, first.RefreshToken, domain.RequestMeta{})
	require.NoError(t, err)
	_, err = svc.Refresh(ctx, first.RefreshToken, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err)

	_, err = svc.Refresh(ctx, second.RefreshToken, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err)
	_, err = svc.Authenticate(ctx, second.AccessToken)
	requireKind(t, domain.KindUnauthenticated, err)
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT revoked_reason FROM sessions WHERE user_id = $1`, u.ID).Scan(&reason))
	require.Equal(t, "refresh_token_reused", reason)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE action = 'auth.refresh_reused'`).Scan(&n))
	require.Equal(t, 1, n)
}
