// Package vault seals secrets (the workspaces' Meta access tokens) with envelope encryption.
//
// Every secret gets its own random 256-bit data key and is encrypted with AES-256-GCM under a
// random 96-bit nonce. The additional authenticated data binds the ciphertext to the row it
// belongs to (workspace, purpose, phone number), so a ciphertext copied into another row does
// not open. The data key is wrapped by a key-encryption key (KEK) held by a gocloud
// *secrets.Keeper: a local 32-byte master key (TOKEN_MASTER_KEY) or a KMS key named by URL
// (VAULT_KEY_URL). What the database stores is a [Sealed].
//
// Rotating the KEK never touches the ciphertext: [Vault.Rewrap] re-wraps the data key under
// the new KEK, and a [Ring] opens secrets sealed under the current or any previous KEK while
// the rows are being re-wrapped.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	dataKeySize = 32 // AES-256
	nonceSize   = 12 // the standard GCM nonce: 96 bits
	aadVersion  = 1  // first byte of the additional authenticated data

	// DefaultCacheSize is the number of decrypted secrets kept when Options.CacheSize is 0.
	DefaultCacheSize = 10_000
)

var (
	// ErrWrongKey means the secret was sealed under another key-encryption key than the
	// vault's: Sealed.KeyID names a different KEK. Open it with a Ring that holds that key.
	ErrWrongKey = errors.New("vault: secret sealed under a different key-encryption key")

	// ErrAuthFailed means the secret does not authenticate: the ciphertext, nonce or wrapped
	// key were altered, or the secret is being opened for another Binding than it was sealed
	// for (copied into another row).
	ErrAuthFailed = errors.New("vault: sealed secret failed authentication")

	// ErrInvalidBinding means a Binding lacks its WorkspaceID or Purpose.
	ErrInvalidBinding = errors.New("vault: binding needs a workspace id and a purpose")

	// ErrInvalidOptions means New was given unusable Options.
	ErrInvalidOptions = errors.New("vault: invalid options")
)

// Binding names the place a secret belongs to. It is authenticated with the ciphertext but
// not stored in it: Open must be given the same Binding that Seal was.
type Binding struct {
	WorkspaceID string // required
	Purpose     string // required, e.g. "meta_access_token"
	// PhoneNumberID is Meta's phone number id; empty for secrets that belong to the whole
	// workspace.
	PhoneNumberID string
}

func (b Binding) validate() error {
	if b.WorkspaceID == "" || b.Purpose == "" {
		return ErrInvalidBinding
	}
	return nil
}

// aad encodes the binding unambiguously: a version byte, then each field as a 4-byte
// big-endian length followed by its bytes.
func (b Binding) aad() []byte {
	fields := [...]string{b.WorkspaceID, b.Purpose, b.PhoneNumberID}
	n := 1
	for _, f := range fields {
		n += 4 + len(f)
	}
	out := make([]byte, 0, n)
	out = append(out, aadVersion)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}

// Sealed is what the database stores for one secret. None of it is secret on its own.
type Sealed struct {
	Ciphertext []byte // AES-256-GCM output, tag included
	Nonce      []byte // 12 bytes
	WrappedKey []byte // the data key, encrypted by the key-encryption key
	KeyID      string // names the key-encryption key (see Vault.KeyID)
}

// Options configures New. Exactly one of MasterKey and KeyURL must be set.
type Options struct {
	// MasterKey is a local 32-byte key-encryption key (TOKEN_MASTER_KEY, decoded). New copies
	// it; the caller may zero its slice afterwards.
	MasterKey []byte

	// KeyURL names a KMS key-encryption key (VAULT_KEY_URL) in gocloud URL form: awskms://,
	// gcpkms://, azurekeyvault://, hashivault:// or base64key://<base64url of 32 bytes>.
	// Cloud credentials come from the environment, as each gocloud driver documents.
	// base64key:// without a key (a random key per process) is refused.
	KeyURL string

	// CacheTTL is how long a decrypted secret is kept in memory so that repeated Opens of the
	// same row do not call the KMS. 0 disables the cache.
	CacheTTL time.Duration

	// CacheSize bounds the cache; 0 means DefaultCacheSize. When full, expired entries and
	// then the oldest ones are evicted.
	CacheSize int

	// Registerer, when set, receives the vault_operations_total counter. Several vaults may
	// share one Registerer; they then share the counter.
	Registerer prometheus.Registerer
}

