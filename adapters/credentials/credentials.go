// Package credentials holds the password hasher (argon2id) and the access-token issuer
// (JWT, HS256).
package credentials

import (
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wabaplatform/waba/domain"
)

// Argon2 hashes passwords with argon2id.
type Argon2 struct{ params *argon2id.Params }

// NewArgon2 uses RFC 9106's second recommended option scaled for a small server:
// 64 MiB, 1 pass, 2 lanes.
func NewArgon2() *Argon2 {
	return &Argon2{params: &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}}
}

// NewFastArgon2 is for tests: the same algorithm with a small memory cost.
func NewFastArgon2() *Argon2 {
	return &Argon2{params: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
}

// Hash returns the encoded argon2id hash of password.
func (a *Argon2) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, a.params)
}

// Verify checks password against an encoded hash in constant time.
func (a *Argon2) Verify(password, hash string) (bool, error) {
	return argon2id.ComparePasswordAndHash(password, hash)
}

// JWT issues and verifies HS256 access tokens.
type JWT struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewJWT returns an issuer signing with secret; tokens live for ttl by now's time.
func NewJWT(secret []byte, ttl time.Duration, now func() time.Time) *JWT {
	return &JWT{secret: secret, ttl: ttl, now: now}
}

// claims are the registered claims plus the session the token was issued for.
type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Issue signs a token for the user and session with sub, sid, iat, exp and a unique jti.
func (j *JWT) Issue(userID, sessionID domain.ID) (string, time.Duration, error) {
	now := j.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(j.ttl)),
			ID:        domain.NewID().String(),
		},
		SessionID: sessionID.String(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(j.secret)
	return s, j.ttl, err
}

// ErrInvalidToken covers every reason a token is refused.
var ErrInvalidToken = errors.New("invalid access token")

// Verify checks signature, algorithm (HS256 only: `none` and any other alg are refused),
// expiry, subject and session.
func (j *JWT) Verify(token string) (userID, sessionID domain.ID, err error) {
	var c claims
	_, err = jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return j.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(j.now),
	)
	if err != nil {
		return domain.NilID, domain.NilID, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	userID, uerr := domain.ParseID(c.Subject)
	sessionID, serr := domain.ParseID(c.SessionID)
	if uerr != nil || serr != nil {
		return domain.NilID, domain.NilID, ErrInvalidToken
	}
	return userID, sessionID, nil
}
