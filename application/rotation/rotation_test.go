package rotation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/application/rotation/rotationtest"
	"github.com/wabaplatform/waba/domain"
)

// failingTx makes the failAt-th Update (1-based) fail, so its transaction rolls back.
type failingTx struct {
	rotation.TxRunner
	failAt, calls int
}

func (f *failingTx) InTx(ctx context.Context, fn func(context.Context, rotation.Repos) error) error {
	return f.TxRunner.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
		r.Numbers = failingStore{Store: r.Numbers, tx: f}
		return fn(ctx, r)
	})
}

type failingStore struct {
	rotation.Store
	tx *failingTx
}

func (s failingStore) Update(ctx context.Context, p domain.PhoneNumber) error {
	if s.tx.calls++; s.tx.calls == s.tx.failAt {
		return errors.New("boom")
	}
	return s.Store.Update(ctx, p)
}

type rewrapper struct{}

func (rewrapper) KeyID() string { return "new" }
func (rewrapper) Rewrap(_ context.Context, s domain.Sealed) (domain.Sealed, error) {
	s.KeyID = "new"
	return s, nil
}

func TestRotateResumesAndCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := rotationtest.NewMemory()
	var ps []domain.PhoneNumber
	for range 7 {
		pin := domain.Sealed{KeyID: "old"}
		p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: domain.NewID(), Token: domain.Sealed{KeyID: "old"}, PIN: &pin}
		db.Put(p)
		ps = append(ps, p)
	}

	// The fifth update, in the second batch, fails: the first batch stays done, the second
	// is rolled back whole.
	res, err := rotation.Rotate(ctx, &failingTx{TxRunner: db, failAt: 5}, rewrapper{}, 3, time.Now)
	require.Error(t, err)
	require.Equal(t, rotation.Result{Rotated: 3, Batches: 1}, res, "what committed before the failure")
	require.Len(t, db.Events(), 3)
	got, ok := db.Number(ps[3].WorkspaceID, ps[3].ID)
	require.True(t, ok)
	require.Equal(t, "old", got.Token.KeyID, "the failed batch's first update was rolled back")

	res, err = rotation.Rotate(ctx, db, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Equal(t, rotation.Result{Rotated: 4, Batches: 2}, res, "the run resumes with the rest")
	for _, p := range ps {
		got, ok := db.Number(p.WorkspaceID, p.ID)
		require.True(t, ok)
		require.Equal(t, "new", got.Token.KeyID)
		require.Equal(t, "new", got.PIN.KeyID)
	}
	require.Len(t, db.Events(), 7, "one event per number rotated")

	res, err = rotation.Rotate(ctx, db, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Zero(t, res.Rotated, "a second run finds nothing to do")
}

// failingHooksTx makes the failAt-th UpdateHookSecrets (1-based) fail.
type failingHooksTx struct {
	rotation.TxRunner
	failAt, calls int
}

func (f *failingHooksTx) InTx(ctx context.Context, fn func(context.Context, rotation.Repos) error) error {
	return f.TxRunner.InTx(ctx, func(ctx context.Context, r rotation.Repos) error {
		r.Hooks = failingHooks{HookStore: r.Hooks, tx: f}
		return fn(ctx, r)
	})
}

type failingHooks struct {
	rotation.HookStore
	tx *failingHooksTx
}

func (s failingHooks) UpdateHookSecrets(ctx context.Context, e domain.HookEndpoint) error {
	if s.tx.calls++; s.tx.calls == s.tx.failAt {
		return errors.New("boom")
	}
	return s.HookStore.UpdateHookSecrets(ctx, e)
}

// Webhook endpoints' signing secrets move too: the current one and a rotated-out one still
// signing, after the numbers, resumable, one audit event per endpoint.
func TestRotateRewrapsWebhookEndpointSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := rotationtest.NewMemory()
	number := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: domain.NewID(), Token: domain.Sealed{KeyID: "old"}}
	db.Put(number)
	until := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	var es []domain.HookEndpoint
	for i := range 5 {
		e := domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: domain.NewID(), URL: "https://hooks.example.com/",
			Events: []domain.HookEventType{domain.HookAll}, Enabled: true, Secret: domain.Sealed{Ciphertext: []byte{byte(i)}, KeyID: "old"}}
		switch i {
		case 1: // rotated by its owner: the previous secret still signs
			e.Previous, e.PreviousUntil = &domain.Sealed{Ciphertext: []byte{9, byte(i)}, KeyID: "old"}, &until
		case 2: // only the previous secret is under the old key (sealed before a run that stopped)
			e.Secret.KeyID = "new"
			e.Previous, e.PreviousUntil = &domain.Sealed{Ciphertext: []byte{9, byte(i)}, KeyID: "old"}, &until
		}
		db.PutEndpoint(e)
		es = append(es, e)
	}
	done := domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: domain.NewID(), Secret: domain.Sealed{KeyID: "new"}}
	db.PutEndpoint(done)

	// The fourth endpoint's update, in the second batch of endpoints, fails.
	res, err := rotation.Rotate(ctx, &failingHooksTx{TxRunner: db, failAt: 4}, rewrapper{}, 3, time.Now)
	require.Error(t, err)
	require.Equal(t, rotation.Result{Rotated: 1, Endpoints: 3, Batches: 2}, res, "the number, then the first batch of endpoints")
	got, _ := db.Endpoint(es[3].WorkspaceID, es[3].ID)
	require.Equal(t, "old", got.Secret.KeyID, "the failed batch was rolled back")

	res, err = rotation.Rotate(ctx, db, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Equal(t, rotation.Result{Endpoints: 2, Batches: 1}, res, "the run resumes with the rest")
	for i, e := range es {
		got, ok := db.Endpoint(e.WorkspaceID, e.ID)
		require.True(t, ok)
		require.Equal(t, "new", got.Secret.KeyID, i)
		require.Equal(t, e.Secret.Ciphertext, got.Secret.Ciphertext, "only the wrapped key changes")
		if e.Previous != nil {
			require.Equal(t, "new", got.Previous.KeyID, i)
			require.Equal(t, e.Previous.Ciphertext, got.Previous.Ciphertext)
			require.Equal(t, until, *got.PreviousUntil, "the overlap is left as it was")
		} else {
			require.Nil(t, got.Previous)
		}
		require.Equal(t, e.URL, got.URL)
		require.True(t, got.Enabled)
	}

	var audited []domain.ID
	for _, o := range db.Events() {
		if k, ok := o.Event.(domain.HookSecretKeyRotated); ok {
			require.Equal(t, domain.EventTokenKeyRotated, o.Event.Kind())
			require.Equal(t, "webhook_endpoint", o.Event.Subject().ResourceType)
			require.Equal(t, domain.SystemIn(o.Actor.WorkspaceID), o.Actor)
			require.Equal(t, domain.FromTo[string]{From: "old", To: "new"}, k.Key)
			audited = append(audited, k.EndpointID)
		}
	}
	require.Len(t, audited, 5, "one event per endpoint rotated")

	res, err = rotation.Rotate(ctx, db, rewrapper{}, 3, time.Now)
	require.NoError(t, err)
	require.Zero(t, res.Rotated+res.Endpoints, "a second run finds nothing to do")
}

// A number another transaction holds is waited for, not skipped: the run ends with every
// number under the new key.
func TestRotateWaitsForWhatAnotherTransactionHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := rotationtest.NewMemory()
	var ps []domain.PhoneNumber
	for range 3 {
		p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: domain.NewID(), Token: domain.Sealed{KeyID: "old"}}
		db.Put(p)
		ps = append(ps, p)
	}
	release := db.Lock(ps[1].WorkspaceID, ps[1].ID)
	type result struct {
		res rotation.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := rotation.Rotate(ctx, db, rewrapper{}, 10, time.Now)
		done <- result{res, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); db.Waiting() == 0; time.Sleep(time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the run waits for the held number")
	}
	release()
	got := <-done
	require.NoError(t, got.err)
	require.Equal(t, rotation.Result{Rotated: 3, Batches: 1}, got.res)
	for _, p := range ps {
		got, ok := db.Number(p.WorkspaceID, p.ID)
		require.True(t, ok)
		require.Equal(t, "new", got.Token.KeyID)
	}
}
