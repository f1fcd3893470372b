// Package rotation re-wraps every sealed secret under the current key-encryption key
// (`waba keys rotate`): phone numbers' access tokens and PINs, and webhook endpoints'
// signing secrets (the current one and a rotated-out one still signing). Online, in
// batches, resumable, audited. Only the small wrapped data keys change; ciphertexts stay as
// they are.
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
	// not sealed under keyID. It waits for a number another transaction holds (a sync, a
	// send: short) and takes it if it still needs rotating, so a run leaves none behind.
	SealedAfter(ctx context.Context, keyID string, after domain.ID, limit int) ([]domain.PhoneNumber, error)
	Update(ctx context.Context, p domain.PhoneNumber) error
}

// HookStore reads and writes webhook endpoints' sealed secrets.
type HookStore interface {
	// HookSecretsAfter locks up to limit endpoints (after the given id, in id order) with a
	// secret, current or previous, not sealed under keyID, waiting for one another
	// transaction holds as SealedAfter does.
	HookSecretsAfter(ctx context.Context, keyID string, after domain.ID, limit int) ([]domain.HookEndpoint, error)
	// UpdateHookSecrets writes the endpoint's secret and previous secret, nothing else.
	UpdateHookSecrets(ctx context.Context, e domain.HookEndpoint) error
}

// Repos is what a transaction offers.
type Repos struct {
	Numbers Store
	Hooks   HookStore
	Events  events.Log
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Result counts what a run did.
type Result struct {
	Rotated   int // phone numbers
	Endpoints int // webhook endpoints
	Batches   int
}

// Rotate re-wraps every secret not under the current key, batch by batch: the phone
// numbers', then the webhook endpoints'. Each batch commits on its own, so an interrupted
// run resumes where it stopped when run again.
func Rotate(ctx context.Context, tx TxRunner, v Rewrapper, batch int, now func() time.Time) (Result, error) {
	var res Result
	keyID := v.KeyID()
	// rewrap moves s (nil: none) to the current key unless it is there already.
	rewrap := func(s *domain.Sealed, what string, id domain.ID) error {
		if s == nil || s.KeyID == keyID {
			return nil
		}
		out, err := v.Rewrap(ctx, *s)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, id, err)
		}
		*s = out
		return nil
	}
	n, b, err := inBatches(ctx, tx, func(ctx context.Context, r Repos, after domain.ID) (domain.ID, int, error) {
		rows, err := r.Numbers.SealedAfter(ctx, keyID, after, batch)
		if err != nil {
			return after, 0, err
		}
		for _, p := range rows {
			from := p.Token.KeyID
			if err := rewrap(&p.Token, "number token", p.ID); err != nil {
				return after, 0, err
			}
			if err := rewrap(p.PIN, "number pin", p.ID); err != nil {
				return after, 0, err
			}
			p.UpdatedAt = now().UTC()
			if err := r.Numbers.Update(ctx, p); err != nil {
				return after, 0, err
			}
			if err := r.Events.Append(ctx, domain.Occurred(domain.SystemIn(p.WorkspaceID), p.UpdatedAt, domain.TokenKeyRotated{NumberID: p.ID,
				Key: domain.FromTo[string]{From: from, To: keyID}})); err != nil {
				return after, 0, err
			}
			after = p.ID
		}
		return after, len(rows), nil
	})
	res.Rotated, res.Batches = n, b
	if err != nil {
		return res, err
	}
	n, b, err = inBatches(ctx, tx, func(ctx context.Context, r Repos, after domain.ID) (domain.ID, int, error) {
		rows, err := r.Hooks.HookSecretsAfter(ctx, keyID, after, batch)
		if err != nil {
			return after, 0, err
		}
		for _, e := range rows {
			from := e.Secret.KeyID
			if e.Secret.KeyID == keyID && e.Previous != nil {
				from = e.Previous.KeyID
			}
			if err := rewrap(&e.Secret, "webhook endpoint secret", e.ID); err != nil {
				return after, 0, err
			}
			if err := rewrap(e.Previous, "webhook endpoint previous secret", e.ID); err != nil {
				return after, 0, err
			}
			if err := r.Hooks.UpdateHookSecrets(ctx, e); err != nil {
				return after, 0, err
			}
			if err := r.Events.Append(ctx, domain.Occurred(domain.SystemIn(e.WorkspaceID), now().UTC(), domain.HookSecretKeyRotated{
				EndpointID: e.ID, Key: domain.FromTo[string]{From: from, To: keyID}})); err != nil {
				return after, 0, err
			}
			after = e.ID
		}
		return after, len(rows), nil
	})
	res.Endpoints, res.Batches = n, res.Batches+b
	return res, err
}

// inBatches runs step in a transaction of its own per batch, from the first id on, until a
// batch finds nothing; it counts the rows and the batches that committed.
func inBatches(ctx context.Context, tx TxRunner, step func(ctx context.Context, r Repos, after domain.ID) (last domain.ID, n int, err error)) (rows, count int, err error) {
	after := domain.NilID
	for {
		var n int
		var last domain.ID
		err := tx.InTx(ctx, func(ctx context.Context, r Repos) error {
			var err error
			last, n, err = step(ctx, r, after)
			return err
		})
		if err != nil || n == 0 {
			return rows, count, err
		}
		after, rows, count = last, rows+n, count+1
	}
}
