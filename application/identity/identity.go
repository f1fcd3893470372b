// Package identity holds signup, login and the resolution of a bearer credential into a
// caller acting in a workspace.
package identity

import (
	"context"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Users stores users and answers membership and API key look-ups.
type Users interface {
	// CreateUser inserts u; an email taken in any case is KindEmailTaken.
	CreateUser(ctx context.Context, u domain.User) error
	// UserByEmail finds a user by email in any case (equal once lower-cased);
	// KindNotFound when there is none.
	UserByEmail(ctx context.Context, email string) (domain.User, error)
	// UserByID finds a user; KindNotFound when there is none.
	UserByID(ctx context.Context, id domain.ID) (domain.User, error)
	// Memberships lists the user's workspaces in the order the user joined them (ties by
	// workspace id).
	Memberships(ctx context.Context, userID domain.ID) ([]domain.Membership, error)
	// Workspace finds a workspace that is not deleted; KindNotFound otherwise.
	Workspace(ctx context.Context, id domain.ID) (domain.Workspace, error)
	// SetPassword replaces the user's password hash; KindNotFound for an unknown user.
	SetPassword(ctx context.Context, userID domain.ID, hash string) error
	// ActiveAPIKey finds an unrevoked key by the hash of its secret, returned without
	// the hash; KindNotFound when there is none.
	ActiveAPIKey(ctx context.Context, hash []byte) (domain.APIKey, error)
}

// PasswordHasher hashes and checks passwords (argon2id behind it).
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(password, hash string) (bool, error)
}

// Tokens issues and verifies access tokens (JWT behind it). A token names its user and
// the session it was issued for.
type Tokens interface {
	Issue(userID, sessionID domain.ID) (token string, expiresIn time.Duration, err error)
	// Verify returns the user and session of a valid, unexpired token.
	Verify(token string) (userID, sessionID domain.ID, err error)
}

// LoginLimit names one of the failed-login counters (API.md: 10 failures per email, 100 per
// client address, in 15 minutes).
type LoginLimit string

const (
	PerEmail   LoginLimit = "email"
	PerAddress LoginLimit = "address"
	// The password reset's own counters, with the same limits: requests per email and per
	// address, and invalid reset tokens per address.
	ResetPerEmail          LoginLimit = "reset_email"
	ResetPerAddress        LoginLimit = "reset_address"
	ResetConfirmPerAddress LoginLimit = "reset_confirm_address"
)

// Throttle is the state of a counter, reported in the X-RateLimit-* headers.
type Throttle struct {
	Limit, Remaining int
	Reset            time.Time
}

// LoginThrottle counts failed logins.
type LoginThrottle interface {
	// Peek reads a counter without counting anything.
	Peek(ctx context.Context, limit LoginLimit, key string) (Throttle, error)
	// Fail counts one failure.
	Fail(ctx context.Context, limit LoginLimit, key string) error
}

