package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/vault"
)

type testBundle struct {
	ctx     context.Context
	key     []byte
	vault   *vault.Vault
	binding vault.Binding
	secret  []byte
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	key := newKey(t)
	return &testBundle{
		ctx:     context.Background(),
		key:     key,
		vault:   newVault(t, vault.Options{MasterKey: key}),
		binding: vault.Binding{WorkspaceID: "0190d6a4-7c4e-7b3a-9f00-000000000001", Purpose: "meta_access_token", PhoneNumberID: "106540352242922"},
		secret:  []byte("EAAGm0PX4ZCpsBA-a-meta-system-user-token"),
	}
}

func newKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

func newVault(t *testing.T, o vault.Options) *vault.Vault {
	t.Helper()
	v, err := vault.New(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, v.Close()) })
	return v
}

func fingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])[:16]
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestSealOpen(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		require.Len(t, s.Nonce, 12)
		require.Len(t, s.Ciphertext, len(bundle.secret)+16)
		require.Equal(t, "local:"+fingerprint(bundle.key), s.KeyID)
		require.Equal(t, bundle.vault.KeyID(), s.KeyID)
		require.False(t, bytes.Contains(s.Ciphertext, bundle.secret))

		got, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, bundle.secret, got)
	})

	t.Run("EmptyPlaintext", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s, err := bundle.vault.Seal(bundle.ctx, nil, bundle.binding)
		require.NoError(t, err)
		got, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("EveryBindingFieldMatters", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)

		others := map[string]vault.Binding{}
		b := bundle.binding
		b.WorkspaceID = "0190d6a4-7c4e-7b3a-9f00-000000000002"
		others["workspace"] = b
		b = bundle.binding
		b.Purpose = "meta_app_secret"
		others["purpose"] = b
		b = bundle.binding
		b.PhoneNumberID = "106540352242923"
		others["phone number"] = b
		b = bundle.binding
		b.PhoneNumberID = ""
		others["no phone number"] = b
		for name, other := range others {
			got, err := bundle.vault.Open(bundle.ctx, s, other)
			require.ErrorIs(t, err, vault.ErrAuthFailed, name)
			require.Nil(t, got, name)
		}
	})

	t.Run("BindingEncodingIsUnambiguous", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, vault.Binding{WorkspaceID: "ab", Purpose: "c", PhoneNumberID: "d"})
		require.NoError(t, err)
		for _, other := range []vault.Binding{
			{WorkspaceID: "a", Purpose: "bc", PhoneNumberID: "d"},
			{WorkspaceID: "ab", Purpose: "cd"},
			{WorkspaceID: "ab", Purpose: "c\x00\x00\x00\x01d"},
		} {
			_, err := bundle.vault.Open(bundle.ctx, s, other)
			require.ErrorIs(t, err, vault.ErrAuthFailed, "%+v", other)
		}
	})

	t.Run("IncompleteBinding", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		_, err := bundle.vault.Seal(bundle.ctx, bundle.secret, vault.Binding{Purpose: "meta_access_token"})
		require.ErrorIs(t, err, vault.ErrInvalidBinding)
		_, err = bundle.vault.Seal(bundle.ctx, bundle.secret, vault.Binding{WorkspaceID: "w"})
		require.ErrorIs(t, err, vault.ErrInvalidBinding)

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		_, err = bundle.vault.Open(bundle.ctx, s, vault.Binding{})
		require.ErrorIs(t, err, vault.ErrInvalidBinding)
	})

	t.Run("Tampering", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)

		tampered := map[string]vault.Sealed{}
		for i := range s.Ciphertext {
			c := s
			c.Ciphertext = flip(s.Ciphertext, i)
			tampered[fmt.Sprintf("ciphertext byte %d", i)] = c
		}
		c := s
		c.Ciphertext = s.Ciphertext[:len(s.Ciphertext)-1]
		tampered["truncated ciphertext"] = c
		c = s
		c.Ciphertext = nil
		tampered["no ciphertext"] = c
		c = s
		c.Nonce = flip(s.Nonce, 0)
		tampered["nonce"] = c
		c = s
		c.Nonce = s.Nonce[:8]
		tampered["short nonce"] = c
		c = s
		c.Nonce = nil
		tampered["no nonce"] = c
		for name, c := range tampered {
			got, err := bundle.vault.Open(bundle.ctx, c, bundle.binding)
			require.ErrorIs(t, err, vault.ErrAuthFailed, name)
			require.Nil(t, got, name)
		}

		for _, i := range []int{0, len(s.WrappedKey) / 2, len(s.WrappedKey) - 1} {
			c := s
			c.WrappedKey = flip(s.WrappedKey, i)
			got, err := bundle.vault.Open(bundle.ctx, c, bundle.binding)
			require.Error(t, err, "wrapped key byte %d", i)
			require.Nil(t, got)
		}
		c = s
		c.WrappedKey = nil
		_, err = bundle.vault.Open(bundle.ctx, c, bundle.binding)
		require.Error(t, err)

		// The original still opens: nothing above mutated it.
		got, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, bundle.secret, got)
	})

	t.Run("SealsDiffer", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s1, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		s2, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		require.NotEqual(t, s1.Ciphertext, s2.Ciphertext)
		require.NotEqual(t, s1.Nonce, s2.Nonce)
		require.NotEqual(t, s1.WrappedKey, s2.WrappedKey)
		require.Equal(t, s1.KeyID, s2.KeyID)
	})

	t.Run("OtherKeyIsRefused", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		other := newVault(t, vault.Options{MasterKey: newKey(t)})

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		_, err = other.Open(bundle.ctx, s, bundle.binding)
		require.ErrorIs(t, err, vault.ErrWrongKey)

		// Even with the KeyID forged, the other KEK cannot unwrap the data key.
		s.KeyID = other.KeyID()
		_, err = other.Open(bundle.ctx, s, bundle.binding)
		require.Error(t, err)
	})

	t.Run("ErrorsDoNotLeak", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		var errs []error
		for _, c := range []vault.Sealed{
			{Ciphertext: flip(s.Ciphertext, 0), Nonce: s.Nonce, WrappedKey: s.WrappedKey, KeyID: s.KeyID},
			{Ciphertext: s.Ciphertext, Nonce: s.Nonce, WrappedKey: flip(s.WrappedKey, 3), KeyID: s.KeyID},
			{Ciphertext: s.Ciphertext, Nonce: s.Nonce, WrappedKey: s.WrappedKey, KeyID: "local:0000000000000000"},
		} {
			_, err := bundle.vault.Open(bundle.ctx, c, bundle.binding)
			require.Error(t, err)
			errs = append(errs, err)
		}
		for _, err := range errs {
			msg := err.Error()
			for _, secret := range [][]byte{bundle.secret, bundle.key, s.Ciphertext, s.WrappedKey, s.Nonce} {
				for _, form := range []string{string(secret), hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), base64.URLEncoding.EncodeToString(secret)} {
					require.NotContains(t, msg, form)
				}
			}
		}
	})
}

