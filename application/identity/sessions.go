package identity

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/domain"
)

// Why a session was revoked (kept on the session row).
const (
	revokedLogout         = "logout"
	revokedReuse          = "refresh_token_reused"
	revokedPasswordChange = "password_changed"
	revokedPasswordReset  = "password_reset"
)

// errReused is returned from the refresh transaction so that it commits the revocation
// before the caller is refused.
var errReused = errors.New("refresh token reused")

// Refresh spends a refresh token and issues the session's next pair. A token that was
// already spent is being replayed (it was copied, or stolen): the whole session is
// revoked, so neither the thief nor the owner can go on with it (OAuth 2.0 Security BCP,
// refresh token rotation). Unknown, expired, spent and revoked tokens are all 401.
func (s *Service) Refresh(ctx context.Context, token string, meta domain.RequestMeta) (IssuedTokens, error) {
	now := s.Now().UTC()
	var (
		userID, sessionID domain.ID
		next              string
		reused            bool
	)
	err := s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		reused = false
		old, sess, err := r.Sessions.RefreshToken(ctx, domain.HashSecret(token))
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !now.Before(old.ExpiresAt) {
			return unauthenticated()
		}
		if old.UsedAt != nil {
			reused = true
			if err := r.Sessions.RevokeSession(ctx, sess.ID, now, revokedReuse); err != nil {
				return err
			}
			actor := domain.Caller{Type: domain.ActorUser, ID: sess.UserID, Meta: meta}
			return r.Events.Append(ctx, domain.Occurred(actor, now, domain.RefreshTokenReused{UserID: sess.UserID, SessionID: sess.ID}))
		}
		if err := r.Sessions.SpendRefreshToken(ctx, old.Hash, now); err != nil {
			return err
		}
		var tok domain.RefreshToken
		next, tok = newRefreshToken(sess.ID, now)
		if err := r.Sessions.AddRefreshToken(ctx, tok); err != nil {
			return err
		}
		userID, sessionID = sess.UserID, sess.ID
		return r.Sessions.ExtendSession(ctx, sess.ID, tok.ExpiresAt)
	})
	switch {
	case reused && err == nil:
		return IssuedTokens{}, unauthenticated()
	case domain.IsKind(err, domain.KindNotFound):
		return IssuedTokens{}, unauthenticated()
	case err != nil:
		return IssuedTokens{}, err
	}
	return s.issue(userID, sessionID, next)
}

// Logout revokes the session of a refresh token: the token stops working and so do the
// session's access tokens. It answers the same whatever the token, so it tells nothing
// (only a missing one is refused).
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return &domain.Error{Kind: domain.KindValidation, Message: "refresh_token is required",
			Fields: []domain.FieldError{{Field: "refresh_token", Message: "is required"}}}
	}
	now := s.Now().UTC()
	err := s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		_, sess, err := r.Sessions.RefreshToken(ctx, domain.HashSecret(token))
		if err != nil {
			return err
		}
		return r.Sessions.RevokeSession(ctx, sess.ID, now, revokedLogout)
	})
	if domain.IsKind(err, domain.KindNotFound) {
		return nil
	}
	return err
}

// ChangePassword sets a new password for a signed-in user who knows the current one, and
// revokes every session but the caller's. Wrong current passwords count as failed logins
// (a stolen access token must not become a way to guess the password).
func (s *Service) ChangePassword(ctx context.Context, p domain.Principal, current, next string, meta domain.RequestMeta) error {
	if p.Type != domain.ActorUser {
		return domain.Errorf(domain.KindForbidden, "API keys have no password")
	}
	var v domain.Validator
	checkPassword(&v, "new_password", next)
	if err := v.Err(); err != nil {
		return err
	}
	u, err := s.Users.UserByID(ctx, p.ID)
	if err != nil {
		return err
	}
	counters := []counter{{PerEmail, u.Email}, {PerAddress, meta.IP}}
	if _, err := s.peekAll(ctx, "failed password checks", counters...); err != nil {
		return err
	}
	if ok, err := s.Hasher.Verify(current, u.PasswordHash); err != nil || !ok {
		if err := s.failAll(ctx, counters...); err != nil {
			return err
		}
		return &domain.Error{Kind: domain.KindValidation, Message: "the current password is wrong",
			Fields: []domain.FieldError{{Field: "current_password", Message: "is not your current password"}}}
	}
	hash, err := s.Hasher.Hash(next)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	return s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		return applyPassword(ctx, r, u.ID, hash, p.SessionID, now, meta, revokedPasswordChange,
			func(n int) domain.Event {
				return domain.PasswordChanged{PasswordSet: domain.PasswordSet{UserID: u.ID, SessionsRevoked: n}}
			})
	})
}

