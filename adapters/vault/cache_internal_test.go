package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingKEK counts the calls that would reach a KMS.
type countingKEK struct {
	keyWrapper
	decrypts atomic.Int64
}

func (c *countingKEK) Decrypt(ctx context.Context, ciphertext []byte) ([]byte, error) {
	c.decrypts.Add(1)
	return c.keyWrapper.Decrypt(ctx, ciphertext)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type cacheBundle struct {
	ctx     context.Context
	vault   *Vault
	kek     *countingKEK
	clock   *fakeClock
	binding Binding
}

func setupCache(t *testing.T, ttl time.Duration, size int) *cacheBundle {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	v, err := New(context.Background(), Options{MasterKey: key, CacheTTL: ttl, CacheSize: size})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, v.Close()) })

	kek := &countingKEK{keyWrapper: v.kek}
	v.kek = kek
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	if v.cache != nil {
		v.cache.now = clock.Now
	}
	return &cacheBundle{
		ctx:     context.Background(),
		vault:   v,
		kek:     kek,
		clock:   clock,
		binding: Binding{WorkspaceID: "w1", Purpose: "meta_access_token", PhoneNumberID: "1065"},
	}
}

func TestOpenCache(t *testing.T) {
	t.Parallel()

	t.Run("HitSkipsTheKEK", func(t *testing.T) {
		t.Parallel()
		bundle := setupCache(t, time.Minute, 0)
		s, err := bundle.vault.Seal(bundle.ctx, []byte("token"), bundle.binding)
		require.NoError(t, err)

		for range 5 {
			got, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
			require.NoError(t, err)
			require.Equal(t, []byte("token"), got)
			got[0] = 'X' // the caller owns its copy
		}
		require.EqualValues(t, 1, bundle.kek.decrypts.Load())
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		bundle := setupCache(t, time.Minute, 0)
		s, err := bundle.vault.Seal(bundle.ctx, []byte("token"), bundle.binding)
		require.NoError(t, err)

		_, err = bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)
		bundle.clock.Advance(59 * time.Second)
		_, err = bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)
		require.EqualValues(t, 1, bundle.kek.decrypts.Load())

		bundle.clock.Advance(time.Second)
		got, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)
		require.Equal(t, []byte("token"), got)
		require.EqualValues(t, 2, bundle.kek.decrypts.Load())
	})

	t.Run("HitStillChecksBindingAndKey", func(t *testing.T) {
		t.Parallel()
		bundle := setupCache(t, time.Minute, 0)
		s, err := bundle.vault.Seal(bundle.ctx, []byte("token"), bundle.binding)
		require.NoError(t, err)
		_, err = bundle.vault.Open(bundle.ctx, s, bundle.binding)
		require.NoError(t, err)

		other := bundle.binding
		other.WorkspaceID = "w2"
		_, err = bundle.vault.Open(bundle.ctx, s, other)
		require.ErrorIs(t, err, ErrAuthFailed)

		tampered := s
		tampered.Ciphertext = append([]byte(nil), s.Ciphertext...)
		tampered.Ciphertext[0] ^= 1
		_, err = bundle.vault.Open(bundle.ctx, tampered, bundle.binding)
		require.ErrorIs(t, err, ErrAuthFailed)

		forged := s
		forged.KeyID = "local:0000000000000000"
		_, err = bundle.vault.Open(bundle.ctx, forged, bundle.binding)
		require.ErrorIs(t, err, ErrWrongKey)
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		bundle := setupCache(t, 0, 0)
		require.Nil(t, bundle.vault.cache)
		s, err := bundle.vault.Seal(bundle.ctx, []byte("token"), bundle.binding)
		require.NoError(t, err)

		for range 3 {
			_, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
			require.NoError(t, err)
		}
		require.EqualValues(t, 3, bundle.kek.decrypts.Load())
	})

	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		bundle := setupCache(t, time.Minute, 3)

		sealed := make([]Sealed, 5)
		for i := range sealed {
			var err error
			sealed[i], err = bundle.vault.Seal(bundle.ctx, []byte{byte(i)}, bundle.binding)
			require.NoError(t, err)
			_, err = bundle.vault.Open(bundle.ctx, sealed[i], bundle.binding)
			require.NoError(t, err)
			require.LessOrEqual(t, bundle.vault.cache.len(), 3)
		}
		require.EqualValues(t, 5, bundle.kek.decrypts.Load())

		// The two oldest were evicted; the three newest are still served from memory.
		for _, s := range sealed[2:] {
			_, err := bundle.vault.Open(bundle.ctx, s, bundle.binding)
			require.NoError(t, err)
		}
		require.EqualValues(t, 5, bundle.kek.decrypts.Load())
		_, err := bundle.vault.Open(bundle.ctx, sealed[0], bundle.binding)
		require.NoError(t, err)
		require.EqualValues(t, 6, bundle.kek.decrypts.Load())
	})
}

func TestCacheEviction(t *testing.T) {
	t.Parallel()

	key := func(i byte) [sha256.Size]byte { return sha256.Sum256([]byte{i}) }

	t.Run("ExpiredGoFirst", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{now: time.Unix(0, 0)}
		c := newCache(time.Minute, 10)
		c.now = clock.Now

		c.put(key(1), []byte("one"))
		c.put(key(2), []byte("two"))
		clock.Advance(30 * time.Second)
		c.put(key(3), []byte("three"))
		clock.Advance(30 * time.Second)

		c.put(key(4), []byte("four")) // 1 and 2 expire now and are dropped
		require.Equal(t, 2, c.len())
		_, ok := c.get(key(1))
		require.False(t, ok)
		got, ok := c.get(key(3))
		require.True(t, ok)
		require.Equal(t, []byte("three"), got)
	})

	t.Run("ValuesAreCopiedAndWiped", func(t *testing.T) {
		t.Parallel()
		c := newCache(time.Minute, 1)
		in := []byte("secret")
		c.put(key(1), in)
		in[0] = 'X'
		got, ok := c.get(key(1))
		require.True(t, ok)
		require.Equal(t, []byte("secret"), got)

		stored := c.entries[key(1)].Value.(*cacheEntry).value
		c.put(key(2), []byte("other")) // evicts key(1)
		require.Equal(t, make([]byte, len("secret")), stored)
		_, ok = c.get(key(1))
		require.False(t, ok)
	})

	t.Run("PutReplaces", func(t *testing.T) {
		t.Parallel()
		c := newCache(time.Minute, 2)
		c.put(key(1), []byte("a"))
		c.put(key(1), []byte("b"))
		require.Equal(t, 1, c.len())
		got, ok := c.get(key(1))
		require.True(t, ok)
		require.Equal(t, []byte("b"), got)
	})
}

func TestURLKeyID(t *testing.T) {
	t.Parallel()

	for raw, want := range map[string]string{
		"awskms://alias/waba-kek?region=eu-west-1":                                   "awskms://alias/waba-kek",
		"awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd?region=eu-west-1": "awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd",
		"gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k":               "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k",
		"azurekeyvault://waba.vault.azure.net/keys/kek/0123?algorithm=RSA-OAEP-256":  "azurekeyvault://waba.vault.azure.net/keys/kek/0123",
		"hashivault://user:password@waba-kek?engine=transit":                         "hashivault://waba-kek",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, want, urlKeyID(u), raw)
	}
}
