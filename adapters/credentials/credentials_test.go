package credentials_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/credentials"
	"github.com/wabaplatform/waba/domain"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestJWTRoundTrip(t *testing.T) {
	t.Parallel()
	j := credentials.NewJWT(secret, 15*time.Minute, time.Now)
	id, sid := domain.NewID(), domain.NewID()
	tok, ttl, err := j.Issue(id, sid)
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, ttl)
	got, gotSession, err := j.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, id, got)
	require.Equal(t, sid, gotSession)
}

func TestJWTRefusesForgeries(t *testing.T) {
	t.Parallel()
	j := credentials.NewJWT(secret, 15*time.Minute, time.Now)
	id := domain.NewID()
	good, _, err := j.Issue(id, domain.NewID())
	require.NoError(t, err)
	claims := jwt.RegisteredClaims{Subject: id.String(), IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	foreign, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("another-secret-another-secret-xx"))
	require.NoError(t, err)
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(secret)
	require.NoError(t, err)
	expired, _, err := credentials.NewJWT(secret, -time.Minute, time.Now).Issue(id, domain.NewID())
	require.NoError(t, err)
	// A well-signed token without a session (as issued before sessions existed).
	noSession, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tamperedPayload := strings.Replace(string(payload), id.String(), domain.NewID().String(), 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]

	for name, tok := range map[string]string{"none": none, "foreign key": foreign, "hs512": hs512, "expired": expired, "no session": noSession, "tampered": tampered, "garbage": "abc.def.ghi", "empty": ""} {
		_, _, err := j.Verify(tok)
		require.ErrorIs(t, err, credentials.ErrInvalidToken, name)
	}
}

func TestArgon2(t *testing.T) {
	t.Parallel()
	a := credentials.NewFastArgon2()
	h, err := a.Hash("correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$"))
	ok, err := a.Verify("correct horse battery", h)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = a.Verify("wrong", h)
	require.NoError(t, err)
	require.False(t, ok)
}