// applyPassword stores a new password hash, revokes the user's sessions but keep (zero:
// all) and retires every reset link, with its event, in the caller's transaction.
func applyPassword(ctx context.Context, r Repos, userID domain.ID, hash string, keep domain.ID, now time.Time,
	meta domain.RequestMeta, reason string, event func(revoked int) domain.Event) error {
	if err := r.Users.SetPassword(ctx, userID, hash); err != nil {
		return err
	}
	n, err := r.Sessions.RevokeUserSessions(ctx, userID, keep, now, reason)
	if err != nil {
		return err
	}
	if err := r.Sessions.SpendResets(ctx, userID, now); err != nil {
		return err
	}
	actor := domain.Caller{Type: domain.ActorUser, ID: userID, Meta: meta}
	return r.Events.Append(ctx, domain.Occurred(actor, now, event(n)))
}

// RequestPasswordReset answers every well-formed request alike, for known and unknown
// emails, in the same time: it counts the request (per email and per address, as failed
// logins are counted) and enqueues a job; whether the email has an account is looked at
// only by the job (SendPasswordReset), off the request path.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, meta domain.RequestMeta) (Throttle, error) {
	norm, ok := domain.NormalizeEmail(email)
	if !ok {
		return Throttle{}, &domain.Error{Kind: domain.KindValidation, Message: "invalid email",
			Fields: []domain.FieldError{{Field: "email", Message: "must be a valid email address"}}}
	}
	counters := []counter{{ResetPerEmail, norm}, {ResetPerAddress, meta.IP}}
	t, err := s.peekAll(ctx, "password reset requests", counters...)
	if err != nil {
		return t, err
	}
	if err := s.failAll(ctx, counters...); err != nil {
		return t, err
	}
	t.Remaining--
	return t, s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error { return r.Jobs.EnqueuePasswordReset(ctx, norm) })
}

// SendPasswordReset mails a reset link to the user with that email, if there is one. The
// new link retires the user's earlier ones. The token exists only as its hash and inside
// the queued mail (sealed).
func (s *Service) SendPasswordReset(ctx context.Context, email string) error {
	u, err := s.Users.UserByEmail(ctx, email)
	if domain.IsKind(err, domain.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	secret, hash := domain.NewSecret(domain.ResetTokenPrefix)
	link := s.BaseURL + "/reset-password?token=" + url.QueryEscape(secret)
	return s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Sessions.SpendResets(ctx, u.ID, now); err != nil {
			return err
		}
		if err := r.Sessions.CreateReset(ctx, domain.ResetToken{Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(domain.PasswordResetTTL)}); err != nil {
			return err
		}
		return r.Mail.Enqueue(ctx, mail.Message{To: u.Email, Subject: "Reset your password",
			Text: fmt.Sprintf("Hello %s,\n\nSomeone (we hope you) asked to reset the password of your account. "+
				"Open this link within an hour to choose a new one:\n\n%s\n\n"+
				"If it was not you, ignore this message: your password stays as it is.\n", u.Name, link)})
	})
}

