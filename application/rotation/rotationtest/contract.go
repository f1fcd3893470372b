package rotationtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/domain"
)

// Subject is a rotation store under the contract, with its transaction runner and what the
// contract needs to set up and read back around it.
type Subject struct {
	Tx rotation.TxRunner
	// Workspace creates a workspace and returns its id.
	Workspace func(t *testing.T) domain.ID
	// Number stores p, every field of it.
	Number func(t *testing.T, p domain.PhoneNumber)
	// Read returns the committed number.
	Read func(t *testing.T, ws, id domain.ID) domain.PhoneNumber
	// Lock holds the number locked by another transaction until release is called.
	Lock func(t *testing.T, ws, id domain.ID) (release func())
	// Waiting returns how many transactions wait for a lock another holds.
	Waiting func(t *testing.T) int
}

// NewSubject returns the Memory store as a contract subject.
func NewSubject(db *Memory) Subject {
	return Subject{Tx: db,
		Workspace: func(*testing.T) domain.ID { return domain.NewID() },
		Number:    func(_ *testing.T, p domain.PhoneNumber) { db.Put(p) },
		Read: func(t *testing.T, ws, id domain.ID) domain.PhoneNumber {
			p, ok := db.Number(ws, id)
			require.True(t, ok, "number %s", id)
			return p
		},
		Lock:    func(_ *testing.T, ws, id domain.ID) func() { return db.Lock(ws, id) },
		Waiting: func(*testing.T) int { return db.Waiting() },
	}
}