// Sessions stores logins and their refresh tokens, of which only hashes are kept.
type Sessions interface {
	CreateSession(ctx context.Context, s domain.Session) error
	AddRefreshToken(ctx context.Context, t domain.RefreshToken) error
	// RefreshToken finds a token by hash with its session, both locked for the rest of the
	// transaction so two refreshes with one token are decided one after the other;
	// KindNotFound when there is none.
	RefreshToken(ctx context.Context, hash []byte) (domain.RefreshToken, domain.Session, error)
	// SpendRefreshToken marks a token used.
	SpendRefreshToken(ctx context.Context, hash []byte, at time.Time) error
	// ExtendSession moves a session's expiry (to its newest token's).
	ExtendSession(ctx context.Context, id domain.ID, expiresAt time.Time) error
	// RevokeSession revokes one session (no-op when already revoked).
	RevokeSession(ctx context.Context, id domain.ID, at time.Time, reason string) error
	// RevokeUserSessions revokes the user's active sessions but except (zero: all) and
	// returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID, except domain.ID, at time.Time, reason string) (int, error)
	// ActiveSession is KindUnauthenticated unless the session exists, belongs to the user
	// and is not revoked.
	ActiveSession(ctx context.Context, sessionID, userID domain.ID) error
	// SessionRole checks the session as ActiveSession does and returns the user's role in
	// the workspace, in one read: KindNotFound when the user is not a member.
	SessionRole(ctx context.Context, sessionID, userID, workspaceID domain.ID) (access.Role, error)
	// CreateReset stores a password reset token; SpendResets marks every unused one of the
	// user used (a newer link or a completed reset retires the older links).
	CreateReset(ctx context.Context, r domain.ResetToken) error
	SpendResets(ctx context.Context, userID domain.ID, at time.Time) error
	// Reset finds a reset token by hash, locked; KindNotFound when there is none.
	Reset(ctx context.Context, hash []byte) (domain.ResetToken, error)
	// CreateTicket stores a stream ticket; SpendTicket deletes the one with this hash and
	// returns it, KindNotFound when there is none or it expired at now (single use: two
	// spends of one ticket find it once).
	CreateTicket(ctx context.Context, t domain.StreamTicket) error
	SpendTicket(ctx context.Context, hash []byte, now time.Time) (domain.StreamTicket, error)
	// Purge deletes sessions (with their tokens and tickets), reset tokens and tickets that
	// expired before before, and returns how many rows it deleted.
	Purge(ctx context.Context, before time.Time) (int, error)
}

// Jobs enqueues identity's background work in the caller's transaction.
type Jobs interface {
	// EnqueuePasswordReset asks for a reset link to be mailed to email, if it has an account.
	EnqueuePasswordReset(ctx context.Context, email string) error
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Users    Users
	Sessions Sessions
	Events   events.Log
	Mail     mail.Queue
	Jobs     Jobs
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Deps is what the identity use cases are built from.
type Deps struct {
	Tx       TxRunner
	Users    Users    // outside transactions
	Sessions Sessions // outside transactions
	Hasher   PasswordHasher
	Tokens   Tokens
	Throttle LoginThrottle
	Events   events.Log // outside transactions (a failed login changes nothing else)
	// BaseURL is where browsers reach the web console, for links in mail.
	BaseURL string
	Now     domain.Clock
}

// Service is the identity use cases.
type Service struct {
	Deps
	// dummyHash is verified when the email is unknown, so both failures take the same time.
	dummyHash string
}

// NewService returns the identity use cases.
func NewService(d Deps) (*Service, error) {
	dummy, err := d.Hasher.Hash("not-a-real-password-but-hashed-the-same-way")
	if err != nil {
		return nil, err
	}
	return &Service{Deps: d, dummyHash: dummy}, nil
}

// SignupInput is what a new user sends.
type SignupInput struct{ Email, Password, Name string }

// checkPassword is the rule for every new password, at signup, change and reset.
func checkPassword(v *domain.Validator, field, password string) {
	v.Check(len([]rune(password)) >= domain.MinPasswordLength, field, "must be at least 10 characters")
	v.Check(len(password) <= 1024, field, "must be at most 1024 bytes")
}

// Signup creates a user.
func (s *Service) Signup(ctx context.Context, in SignupInput) (domain.User, error) {
	var v domain.Validator
	email, ok := domain.NormalizeEmail(in.Email)
	v.Check(ok, "email", "must be a valid email address")
	checkPassword(&v, "password", in.Password)
	v.Check(domain.ValidName(in.Name, 200), "name", "must be 1 to 200 characters")
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}
	hash, err := s.Hasher.Hash(in.Password)
	if err != nil {
		return domain.User{}, err
	}
	u := domain.User{ID: domain.NewID(), Email: email, Name: strings.TrimSpace(in.Name), PasswordHash: hash, CreatedAt: s.Now().UTC()}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		return domain.User{}, err
	}
	return u, nil
}

// IssuedTokens is what login and refresh answer: a short-lived access token and the
// session's next refresh token.
type IssuedTokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
}

// LoginResult is an issued pair of tokens.
type LoginResult struct {
	IssuedTokens
	// Throttle is the tighter of the two failed-login counters, set on failures too.
	Throttle Throttle
}