// ConfirmPasswordReset sets a new password with a reset token: once, within an hour. It
// revokes every session of the user. Invalid tokens count against the client's address,
// as failed logins do.
func (s *Service) ConfirmPasswordReset(ctx context.Context, token, password string, meta domain.RequestMeta) error {
	var v domain.Validator
	checkPassword(&v, "new_password", password)
	if err := v.Err(); err != nil {
		return err
	}
	counters := []counter{{ResetConfirmPerAddress, meta.IP}}
	if _, err := s.peekAll(ctx, "failed password resets", counters...); err != nil {
		return err
	}
	// Hashed before the token is looked at: a guess costs what a real reset costs.
	hash, err := s.Hasher.Hash(password)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	valid := false
	err = s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		rs, err := r.Sessions.Reset(ctx, domain.HashSecret(token))
		if err != nil || rs.UsedAt != nil || !now.Before(rs.ExpiresAt) {
			return err
		}
		valid = true
		return applyPassword(ctx, r, rs.UserID, hash, domain.NilID, now, meta, revokedPasswordReset,
			func(n int) domain.Event {
				return domain.PasswordReset{PasswordSet: domain.PasswordSet{UserID: rs.UserID, SessionsRevoked: n}}
			})
	})
	if err != nil && !domain.IsKind(err, domain.KindNotFound) {
		return err
	}
	if !valid || err != nil {
		if err := s.failAll(ctx, counters...); err != nil {
			return err
		}
		return &domain.Error{Kind: domain.KindValidation, Message: "the reset link is invalid or has expired",
			Fields: []domain.FieldError{{Field: "token", Message: "is invalid, used or expired; ask for a new link"}}}
	}
	return nil
}

// Purge deletes sessions and reset tokens expired for a day; it returns how many.
func (s *Service) Purge(ctx context.Context) (int, error) {
	return s.Sessions.Purge(ctx, s.Now().Add(-24*time.Hour))
}

// IssueTicket gives the user of bearer (an access token; an API key can send its header)
// a single-use ticket to open workspaceID's event stream within domain.StreamTicketTTL.
// The caller is already known to be a member (the route checks it).
func (s *Service) IssueTicket(ctx context.Context, bearer string, workspaceID domain.ID) (string, time.Time, error) {
	if strings.HasPrefix(bearer, domain.APIKeyPrefix) {
		return "", time.Time{}, domain.Errorf(domain.KindForbidden,
			"tickets are for browsers; send the API key in the Authorization header of the stream request")
	}
	userID, sessionID, err := s.Tokens.Verify(bearer)
	if err != nil {
		return "", time.Time{}, unauthenticated()
	}
	secret, hash := domain.NewSecret(domain.StreamTicketPrefix)
	expires := s.Now().Add(domain.StreamTicketTTL)
	err = s.Sessions.CreateTicket(ctx, domain.StreamTicket{Hash: hash, WorkspaceID: workspaceID, UserID: userID,
		SessionID: sessionID, ExpiresAt: expires})
	return secret, expires, err
}

// CallerForTicket spends a stream ticket and resolves its user in workspaceID as
// SessionCaller does, returning the ticket's session too (to check again while the stream
// lasts). An unknown, spent or expired ticket is KindUnauthenticated; a ticket of another
// workspace is KindForbidden.
func (s *Service) CallerForTicket(ctx context.Context, ticket string, workspaceID domain.ID, meta domain.RequestMeta) (domain.Caller, domain.ID, error) {
	if !strings.HasPrefix(ticket, domain.StreamTicketPrefix) {
		return domain.Caller{}, domain.NilID, unauthenticated()
	}
	t, err := s.Sessions.SpendTicket(ctx, domain.HashSecret(ticket), s.Now())
	if domain.IsKind(err, domain.KindNotFound) {
		return domain.Caller{}, domain.NilID, unauthenticated()
	}
	if err != nil {
		return domain.Caller{}, domain.NilID, err
	}
	if t.WorkspaceID != workspaceID {
		return domain.Caller{}, domain.NilID, domain.Errorf(domain.KindForbidden, "the ticket is for another workspace")
	}
	c, err := s.SessionCaller(ctx, t.UserID, t.SessionID, workspaceID, meta)
	return c, t.SessionID, err
}
