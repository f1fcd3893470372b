package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// SessionRepo stores sessions, their refresh tokens and password reset tokens (hashes
// only).
type SessionRepo struct{ q Querier }

// NewSessionRepo returns the repository over q (a pool or a transaction).
func NewSessionRepo(q Querier) *SessionRepo { return &SessionRepo{q: q} }

// CreateSession inserts a session.
func (r *SessionRepo) CreateSession(ctx context.Context, s domain.Session) error {
	_, err := r.q.Exec(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		s.ID, s.UserID, s.CreatedAt, s.ExpiresAt)
	return err
}

// AddRefreshToken inserts a refresh token's hash.
func (r *SessionRepo) AddRefreshToken(ctx context.Context, t domain.RefreshToken) error {
	_, err := r.q.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.SessionID, t.CreatedAt, t.ExpiresAt)
	return err
}

// RefreshToken finds a token and its session, locking both.
func (r *SessionRepo) RefreshToken(ctx context.Context, hash []byte) (domain.RefreshToken, domain.Session, error) {
	var t domain.RefreshToken
	var s domain.Session
	err := r.q.QueryRow(ctx, `
		SELECT t.token_hash, t.session_id, t.created_at, t.expires_at, t.used_at,
		       s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.token_hash = $1 FOR UPDATE`, hash).
		Scan(&t.Hash, &t.SessionID, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt, &s.ID, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt)
	return t, s, notFound(err, "refresh token")
}

// SpendRefreshToken marks a token used.
func (r *SessionRepo) SpendRefreshToken(ctx context.Context, hash []byte, at time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL`, hash, at)
	return err
}

// ExtendSession moves a session's expiry.
func (r *SessionRepo) ExtendSession(ctx context.Context, id domain.ID, expiresAt time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE sessions SET expires_at = $2 WHERE id = $1`, id, expiresAt)
	return err
}

// RevokeSession revokes a session once; its first reason stays.
func (r *SessionRepo) RevokeSession(ctx context.Context, id domain.ID, at time.Time, reason string) error {
	_, err := r.q.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL`, id, at, reason)
	return err
}

// RevokeUserSessions revokes the user's active sessions but except.
func (r *SessionRepo) RevokeUserSessions(ctx context.Context, userID, except domain.ID, at time.Time, reason string) (int, error) {
	tag, err := r.q.Exec(ctx, `
		UPDATE sessions SET revoked_at = $3, revoked_reason = $4
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`, userID, except, at, reason)
	return int(tag.RowsAffected()), err
}

// ActiveSession checks the session is the user's and not revoked.
func (r *SessionRepo) ActiveSession(ctx context.Context, sessionID, userID domain.ID) error {
	var one int
	err := r.q.QueryRow(ctx, `SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, sessionID, userID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Errorf(domain.KindUnauthenticated, "missing or invalid credentials")
	}
	return err
}

// SessionRole checks the session and reads the membership in one statement: every
// request with an access token pays one primary-key look-up more than a membership read.
// A membership of a deleted workspace does not count (one written by a request that raced
// the deletion would otherwise outlive it until the erasure).
func (r *SessionRepo) SessionRole(ctx context.Context, sessionID, userID, workspaceID domain.ID) (access.Role, error) {
	var role *string
	err := r.q.QueryRow(ctx, `
		SELECT m.role FROM sessions s
		LEFT JOIN (memberships m JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL)
			ON m.workspace_id = $3 AND m.user_id = s.user_id
		WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL`, sessionID, userID, workspaceID).Scan(&role)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", domain.Errorf(domain.KindUnauthenticated, "missing or invalid credentials")
	case err != nil:
		return "", err
	case role == nil:
		return "", domain.NotFound("membership")
	}
	return access.Role(*role), nil
}

// CreateReset inserts a reset token's hash.
func (r *SessionRepo) CreateReset(ctx context.Context, t domain.ResetToken) error {
	_, err := r.q.Exec(ctx, `INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.UserID, t.CreatedAt, t.ExpiresAt)
	return err
}

// SpendResets marks the user's unused reset tokens used.
func (r *SessionRepo) SpendResets(ctx context.Context, userID domain.ID, at time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, userID, at)
	return err
}

// Reset finds a reset token, locked.
func (r *SessionRepo) Reset(ctx context.Context, hash []byte) (domain.ResetToken, error) {
	var t domain.ResetToken
	err := r.q.QueryRow(ctx, `
		SELECT token_hash, user_id, created_at, expires_at, used_at FROM password_resets
		WHERE token_hash = $1 FOR UPDATE`, hash).Scan(&t.Hash, &t.UserID, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt)
	return t, notFound(err, "reset token")
}

// CreateTicket implements identity.Sessions.
func (r *SessionRepo) CreateTicket(ctx context.Context, t domain.StreamTicket) error {
	_, err := r.q.Exec(ctx, `INSERT INTO stream_tickets (token_hash, workspace_id, user_id, session_id, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.WorkspaceID, t.UserID, t.SessionID, t.ExpiresAt)
	return err
}

// SpendTicket implements identity.Sessions: the delete decides, so of two spends racing
// one finds the ticket.
func (r *SessionRepo) SpendTicket(ctx context.Context, hash []byte, now time.Time) (domain.StreamTicket, error) {
	var t domain.StreamTicket
	err := r.q.QueryRow(ctx, `DELETE FROM stream_tickets WHERE token_hash = $1 AND expires_at > $2
		RETURNING token_hash, workspace_id, user_id, session_id, expires_at`, hash, now).
		Scan(&t.Hash, &t.WorkspaceID, &t.UserID, &t.SessionID, &t.ExpiresAt)
	return t, notFound(err, "ticket")
}

// Purge deletes sessions (their refresh tokens and tickets cascade), reset tokens and
// tickets expired before before.
func (r *SessionRepo) Purge(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := r.q.QueryRow(ctx, `
		WITH s AS (DELETE FROM sessions WHERE expires_at < $1 RETURNING 1),
		     p AS (DELETE FROM password_resets WHERE expires_at < $1 RETURNING 1),
		     t AS (DELETE FROM stream_tickets WHERE expires_at < $1 RETURNING 1)
		SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM p) + (SELECT count(*) FROM t)`, before).Scan(&n)
	return n, err
}