func TestOptions(t *testing.T) {
	t.Parallel()

	t.Run("Base64KeyURL", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		key := newKey(t)
		v := newVault(t, vault.Options{KeyURL: "base64key://" + base64.URLEncoding.EncodeToString(key)})
		require.Equal(t, "base64key:"+fingerprint(key), v.KeyID())

		b := vault.Binding{WorkspaceID: "w1", Purpose: "meta_access_token"}
		s, err := v.Seal(ctx, []byte("token"), b)
		require.NoError(t, err)
		require.Equal(t, v.KeyID(), s.KeyID)
		got, err := v.Open(ctx, s, b)
		require.NoError(t, err)
		require.Equal(t, []byte("token"), got)

		// The same key given by URL again opens what the first vault sealed.
		again := newVault(t, vault.Options{KeyURL: "base64key://" + base64.URLEncoding.EncodeToString(key)})
		got, err = again.Open(ctx, s, b)
		require.NoError(t, err)
		require.Equal(t, []byte("token"), got)
	})

	t.Run("MasterKeyIsCopied", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		key := newKey(t)
		v := newVault(t, vault.Options{MasterKey: key})
		b := vault.Binding{WorkspaceID: "w1", Purpose: "meta_access_token"}
		s, err := v.Seal(ctx, []byte("token"), b)
		require.NoError(t, err)

		clear(key) // the caller wipes its copy
		got, err := v.Open(ctx, s, b)
		require.NoError(t, err)
		require.Equal(t, []byte("token"), got)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		key := newKey(t)
		b64 := base64.URLEncoding.EncodeToString(key)
		short := base64.URLEncoding.EncodeToString(key[:31])

		for name, o := range map[string]vault.Options{
			"neither":             {},
			"both":                {MasterKey: key, KeyURL: "base64key://" + b64},
			"short key":           {MasterKey: key[:31]},
			"long key":            {MasterKey: append(bytes.Clone(key), 0)},
			"negative ttl":        {MasterKey: key, CacheTTL: -time.Second},
			"negative size":       {MasterKey: key, CacheTTL: time.Second, CacheSize: -1},
			"unparsable URL":      {KeyURL: "base64key://" + b64 + "%zz"},
			"no scheme":           {KeyURL: b64},
			"unknown scheme":      {KeyURL: "vaultish://key"},
			"random base64key":    {KeyURL: "base64key://"},
			"short base64key":     {KeyURL: "base64key://" + short},
			"non-base64 key":      {KeyURL: "base64key://not-base64!"},
			"base64key with args": {KeyURL: "base64key://" + b64 + "?rotate=1"},
		} {
			v, err := vault.New(ctx, o)
			require.ErrorIs(t, err, vault.ErrInvalidOptions, name)
			require.Nil(t, v, name)
			for _, secret := range []string{b64, short, string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key)} {
				require.NotContains(t, err.Error(), secret, name)
			}
		}
	})

	t.Run("URLCredentialsAreRedacted", func(t *testing.T) {
		t.Parallel()
		// Fails whether or not a Vault server is configured: the query parameter is invalid.
		_, err := vault.New(context.Background(), vault.Options{KeyURL: "hashivault://operator:s3cr3t-pa55@waba-kek?bogus=1"})
		require.ErrorIs(t, err, vault.ErrInvalidOptions)
		require.NotContains(t, err.Error(), "s3cr3t-pa55")
		require.Contains(t, err.Error(), "hashivault://waba-kek")
	})
}

