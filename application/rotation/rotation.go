// Package rotation re-wraps every sealed secret under the current key-encryption key
// (`waba keys rotate`): online, in batches, resumable, audited. Only the small wrapped data
// keys change; ciphertexts stay as they are.
package rotation

import (
	"context"
	"fmt"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Rewrapper moves a sealed secret to the current key.
type Rewrapper interface {
	KeyID() string
	Rewrap(ctx context.Context, s domain.Sealed) (domain.Sealed, error)
}

// Store reads and writes phone numbers' sealed secrets.
type Store interface {
	// SealedAfter locks up to limit numbers (after the given id, in id order) with a secret
	// not sealed under keyID; rows locked by others are skipped and found on a later run.
	SealedAfter(ctx context.Context, keyID string, after domain.ID, limit int) ([]domain.PhoneNumber, error)
	Update(ctx context.Context, p domain.PhoneNumber) error
}

// Repos is what a transaction offers.
type Repos struct {
	Numbers Store
	Events  events.Log
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Result counts what a run did.
type Result struct {
	Rotated int
	Batches int
}

// Rotate re-wraps every secret not under the current key, batch by batch; each batch
// commits on its own, so an interrupted run resumes where it stopped when run again.
func Rotate(ctx context.Context, tx TxRunner, v Rewrapper, batch int, now func() time.Time) (Result, error) {
	var res Result
	after := domain.NilID
	keyID := v.KeyID()
	for {
		n := 0
		err := tx.InTx(ctx, func(ctx context.Context, r Repos) error {
			rows, err := r.Numbers.SealedAfter(ctx, keyID, after, batch)
			if err != nil {
				return err
			}
			n = len(rows)
			for _, p := range rows {
				from := p.Token.KeyID
				if p.Token.KeyID != keyID {
					if p.Token, err = v.Rewrap(ctx, p.Token); err != nil {
						return fmt.Errorf("number %s token: %w", p.ID, err)
					}
				}
				if p.PIN != nil && p.PIN.KeyID != keyID {
					pin, err := v.Rewrap(ctx, *p.PIN)
					if err != nil {
						return fmt.Errorf("number %s pin: %w", p.ID, err)
					}
					p.PIN = &pin
				}
				p.UpdatedAt = now().UTC()
				if err := r.Numbers.Update(ctx, p); err != nil {
					return err
				}
				if err := r.Events.Append(ctx, domain.Occurred(domain.SystemIn(p.WorkspaceID), p.UpdatedAt, domain.TokenKeyRotated{NumberID: p.ID,
					Key: domain.FromTo[string]{From: from, To: keyID}})); err != nil {
					return err
				}
				after = p.ID
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		if n == 0 {
			return res, nil
		}
		res.Rotated += n
		res.Batches++
	}
}
