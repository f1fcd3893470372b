// Package identity holds signup, login and the resolution of a bearer credential into a
// caller acting in a workspace.
package identity

import (
	"context"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/events"
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
	// MemberRole is the user's role in the workspace, KindNotFound when not a member.
	MemberRole(ctx context.Context, workspaceID, userID domain.ID) (access.Role, error)
	// ActiveAPIKey finds an unrevoked key by the hash of its secret, returned without
	// the hash; KindNotFound when there is none.
	ActiveAPIKey(ctx context.Context, hash []byte) (domain.APIKey, error)
}

// PasswordHasher hashes and checks passwords (argon2id behind it).
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(password, hash string) (bool, error)
}

// Tokens issues and verifies access tokens (JWT behind it).
type Tokens interface {
	Issue(userID domain.ID) (token string, expiresIn time.Duration, err error)
	// Verify returns the user id of a valid, unexpired token.
	Verify(token string) (domain.ID, error)
}

// LoginLimit names one of the failed-login counters (API.md: 10 failures per email, 100 per
// client address, in 15 minutes).
type LoginLimit string

const (
	PerEmail   LoginLimit = "email"
	PerAddress LoginLimit = "address"
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

// Service is the identity use cases.
type Service struct {
	users    Users
	hasher   PasswordHasher
	tokens   Tokens
	throttle LoginThrottle
	events   events.Log
	// dummyHash is verified when the email is unknown, so both failures take the same time.
	dummyHash string
	now       func() time.Time
}

// NewService returns the identity use cases.
func NewService(users Users, hasher PasswordHasher, tokens Tokens, throttle LoginThrottle, log events.Log) (*Service, error) {
	dummy, err := hasher.Hash("not-a-real-password-but-hashed-the-same-way")
	if err != nil {
		return nil, err
	}
	return &Service{users: users, hasher: hasher, tokens: tokens, throttle: throttle, events: log, dummyHash: dummy, now: time.Now}, nil
}

// SignupInput is what a new user sends.
type SignupInput struct{ Email, Password, Name string }

// Signup creates a user.
func (s *Service) Signup(ctx context.Context, in SignupInput) (domain.User, error) {
	var v domain.Validator
	email, ok := domain.NormalizeEmail(in.Email)
	v.Check(ok, "email", "must be a valid email address")
	v.Check(len([]rune(in.Password)) >= domain.MinPasswordLength, "password", "must be at least 10 characters")
	v.Check(len(in.Password) <= 1024, "password", "must be at most 1024 bytes")
	v.Check(domain.ValidName(in.Name, 200), "name", "must be 1 to 200 characters")
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}
	hash, err := s.hasher.Hash(in.Password)
	if err != nil {
		return domain.User{}, err
	}
	u := domain.User{ID: domain.NewID(), Email: email, Name: strings.TrimSpace(in.Name), PasswordHash: hash, CreatedAt: s.now().UTC()}
	if err := s.users.CreateUser(ctx, u); err != nil {
		return domain.User{}, err
	}
	return u, nil
}

// LoginResult is an issued access token.
type LoginResult struct {
	AccessToken string
	ExpiresIn   time.Duration
	// Throttle is the tighter of the two failed-login counters, set on failures too.
	Throttle Throttle
}