type counter struct {
	limit LoginLimit
	key   string
}

// peekAll reads counters and returns the tightest; a used-up one is KindRateLimited.
func (s *Service) peekAll(ctx context.Context, what string, counters ...counter) (Throttle, error) {
	var tightest Throttle
	for i, c := range counters {
		st, err := s.Throttle.Peek(ctx, c.limit, c.key)
		if err != nil {
			return tightest, err
		}
		if i == 0 || st.Remaining < tightest.Remaining {
			tightest = st
		}
	}
	if tightest.Remaining <= 0 {
		return tightest, &domain.Error{Kind: domain.KindRateLimited, Message: "too many " + what + "; try again later",
			RetryAfter: max(tightest.Reset.Sub(s.Now()), time.Second)}
	}
	return tightest, nil
}

func (s *Service) failAll(ctx context.Context, counters ...counter) error {
	for _, c := range counters {
		if err := s.Throttle.Fail(ctx, c.limit, c.key); err != nil {
			return err
		}
	}
	return nil
}

// normalizedEmail is the form an email is counted and looked up by, valid or not.
func normalizedEmail(email string) string {
	if norm, ok := domain.NormalizeEmail(email); ok {
		return norm
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// Login checks a password and starts a session. Unknown email and wrong password fail
// alike, in about the same time; failures are throttled per email and per address and
// audited.
func (s *Service) Login(ctx context.Context, email, password string, meta domain.RequestMeta) (LoginResult, error) {
	norm := normalizedEmail(email)
	counters := []counter{{PerEmail, norm}, {PerAddress, meta.IP}}
	var res LoginResult
	var err error
	if res.Throttle, err = s.peekAll(ctx, "failed logins", counters...); err != nil {
		return res, err
	}
	u, err := s.Users.UserByEmail(ctx, norm)
	hash := u.PasswordHash
	if err != nil {
		if !domain.IsKind(err, domain.KindNotFound) {
			return LoginResult{}, err
		}
		hash = s.dummyHash
	}
	ok, verr := s.Hasher.Verify(password, hash)
	if verr != nil || !ok || err != nil {
		if ferr := s.failAll(ctx, counters...); ferr != nil {
			return res, ferr
		}
		res.Throttle.Remaining--
		failed := domain.Occurred(domain.Caller{Type: domain.ActorUser, ID: u.ID, Meta: meta}, s.Now(),
			domain.LoginFailed{UserID: u.ID, Email: norm})
		if aerr := s.Events.Append(ctx, failed); aerr != nil {
			return res, aerr
		}
		return res, domain.Errorf(domain.KindInvalidCredentials, "email or password is wrong")
	}
	now := s.Now().UTC()
	sess := domain.Session{ID: domain.NewID(), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(domain.RefreshTokenTTL)}
	refresh, tok := newRefreshToken(sess.ID, now)
	err = s.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Sessions.CreateSession(ctx, sess); err != nil {
			return err
		}
		return r.Sessions.AddRefreshToken(ctx, tok)
	})
	if err != nil {
		return LoginResult{}, err
	}
	res.IssuedTokens, err = s.issue(u.ID, sess.ID, refresh)
	return res, err
}

func newRefreshToken(sessionID domain.ID, now time.Time) (string, domain.RefreshToken) {
	secret, hash := domain.NewSecret(domain.RefreshTokenPrefix)
	return secret, domain.RefreshToken{Hash: hash, SessionID: sessionID, CreatedAt: now, ExpiresAt: now.Add(domain.RefreshTokenTTL)}
}

func (s *Service) issue(userID, sessionID domain.ID, refresh string) (IssuedTokens, error) {
	access, exp, err := s.Tokens.Issue(userID, sessionID)
	if err != nil {
		return IssuedTokens{}, err
	}
	return IssuedTokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: exp}, nil
}