func TestRotation(t *testing.T) {
	t.Parallel()

	type rotationBundle struct {
		*testBundle
		old, new *vault.Vault
		sealed   vault.Sealed
	}
	setupRotation := func(t *testing.T) *rotationBundle {
		t.Helper()
		bundle := setup(t)
		s, err := bundle.vault.Seal(bundle.ctx, bundle.secret, bundle.binding)
		require.NoError(t, err)
		return &rotationBundle{
			testBundle: bundle,
			old:        bundle.vault,
			new:        newVault(t, vault.Options{KeyURL: "base64key://" + base64.URLEncoding.EncodeToString(newKey(t))}),
			sealed:     s,
		}
	}

	t.Run("Rewrap", func(t *testing.T) {
		t.Parallel()
		bundle := setupRotation(t)

		moved, err := bundle.old.Rewrap(bundle.ctx, bundle.sealed, bundle.new)
		require.NoError(t, err)
		require.Equal(t, bundle.new.KeyID(), moved.KeyID)
		require.Equal(t, bundle.sealed.Ciphertext, moved.Ciphertext)
		require.Equal(t, bundle.sealed.Nonce, moved.Nonce)
		require.NotEqual(t, bundle.sealed.WrappedKey, moved.WrappedKey)

		got, err := bundle.new.Open(bundle.ctx, moved, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, bundle.secret, got)

		_, err = bundle.old.Open(bundle.ctx, moved, bundle.binding)
		require.ErrorIs(t, err, vault.ErrWrongKey)
		_, err = bundle.new.Open(bundle.ctx, bundle.sealed, bundle.binding)
		require.ErrorIs(t, err, vault.ErrWrongKey)

		// The binding still holds after the move.
		other := bundle.binding
		other.WorkspaceID = "someone-else"
		_, err = bundle.new.Open(bundle.ctx, moved, other)
		require.ErrorIs(t, err, vault.ErrAuthFailed)

		// The result does not alias the input.
		moved.Ciphertext[0] ^= 1
		got, err = bundle.old.Open(bundle.ctx, bundle.sealed, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, bundle.secret, got)
	})

	t.Run("RewrapRefusals", func(t *testing.T) {
		t.Parallel()
		bundle := setupRotation(t)

		_, err := bundle.new.Rewrap(bundle.ctx, bundle.sealed, bundle.old)
		require.ErrorIs(t, err, vault.ErrWrongKey)
		_, err = bundle.old.Rewrap(bundle.ctx, bundle.sealed, nil)
		require.Error(t, err)

		bad := bundle.sealed
		bad.WrappedKey = flip(bad.WrappedKey, 5)
		_, err = bundle.old.Rewrap(bundle.ctx, bad, bundle.new)
		require.Error(t, err)
	})

	t.Run("Ring", func(t *testing.T) {
		t.Parallel()
		bundle := setupRotation(t)
		moved, err := bundle.old.Rewrap(bundle.ctx, bundle.sealed, bundle.new)
		require.NoError(t, err)

		ring, err := vault.NewRing(bundle.new, bundle.old, bundle.old)
		require.NoError(t, err)
		require.Equal(t, bundle.new.KeyID(), ring.KeyID())

		for _, s := range []vault.Sealed{bundle.sealed, moved} {
			got, err := ring.Open(bundle.ctx, s, bundle.binding)
			require.NoError(t, err, s.KeyID)
			require.Equal(t, bundle.secret, got)
		}

		fresh, err := ring.Seal(bundle.ctx, []byte("new token"), bundle.binding)
		require.NoError(t, err)
		require.Equal(t, bundle.new.KeyID(), fresh.KeyID)
		got, err := bundle.new.Open(bundle.ctx, fresh, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, []byte("new token"), got)

		viaRing, err := ring.Rewrap(bundle.ctx, bundle.sealed)
		require.NoError(t, err)
		require.Equal(t, bundle.new.KeyID(), viaRing.KeyID)
		got, err = bundle.new.Open(bundle.ctx, viaRing, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, bundle.secret, got)

		same, err := ring.Rewrap(bundle.ctx, moved)
		require.NoError(t, err)
		require.Equal(t, moved, same)

		newOnly, err := vault.NewRing(bundle.new)
		require.NoError(t, err)
		_, err = newOnly.Open(bundle.ctx, bundle.sealed, bundle.binding)
		require.ErrorIs(t, err, vault.ErrWrongKey)
		_, err = newOnly.Rewrap(bundle.ctx, bundle.sealed)
		require.ErrorIs(t, err, vault.ErrWrongKey)
	})

	t.Run("RingNeedsVaults", func(t *testing.T) {
		t.Parallel()
		bundle := setupRotation(t)

		_, err := vault.NewRing(nil, bundle.old)
		require.Error(t, err)
		_, err = vault.NewRing(bundle.new, nil)
		require.Error(t, err)
	})
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	v := newVault(t, vault.Options{MasterKey: newKey(t), CacheTTL: time.Minute, Registerer: reg})
	to := newVault(t, vault.Options{MasterKey: newKey(t), Registerer: reg}) // shares the counter
	b := vault.Binding{WorkspaceID: "w1", Purpose: "meta_access_token"}

	s, err := v.Seal(ctx, []byte("token"), b)
	require.NoError(t, err)
	_, err = v.Seal(ctx, []byte("token"), vault.Binding{})
	require.Error(t, err)
	for range 3 {
		_, err = v.Open(ctx, s, b)
		require.NoError(t, err)
	}
	bad := s
	bad.Ciphertext = flip(s.Ciphertext, 0)
	_, err = v.Open(ctx, bad, b)
	require.Error(t, err)
	moved, err := v.Rewrap(ctx, s, to)
	require.NoError(t, err)
	_, err = v.Open(ctx, moved, b)
	require.ErrorIs(t, err, vault.ErrWrongKey)
	_, err = to.Open(ctx, moved, b)
	require.NoError(t, err)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP vault_operations_total Vault operations by kind (seal, open, rewrap), result (ok, error) and plaintext cache use (hit, miss, none).
# TYPE vault_operations_total counter
vault_operations_total{cache="hit",op="open",result="ok"} 2
vault_operations_total{cache="miss",op="open",result="error"} 1
vault_operations_total{cache="miss",op="open",result="ok"} 1
vault_operations_total{cache="none",op="open",result="error"} 1
vault_operations_total{cache="none",op="open",result="ok"} 1
vault_operations_total{cache="none",op="rewrap",result="ok"} 1
vault_operations_total{cache="none",op="seal",result="error"} 1
vault_operations_total{cache="none",op="seal",result="ok"} 1
`), "vault_operations_total"))
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()

	for name, ttl := range map[string]time.Duration{"cached": time.Minute, "uncached": 0} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			v := newVault(t, vault.Options{MasterKey: newKey(t), CacheTTL: ttl, CacheSize: 4})

			type row struct {
				s      vault.Sealed
				b      vault.Binding
				secret []byte
			}
			rows := make([]row, 8) // more rows than the cache holds: evictions race with hits
			for i := range rows {
				b := vault.Binding{WorkspaceID: "w", Purpose: "meta_access_token", PhoneNumberID: string(rune('a' + i))}
				secret := []byte("token-" + b.PhoneNumberID)
				s, err := v.Seal(ctx, secret, b)
				require.NoError(t, err)
				rows[i] = row{s: s, b: b, secret: secret}
			}

			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for g := range 32 {
				wg.Go(func() {
					for i := range 50 {
						r := rows[(g+i)%len(rows)]
						got, err := v.Open(ctx, r.s, r.b)
						if err == nil && !bytes.Equal(got, r.secret) {
							err = errors.New("wrong plaintext for " + r.b.PhoneNumberID)
						}
						if err == nil {
							clear(got) // callers may wipe what they get: the cache must not care
							_, err = v.Seal(ctx, r.secret, r.b)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
		})
	}
}