// Vault seals and opens secrets under one key-encryption key. It is safe for concurrent use.
type Vault struct {
	kek     keyWrapper
	keyID   string
	cache   *cache // nil when disabled
	metrics *metrics
}

// keyWrapper is the part of *secrets.Keeper the vault uses; tests wrap it to count calls.
type keyWrapper interface {
	Encrypt(ctx context.Context, plaintext []byte) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext []byte) ([]byte, error)
	Close() error
}

// New opens the key-encryption key described by o. Errors wrap ErrInvalidOptions when o is
// unusable and never contain key material.
func New(ctx context.Context, o Options) (*Vault, error) {
	if o.CacheTTL < 0 || o.CacheSize < 0 {
		return nil, fmt.Errorf("%w: negative cache ttl or size", ErrInvalidOptions)
	}
	kek, keyID, err := openKEK(ctx, o.MasterKey, o.KeyURL)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		_ = kek.Close()
		return nil, err
	}
	v := &Vault{kek: kek, keyID: keyID, metrics: m}
	if o.CacheTTL > 0 {
		size := o.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		v.cache = newCache(o.CacheTTL, size)
	}
	return v, nil
}

// KeyID names the vault's key-encryption key without revealing it: "local:<16 hex>" for a
// MasterKey, "base64key:<16 hex>" for a base64key:// URL (the hex being the start of the
// SHA-256 of the key), and the URL's scheme, host and path for a KMS key.
func (v *Vault) KeyID() string { return v.keyID }

// Close releases the key-encryption key (KMS clients) and drops the cache.
func (v *Vault) Close() error {
	if v.cache != nil {
		v.cache.purge()
	}
	return v.kek.Close()
}

// Seal encrypts plaintext for b under a fresh data key. Two Seals of the same plaintext
// produce unrelated results.
func (v *Vault) Seal(ctx context.Context, plaintext []byte, b Binding) (Sealed, error) {
	s, err := v.seal(ctx, plaintext, b)
	v.metrics.observe(opSeal, err, cacheNone)
	return s, err
}

func (v *Vault) seal(ctx context.Context, plaintext []byte, b Binding) (Sealed, error) {
	if err := b.validate(); err != nil {
		return Sealed{}, err
	}
	dk := make([]byte, dataKeySize)
	defer clear(dk)
	nonce := make([]byte, nonceSize)
	rand.Read(dk)    // never fails (crypto/rand since Go 1.24)
	rand.Read(nonce) // idem
	aead, err := newAEAD(dk)
	if err != nil {
		return Sealed{}, err
	}
	ct := aead.Seal(nil, nonce, plaintext, b.aad())
	wrapped, err := v.kek.Encrypt(ctx, dk)
	if err != nil {
		return Sealed{}, fmt.Errorf("vault: wrap data key with %s: %w", v.keyID, err)
	}
	return Sealed{Ciphertext: ct, Nonce: nonce, WrappedKey: wrapped, KeyID: v.keyID}, nil
}