// Login checks a password and issues an access token. Unknown email and wrong password
// fail alike, in about the same time; failures are throttled per email and per address
// and audited.
func (s *Service) Login(ctx context.Context, email, password string, meta domain.RequestMeta) (LoginResult, error) {
	norm, _ := domain.NormalizeEmail(email)
	if norm == "" {
		norm = strings.ToLower(strings.TrimSpace(email))
	}
	counters := []struct {
		limit LoginLimit
		key   string
	}{{PerEmail, norm}, {PerAddress, meta.IP}}
	var res LoginResult
	for i, c := range counters {
		st, err := s.throttle.Peek(ctx, c.limit, c.key)
		if err != nil {
			return res, err
		}
		if i == 0 || st.Remaining < res.Throttle.Remaining {
			res.Throttle = st
		}
	}
	if res.Throttle.Remaining <= 0 {
		return res, &domain.Error{Kind: domain.KindRateLimited, Message: "too many failed logins; try again later",
			RetryAfter: max(res.Throttle.Reset.Sub(s.now()), time.Second)}
	}
	u, err := s.users.UserByEmail(ctx, norm)
	hash := u.PasswordHash
	if err != nil {
		if !domain.IsKind(err, domain.KindNotFound) {
			return LoginResult{}, err
		}
		hash = s.dummyHash
	}
	ok, verr := s.hasher.Verify(password, hash)
	if verr != nil || !ok || err != nil {
		for _, c := range counters {
			if ferr := s.throttle.Fail(ctx, c.limit, c.key); ferr != nil {
				return res, ferr
			}
		}
		res.Throttle.Remaining--
		// Outside any transaction: a failed login changes nothing else.
		failed := domain.Occurred(domain.Caller{Type: domain.ActorUser, ID: u.ID, Meta: meta}, s.now(),
			domain.LoginFailed{UserID: u.ID, Email: norm})
		if aerr := s.events.Append(ctx, failed); aerr != nil {
			return res, aerr
		}
		return res, domain.Errorf(domain.KindInvalidCredentials, "email or password is wrong")
	}
	tok, exp, err := s.tokens.Issue(u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	res.AccessToken, res.ExpiresIn = tok, exp
	return res, nil
}

// Me returns the user and the workspaces they belong to.
func (s *Service) Me(ctx context.Context, p domain.Principal) (domain.User, []domain.Membership, error) {
	if p.Type != domain.ActorUser {
		return domain.User{}, nil, domain.Errorf(domain.KindForbidden, "API keys have no user")
	}
	u, err := s.users.UserByID(ctx, p.ID)
	if err != nil {
		return domain.User{}, nil, err
	}
	ms, err := s.users.Memberships(ctx, p.ID)
	return u, ms, err
}

// Authenticate resolves a bearer credential: an API key (wsk_...) or an access token.
func (s *Service) Authenticate(ctx context.Context, bearer string) (domain.Principal, error) {
	unauth := domain.Errorf(domain.KindUnauthenticated, "missing or invalid credentials")
	if bearer == "" {
		return domain.Principal{}, unauth
	}
	if strings.HasPrefix(bearer, domain.APIKeyPrefix) {
		k, err := s.users.ActiveAPIKey(ctx, domain.HashSecret(bearer))
		if err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Principal{}, unauth
			}
			return domain.Principal{}, err
		}
		return domain.Principal{Type: domain.ActorAPIKey, ID: k.ID, WorkspaceID: k.WorkspaceID, Role: k.Role}, nil
	}
	id, err := s.tokens.Verify(bearer)
	if err != nil {
		return domain.Principal{}, unauth
	}
	if _, err := s.users.UserByID(ctx, id); err != nil {
		if domain.IsKind(err, domain.KindNotFound) {
			return domain.Principal{}, unauth
		}
		return domain.Principal{}, err
	}
	return domain.Principal{Type: domain.ActorUser, ID: id}, nil
}

// CallerFor authenticates bearer and resolves its role in the workspace: what every
// workspace route needs, in one read for an access token. A membership row proves its
// user exists (memberships are deleted with their user), so the user is looked up only
// when there is none, to tell a deleted user (401) from a non-member (403).
func (s *Service) CallerFor(ctx context.Context, bearer string, workspaceID domain.ID, meta domain.RequestMeta) (domain.Caller, error) {
	if !strings.HasPrefix(bearer, domain.APIKeyPrefix) {
		if id, err := s.tokens.Verify(bearer); err == nil {
			role, err := s.users.MemberRole(ctx, workspaceID, id)
			if err == nil {
				return domain.Caller{Type: domain.ActorUser, ID: id, WorkspaceID: workspaceID, Role: role, Meta: meta}, nil
			}
			if !domain.IsKind(err, domain.KindNotFound) {
				return domain.Caller{}, err
			}
		}
	}
	p, err := s.Authenticate(ctx, bearer)
	if err != nil {
		return domain.Caller{}, err
	}
	return s.callerIn(ctx, p, workspaceID, meta)
}

// callerIn resolves the principal's role in a workspace. Not a member (or a key of another
// workspace): KindForbidden.
func (s *Service) callerIn(ctx context.Context, p domain.Principal, workspaceID domain.ID, meta domain.RequestMeta) (domain.Caller, error) {
	c := domain.Caller{Type: p.Type, ID: p.ID, WorkspaceID: workspaceID, Meta: meta}
	forbidden := domain.Errorf(domain.KindForbidden, "you are not a member of this workspace")
	switch p.Type {
	case domain.ActorAPIKey:
		if p.WorkspaceID != workspaceID {
			return domain.Caller{}, forbidden
		}
		c.Role = p.Role
	case domain.ActorUser:
		role, err := s.users.MemberRole(ctx, workspaceID, p.ID)
		if err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Caller{}, forbidden
			}
			return domain.Caller{}, err
		}
		c.Role = role
	default:
		return domain.Caller{}, forbidden
	}
	return c, nil
}
