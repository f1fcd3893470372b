package vault

import (
	"context"

	"github.com/wabaplatform/waba/domain"
)

// Tokens adapts a Ring to the application's vault port (domain types in and out).
type Tokens struct{ Ring *Ring }

func toBinding(b domain.SecretBinding) Binding {
	return Binding{WorkspaceID: b.WorkspaceID.String(), Purpose: b.Purpose, PhoneNumberID: b.PhoneNumberID}
}

// Seal seals plaintext under the current key.
func (t *Tokens) Seal(ctx context.Context, plaintext []byte, b domain.SecretBinding) (domain.Sealed, error) {
	s, err := t.Ring.Seal(ctx, plaintext, toBinding(b))
	return domain.Sealed{Ciphertext: s.Ciphertext, Nonce: s.Nonce, WrappedKey: s.WrappedKey, KeyID: s.KeyID}, err
}

// Open opens a sealed secret with whichever key of the ring sealed it.
func (t *Tokens) Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error) {
	return t.Ring.Open(ctx, Sealed{Ciphertext: s.Ciphertext, Nonce: s.Nonce, WrappedKey: s.WrappedKey, KeyID: s.KeyID}, toBinding(b))
}

// Rewrap moves a sealed secret to the ring's current key.
func (t *Tokens) Rewrap(ctx context.Context, s domain.Sealed) (domain.Sealed, error) {
	out, err := t.Ring.Rewrap(ctx, Sealed{Ciphertext: s.Ciphertext, Nonce: s.Nonce, WrappedKey: s.WrappedKey, KeyID: s.KeyID})
	return domain.Sealed{Ciphertext: out.Ciphertext, Nonce: out.Nonce, WrappedKey: out.WrappedKey, KeyID: out.KeyID}, err
}

// KeyID is the id of the ring's current key.
func (t *Tokens) KeyID() string { return t.Ring.KeyID() }
