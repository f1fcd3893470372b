package vault

import (
	"context"
	"errors"
	"fmt"
)

// Ring holds the current vault and the previous ones during a key rotation: it seals with
// the current key-encryption key and opens with whichever vault holds the KEK a secret was
// sealed under. It has the same Seal and Open as Vault, so either satisfies the same port.
// A Ring does not own its vaults: close them, not the Ring.
type Ring struct {
	current *Vault
	byKeyID map[string]*Vault
}

// NewRing returns a Ring sealing with current and opening with current or any of previous.
// Vaults with a KeyID already in the ring (the same key) are skipped.
func NewRing(current *Vault, previous ...*Vault) (*Ring, error) {
	if current == nil {
		return nil, errors.New("vault: ring needs a current vault")
	}
	r := &Ring{current: current, byKeyID: map[string]*Vault{current.keyID: current}}
	for i, v := range previous {
		if v == nil {
			return nil, fmt.Errorf("vault: ring: previous vault %d is nil", i)
		}
		if _, ok := r.byKeyID[v.keyID]; !ok {
			r.byKeyID[v.keyID] = v
		}
	}
	return r, nil
}

// KeyID is the KeyID of the current vault: a Sealed whose KeyID differs is due for Rewrap.
func (r *Ring) KeyID() string { return r.current.keyID }

// Seal seals with the current vault.
func (r *Ring) Seal(ctx context.Context, plaintext []byte, b Binding) (Sealed, error) {
	return r.current.Seal(ctx, plaintext, b)
}

// Open opens s with the vault holding the key-encryption key named by s.KeyID, and fails
// with ErrWrongKey when the ring holds no such vault. See Vault.Open.
func (r *Ring) Open(ctx context.Context, s Sealed, b Binding) ([]byte, error) {
	v, err := r.vaultFor(s, opOpen)
	if err != nil {
		return nil, err
	}
	return v.Open(ctx, s, b)
}

// Rewrap moves s to the current key-encryption key. A secret already under it is returned
// unchanged, without calling the KMS.
func (r *Ring) Rewrap(ctx context.Context, s Sealed) (Sealed, error) {
	if s.KeyID == r.current.keyID {
		return s, nil
	}
	v, err := r.vaultFor(s, opRewrap)
	if err != nil {
		return Sealed{}, err
	}
	return v.Rewrap(ctx, s, r.current)
}

func (r *Ring) vaultFor(s Sealed, op string) (*Vault, error) {
	v, ok := r.byKeyID[s.KeyID]
	if !ok {
		err := fmt.Errorf("%w: sealed under %q, which the ring does not hold", ErrWrongKey, s.KeyID)
		r.current.metrics.observe(op, err, cacheNone)
		return nil, err
	}
	return v, nil
}