// RunStoreContract holds a rotation.Store and its TxRunner to what the ports promise.
// newSubject returns a fresh, empty store for each sub-test.
func RunStoreContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	var seq atomic.Int64 // sub-tests run in parallel
	sealed := func(keyID string) domain.Sealed {
		n := byte(seq.Add(1))
		return domain.Sealed{Ciphertext: []byte{1, n}, Nonce: []byte{2, n}, WrappedKey: []byte{3, n}, KeyID: keyID}
	}
	// numbers stores a number of ws for each (token key, PIN key) pair, "" for no PIN,
	// in shuffled order, and returns them in id order.
	numbers := func(t *testing.T, sub Subject, ws domain.ID, keys ...[2]string) []domain.PhoneNumber {
		t.Helper()
		var out []domain.PhoneNumber
		for _, k := range keys {
			n := seq.Add(1)
			synced := at.Add(time.Duration(n) * time.Minute)
			p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: fmt.Sprint(100000 + n), WABAID: "2001",
				DisplayPhoneNumber: "+1 415-555-0100", VerifiedName: "Acme", Status: domain.NumberConnected, WebhookSubscribed: true,
				Registered: true, QualityRating: "GREEN", MessagingLimitTier: "TIER_1K", ThroughputLevel: "STANDARD",
				NameStatus: "APPROVED", LastSyncedAt: &synced, Token: sealed(k[0]), CreatedAt: at, UpdatedAt: at}
			if k[1] != "" {
				pin := sealed(k[1])
				p.PIN = &pin
			}
			out = append(out, p) // NewID ascends, so out is in id order
		}
		for _, i := range rand.Perm(len(out)) {
			sub.Number(t, out[i])
		}
		return out
	}
	// sealedAfter runs SealedAfter in a transaction of its own.
	sealedAfter := func(t *testing.T, sub Subject, keyID string, after domain.ID, limit int) []domain.PhoneNumber {
		t.Helper()
		var got []domain.PhoneNumber
		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
			var err error
			got, err = r.Numbers.SealedAfter(ctx, keyID, after, limit)
			return err
		}))
		for i := range got {
			got[i] = utcNumber(got[i])
		}
		return got
	}
	ids := func(ps ...domain.PhoneNumber) []domain.ID {
		out := []domain.ID{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}

	t.Run("SealedAfterFindsWhatIsNotUnderTheKeyInIDOrder", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		ps := numbers(t, sub, ws,
			[2]string{"old", ""}, [2]string{"new", ""}, [2]string{"new", "old"}, [2]string{"new", "new"}, [2]string{"old", "new"})
		elsewhere := numbers(t, sub, other, [2]string{"older", ""})
		stale := []domain.PhoneNumber{ps[0], ps[2], ps[4], elsewhere[0]} // a token or a PIN not under "new"

		require.Equal(t, stale, sealedAfter(t, sub, "new", domain.NilID, 10), "whole numbers, of every workspace, in id order")
		require.Equal(t, ids(stale[:2]...), ids(sealedAfter(t, sub, "new", domain.NilID, 2)...), "limit")
		require.Equal(t, ids(stale[2:]...), ids(sealedAfter(t, sub, "new", ps[2].ID, 10)...), "after an id")
		require.Equal(t, ids(stale[2:]...), ids(sealedAfter(t, sub, "new", ps[3].ID, 10)...), "after an id not returned")
		require.Empty(t, sealedAfter(t, sub, "new", elsewhere[0].ID, 10), "after the last")
		require.Equal(t, ids(ps[1], ps[2], ps[3], ps[4], elsewhere[0]), ids(sealedAfter(t, sub, "old", domain.NilID, 10)...),
			"another key")
		require.Empty(t, sealedAfter(t, sub, "new", domain.NewID(), 10), "after every id")
	})

	t.Run("SealedAfterWaitsForNumbersLockedByAnotherTransaction", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		ps := numbers(t, sub, ws, [2]string{"old", ""}, [2]string{"old", ""}, [2]string{"old", "old"})
		release := sub.Lock(t, ws, ps[1].ID)
		type result struct {
			got []domain.PhoneNumber
			err error
		}
		done := make(chan result, 1)
		go func() { // require must not run outside the test's goroutine
			var got []domain.PhoneNumber
			err := sub.Tx.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
				var err error
				got, err = r.Numbers.SealedAfter(ctx, "new", domain.NilID, 10)
				return err
			})
			done <- result{got, err}
		}()
		for deadline := time.Now().Add(10 * time.Second); sub.Waiting(t) == 0; time.Sleep(5 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "SealedAfter waits for the held number")
		}
		require.Empty(t, done, "nothing returned while a number is held")
		release()
		res := <-done
		require.NoError(t, res.err)
		require.Equal(t, ids(ps...), ids(res.got...), "taken once let go, not skipped")
	})

	t.Run("UpdateWritesTheSecretsOfThatNumber", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		ps := numbers(t, sub, ws, [2]string{"old", "old"}, [2]string{"old", ""}, [2]string{"old", "old"})
		later := at.Add(time.Hour)
		var want []domain.PhoneNumber
		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
			got, err := r.Numbers.SealedAfter(ctx, "new", domain.NilID, 2)
			require.NoError(t, err)
			require.Len(t, got, 2)
			pin := sealed("new")
			got[0].Token, got[0].PIN, got[0].UpdatedAt = sealed("new"), nil, later  // a PIN cleared
			got[1].Token, got[1].PIN, got[1].UpdatedAt = sealed("new"), &pin, later // a PIN set
			want = got
			for _, p := range got {
				if err := r.Numbers.Update(ctx, p); err != nil {
					return err
				}
			}
			// Update neither moves a number to another workspace nor creates one.
			moved := ps[2]
			moved.WorkspaceID, moved.Token = other, sealed("new")
			if err := r.Numbers.Update(ctx, moved); err != nil {
				return err
			}
			absent := ps[2]
			absent.ID = domain.NewID()
			return r.Numbers.Update(ctx, absent)
		}))
		for _, p := range want {
			require.Equal(t, utcNumber(p), utcNumber(sub.Read(t, ws, p.ID)))
		}
		require.Equal(t, ps[2], utcNumber(sub.Read(t, ws, ps[2].ID)), "untouched")
		require.Equal(t, ids(ps[2]), ids(sealedAfter(t, sub, "new", domain.NilID, 10)...), "nothing else moved or created")
	})

	t.Run("ATransactionCommitsOrRollsBack", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		ps := numbers(t, sub, ws, [2]string{"old", "old"})
		boom := errors.New("boom")
		rotate := func(ctx context.Context, r rotation.Repos) error {
			got, err := r.Numbers.SealedAfter(ctx, "new", domain.NilID, 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			pin := sealed("new")
			got[0].Token, got[0].PIN = sealed("new"), &pin
			require.NoError(t, r.Numbers.Update(ctx, got[0]))
			seen, err := r.Numbers.SealedAfter(ctx, "new", domain.NilID, 10)
			require.NoError(t, err)
			require.Empty(t, seen, "a transaction reads its own writes")
			system := domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws}
			return r.Events.Append(ctx, domain.Occurred(system, at, domain.TokenKeyRotated{NumberID: got[0].ID,
				Key: domain.FromTo[string]{From: "old", To: "new"}}))
		}
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
			if err := rotate(ctx, r); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, ps[0], utcNumber(sub.Read(t, ws, ps[0].ID)), "rolled back")

		require.NoError(t, sub.Tx.InTx(ctx, rotate))
		require.Equal(t, "new", sub.Read(t, ws, ps[0].ID).Token.KeyID, "committed")
		require.Empty(t, sealedAfter(t, sub, "new", domain.NilID, 10))
	})
}

// utcNumber puts every time of p in UTC, so numbers read back from any store compare equal.
func utcNumber(p domain.PhoneNumber) domain.PhoneNumber {
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if p.LastSyncedAt != nil {
		at := p.LastSyncedAt.UTC()
		p.LastSyncedAt = &at
	}
	return p
}