// Me returns the user and the workspaces they belong to.
func (s *Service) Me(ctx context.Context, p domain.Principal) (domain.User, []domain.Membership, error) {
	if p.Type != domain.ActorUser {
		return domain.User{}, nil, domain.Errorf(domain.KindForbidden, "API keys have no user")
	}
	u, err := s.Users.UserByID(ctx, p.ID)
	if err != nil {
		return domain.User{}, nil, err
	}
	ms, err := s.Users.Memberships(ctx, p.ID)
	return u, ms, err
}

func unauthenticated() error {
	return domain.Errorf(domain.KindUnauthenticated, "missing or invalid credentials")
}

// Authenticate resolves a bearer credential: an API key (wsk_...) or an access token of a
// session that is still active (sessions are deleted with their user, so an active
// session also proves the user exists).
func (s *Service) Authenticate(ctx context.Context, bearer string) (domain.Principal, error) {
	if bearer == "" {
		return domain.Principal{}, unauthenticated()
	}
	if strings.HasPrefix(bearer, domain.APIKeyPrefix) {
		k, err := s.Users.ActiveAPIKey(ctx, domain.HashSecret(bearer))
		if err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Principal{}, unauthenticated()
			}
			return domain.Principal{}, err
		}
		return domain.Principal{Type: domain.ActorAPIKey, ID: k.ID, WorkspaceID: k.WorkspaceID, Role: k.Role}, nil
	}
	userID, sessionID, err := s.Tokens.Verify(bearer)
	if err != nil {
		return domain.Principal{}, unauthenticated()
	}
	if err := s.Sessions.ActiveSession(ctx, sessionID, userID); err != nil {
		return domain.Principal{}, err
	}
	return domain.Principal{Type: domain.ActorUser, ID: userID, SessionID: sessionID}, nil
}

// CallerFor authenticates bearer and resolves its role in the workspace: what every
// workspace route needs, in one read for a member's access token (the session's check and
// the membership together). 401 for bad credentials or a revoked session; for a
// non-member, 404 when the workspace does not exist (or was deleted) and 403 otherwise.
func (s *Service) CallerFor(ctx context.Context, bearer string, workspaceID domain.ID, meta domain.RequestMeta) (domain.Caller, error) {
	if bearer != "" && !strings.HasPrefix(bearer, domain.APIKeyPrefix) {
		userID, sessionID, err := s.Tokens.Verify(bearer)
		if err != nil {
			return domain.Caller{}, unauthenticated()
		}
		return s.SessionCaller(ctx, userID, sessionID, workspaceID, meta)
	}
	p, err := s.Authenticate(ctx, bearer)
	if err != nil {
		return domain.Caller{}, err
	}
	if p.WorkspaceID != workspaceID {
		return domain.Caller{}, s.notMember(ctx, workspaceID)
	}
	return domain.Caller{Type: p.Type, ID: p.ID, WorkspaceID: workspaceID, Role: p.Role, Meta: meta}, nil
}

// SessionCaller is the user of an active session acting in workspaceID: KindUnauthenticated
// when the session is revoked or expired, and as CallerFor when the user is not a member.
func (s *Service) SessionCaller(ctx context.Context, userID, sessionID, workspaceID domain.ID, meta domain.RequestMeta) (domain.Caller, error) {
	role, err := s.Sessions.SessionRole(ctx, sessionID, userID, workspaceID)
	if err == nil {
		return domain.Caller{Type: domain.ActorUser, ID: userID, WorkspaceID: workspaceID, Role: role, Meta: meta}, nil
	}
	if !domain.IsKind(err, domain.KindNotFound) {
		return domain.Caller{}, err
	}
	return domain.Caller{}, s.notMember(ctx, workspaceID)
}

// notMember is the answer to a caller outside the workspace: 404 if there is no such
// workspace (never created, or deleted), 403 if there is.
func (s *Service) notMember(ctx context.Context, workspaceID domain.ID) error {
	if _, err := s.Users.Workspace(ctx, workspaceID); err != nil {
		if domain.IsKind(err, domain.KindNotFound) {
			return domain.NotFound("workspace")
		}
		return err
	}
	return domain.Errorf(domain.KindForbidden, "you are not a member of this workspace")
}
