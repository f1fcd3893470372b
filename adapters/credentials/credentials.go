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

// Issue signs a token for the user with sub, iat, exp and a unique jti.
func (j *JWT) Issue(userID domain.ID) (string, time.Duration, error) {
	now := j.now()
	claims := jwt.RegisteredClaims{
		Subject:   userID.String(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(j.ttl)),
		ID:        domain.NewID().String(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(j.secret)
	return s, j.ttl, err
}

// ErrInvalidToken covers every reason a token is refused.
var ErrInvalidToken = errors.New("invalid access token")

// Verify checks signature, algorithm (HS256 only: `none` and any other alg are refused),
// expiry and subject.
func (j *JWT) Verify(token string) (domain.ID, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return j.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(j.now),
	)
	if err != nil {
		return domain.NilID, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	id, err := domain.ParseID(claims.Subject)
	if err != nil {
		return domain.NilID, ErrInvalidToken
	}
	return id, nil
}