// Open decrypts s for b. It fails with ErrWrongKey when s was sealed under another
// key-encryption key, with ErrInvalidBinding for an incomplete b, and with ErrAuthFailed when
// the ciphertext or nonce were altered or b is not the Binding s was sealed for. A wrapped key
// the KEK refuses (altered, or a KMS failure) returns the keeper's error wrapped;
// gcerrors.Code on it tells a transient KMS failure from a permanent one.
//
// With a cache, a secret opened within CacheTTL is returned without calling the KMS. The
// caller owns the returned slice and may zero it.
func (v *Vault) Open(ctx context.Context, s Sealed, b Binding) ([]byte, error) {
	if err := b.validate(); err != nil {
		v.metrics.observe(opOpen, err, cacheNone)
		return nil, err
	}
	if s.KeyID != v.keyID {
		v.metrics.observe(opOpen, ErrWrongKey, cacheNone)
		return nil, fmt.Errorf("%w: sealed under %q, this vault holds %q", ErrWrongKey, s.KeyID, v.keyID)
	}
	aad := b.aad()
	if v.cache == nil {
		pt, err := v.open(ctx, s, aad)
		v.metrics.observe(opOpen, err, cacheNone)
		return pt, err
	}
	key := cacheKey(s, aad)
	if pt, ok := v.cache.get(key); ok {
		v.metrics.observe(opOpen, nil, cacheHit)
		return pt, nil
	}
	pt, err := v.open(ctx, s, aad)
	v.metrics.observe(opOpen, err, cacheMiss)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, pt)
	return pt, nil
}

func (v *Vault) open(ctx context.Context, s Sealed, aad []byte) ([]byte, error) {
	if len(s.Nonce) != nonceSize {
		return nil, ErrAuthFailed // cipher.AEAD.Open would panic
	}
	dk, err := v.unwrap(ctx, s)
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	aead, err := newAEAD(dk)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, s.Nonce, s.Ciphertext, aad)
	if err != nil {
		return nil, ErrAuthFailed
	}
	return pt, nil
}

// unwrap returns the data key of s; the caller zeroes it.
func (v *Vault) unwrap(ctx context.Context, s Sealed) ([]byte, error) {
	dk, err := v.kek.Decrypt(ctx, s.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap data key with %s: %w", v.keyID, err)
	}
	if len(dk) != dataKeySize {
		clear(dk)
		return nil, ErrAuthFailed
	}
	return dk, nil
}

// Rewrap moves s to the key-encryption key of to: the data key is unwrapped with this
// vault's KEK and wrapped with to's. Ciphertext and nonce are unchanged (copied), and the
// result carries to's KeyID. Rewrap does not need the Binding and so does not authenticate
// the ciphertext; a wrapped key that does not unwrap fails.
func (v *Vault) Rewrap(ctx context.Context, s Sealed, to *Vault) (Sealed, error) {
	out, err := v.rewrap(ctx, s, to)
	v.metrics.observe(opRewrap, err, cacheNone)
	return out, err
}

func (v *Vault) rewrap(ctx context.Context, s Sealed, to *Vault) (Sealed, error) {
	if to == nil {
		return Sealed{}, errors.New("vault: rewrap to a nil vault")
	}
	if s.KeyID != v.keyID {
		return Sealed{}, fmt.Errorf("%w: sealed under %q, this vault holds %q", ErrWrongKey, s.KeyID, v.keyID)
	}
	dk, err := v.unwrap(ctx, s)
	if err != nil {
		return Sealed{}, err
	}
	defer clear(dk)
	wrapped, err := to.kek.Encrypt(ctx, dk)
	if err != nil {
		return Sealed{}, fmt.Errorf("vault: wrap data key with %s: %w", to.keyID, err)
	}
	return Sealed{
		Ciphertext: append([]byte(nil), s.Ciphertext...),
		Nonce:      append([]byte(nil), s.Nonce...),
		WrappedKey: wrapped,
		KeyID:      to.keyID,
	}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: aes: %w", err) // only on a bad key length, which we never pass
	}
	return cipher.NewGCM(block)
}

// cacheKey hashes everything that determines the plaintext, each part length-prefixed.
func cacheKey(s Sealed, aad []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	for _, p := range [][]byte{[]byte(s.KeyID), s.WrappedKey, s.Nonce, s.Ciphertext, aad} {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
