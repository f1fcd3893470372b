package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

func TestHookDeliveriesInsertIdempotentAndClaimSkipsLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Hooks")
	repo := postgres.NewHookRepo(pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	ep := domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: ws.ID, URL: "https://hooks.example.com/", Enabled: true,
		Events: []domain.HookEventType{domain.HookAll}, Secret: domain.Sealed{Ciphertext: []byte{1}, Nonce: []byte{2},
			WrappedKey: []byte{3}, KeyID: "k"}, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, repo.InsertEndpoint(ctx, ep))
	batch := func() []domain.HookDelivery {
		var ds []domain.HookDelivery
		for i := range 6 {
			ds = append(ds, domain.HookDelivery{ID: domain.NewID(), WorkspaceID: ws.ID, EndpointID: ep.ID,
				EventID: domain.HookEventID(int64(i)), EventType: domain.HookPing, Body: []byte(`{}`), NextAttemptAt: &now, CreatedAt: now})
		}
		return ds
	}
	require.NoError(t, repo.InsertDeliveries(ctx, batch()))
	require.NoError(t, repo.InsertDeliveries(ctx, batch()), "the same events again add nothing")
	all, err := repo.Deliveries(ctx, ws.ID, ep.ID, hooks.DeliveryFilter{}, 100)
	require.NoError(t, err)
	require.Len(t, all, 6)

	ref := hooks.EndpointRef{WorkspaceID: ws.ID, EndpointID: ep.ID}
	// A claim held by an open transaction is skipped by another; the lease then hides it.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	first, err := postgres.NewHookRepo(tx).Claim(ctx, ref, hooks.Holder{}, now, now.Add(time.Minute), 4)
	require.NoError(t, err)
	require.Len(t, first, 4)
	second, err := repo.Claim(ctx, ref, hooks.Holder{}, now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, second, 2, "the locked rows are skipped")
	require.NoError(t, tx.Commit(ctx))
	none, err := repo.Claim(ctx, ref, hooks.Holder{}, now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, none, "leased")
	due, err := repo.DueEndpoints(ctx, now.Add(2*time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, []hooks.EndpointRef{ref}, due, "a lease that ran out is due again")

	code := 500
	next := now.Add(time.Hour)
	require.NoError(t, repo.Record(ctx, []hooks.Result{
		{WorkspaceID: ws.ID, ID: first[0].ID, Status: domain.HookFailed, Attempts: 1, ResponseStatus: &code,
			ResponseBody: "bad\x00\xff", Error: "HTTP 500", DurationMS: 3, NextAttemptAt: &next, At: now},
		{WorkspaceID: ws.ID, ID: first[1].ID, Status: domain.HookSucceeded, Attempts: 1, At: now},
	}))
	failed, err := repo.Deliveries(ctx, ws.ID, ep.ID, hooks.DeliveryFilter{Status: domain.HookFailed}, 10)
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "bad\uFFFD", failed[0].ResponseBody)
	require.Equal(t, 500, *failed[0].ResponseStatus)
	require.NoError(t, repo.RetryDelivery(ctx, ws.ID, first[0].ID, now))
	again, err := repo.Claim(ctx, ref, hooks.Holder{}, now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.Equal(t, first[0].ID, again[0].ID)

	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return postgres.NewHookRepo(tx).DeleteEndpoint(ctx, ws.ID, ep.ID) }))
	all, err = repo.Deliveries(ctx, ws.ID, ep.ID, hooks.DeliveryFilter{}, 100)
	require.NoError(t, err)
	require.Empty(t, all, "deliveries go with their endpoint")
}

// A later run of the job that claimed a delivery takes it back at once (the process died
// mid-send and the job was rescued); any other job, or the same run, waits for the lease;
// a recorded outcome ends the hold, so a failure waits for its retry time.
func TestHookClaimTakesBackAnEarlierAttemptsLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Hook leases")
	repo := postgres.NewHookRepo(pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	ep := domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: ws.ID, URL: "https://hooks.example.com/", Enabled: true,
		Events: []domain.HookEventType{domain.HookAll}, Secret: domain.Sealed{Ciphertext: []byte{1}, Nonce: []byte{2},
			WrappedKey: []byte{3}, KeyID: "k"}, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, repo.InsertEndpoint(ctx, ep))
	var ds []domain.HookDelivery
	for i := range 3 {
		ds = append(ds, domain.HookDelivery{ID: domain.NewID(), WorkspaceID: ws.ID, EndpointID: ep.ID,
			EventID: domain.HookEventID(int64(i)), EventType: domain.HookPing, Body: []byte(`{}`), NextAttemptAt: &now, CreatedAt: now})
	}
	require.NoError(t, repo.InsertDeliveries(ctx, ds))
	ref := hooks.EndpointRef{WorkspaceID: ws.ID, EndpointID: ep.ID}
	lease := now.Add(hooks.Lease)
	ids := func(ds []domain.HookDelivery) []domain.ID {
		out := []domain.ID{}
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}

	run1 := hooks.Holder{Job: 41, Attempt: 1}
	claimed, err := repo.Claim(ctx, ref, run1, now, lease, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 3)
	// The run records one outcome, then its process dies with the other two in flight.
	next := now.Add(time.Hour)
	require.NoError(t, repo.Record(ctx, []hooks.Result{{WorkspaceID: ws.ID, ID: claimed[0].ID, Status: domain.HookFailed,
		Attempts: 1, Error: "HTTP 500", NextAttemptAt: &next, At: now}}))

	later := now.Add(time.Second)
	for name, h := range map[string]hooks.Holder{
		"no holder":             {},
		"another job":           {Job: 42, Attempt: 2},
		"the same run":          run1,
		"an earlier attempt":    {Job: 41, Attempt: 0},
		"another job's attempt": {Job: 40, Attempt: 5},
	} {
		got, err := repo.Claim(ctx, ref, h, later, later.Add(hooks.Lease), 10)
		require.NoError(t, err)
		require.Empty(t, got, "%s waits for the lease", name)
	}

	run2 := hooks.Holder{Job: 41, Attempt: 2}
	back, err := repo.Claim(ctx, ref, run2, later, later.Add(hooks.Lease), 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []domain.ID{claimed[1].ID, claimed[2].ID}, ids(back),
		"the rescued job takes back what its dead run held, not the recorded failure")
	again, err := repo.Claim(ctx, ref, run2, later, later.Add(hooks.Lease), 10)
	require.NoError(t, err)
	require.Empty(t, again, "the run holds them now: it does not claim them twice")

	// Run 3 (the job rescued once more) takes them back from run 2, not from anyone else.
	run3 := hooks.Holder{Job: 41, Attempt: 3}
	back, err = repo.Claim(ctx, ref, run3, later, later.Add(hooks.Lease), 10)
	require.NoError(t, err)
	require.Len(t, back, 2)

	// Should that run never come, the lease is the fallback: anyone takes them once it runs out.
	expired := later.Add(hooks.Lease)
	due, err := repo.DueEndpoints(ctx, expired, 10)
	require.NoError(t, err)
	require.Equal(t, []hooks.EndpointRef{ref}, due)
	other, err := repo.Claim(ctx, ref, hooks.Holder{Job: 99, Attempt: 1}, expired, expired.Add(hooks.Lease), 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []domain.ID{claimed[1].ID, claimed[2].ID}, ids(other))
	stolen, err := repo.Claim(ctx, ref, hooks.Holder{Job: 41, Attempt: 4}, expired, expired.Add(hooks.Lease), 10)
	require.NoError(t, err)
	require.Empty(t, stolen, "the new holder's, no longer job 41's")

	// A manual retry ends the hold too.
	require.NoError(t, repo.RetryDelivery(ctx, ws.ID, claimed[1].ID, expired.Add(time.Hour)))
	got, err := repo.Claim(ctx, ref, hooks.Holder{Job: 99, Attempt: 2}, expired, expired.Add(hooks.Lease), 10)
	require.NoError(t, err)
	require.Equal(t, []domain.ID{claimed[2].ID}, ids(got), "the retried one waits for its time")
}

// `waba keys rotate` finds endpoints with a secret (current or previous) under another key,
// in id order, skipping locked rows, and writes back the secrets only.
func TestHookRepoRotationReadsAndWritesSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Hook keys")
	repo := postgres.NewHookRepo(pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	sealed := func(n byte, key string) domain.Sealed {
		return domain.Sealed{Ciphertext: []byte{1, n}, Nonce: []byte{2, n}, WrappedKey: []byte{3, n}, KeyID: key}
	}
	var es []domain.HookEndpoint
	for i, keys := range [][2]string{{"old", ""}, {"new", "old"}, {"new", ""}, {"new", "new"}, {"old", "old"}} {
		e := domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: ws.ID, URL: "https://hooks.example.com/", Enabled: true,
			Events: []domain.HookEventType{domain.HookAll}, Secret: sealed(byte(i), keys[0]), CreatedAt: now, UpdatedAt: now}
		if keys[1] != "" {
			prev, until := sealed(byte(10+i), keys[1]), now.Add(time.Hour)
			e.Previous, e.PreviousUntil = &prev, &until
		}
		require.NoError(t, repo.InsertEndpoint(ctx, e))
		es = append(es, e)
	}
	ids := func(es []domain.HookEndpoint) []domain.ID {
		out := []domain.ID{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	after := func(q postgres.Querier, from domain.ID, limit int) []domain.HookEndpoint {
		got, err := postgres.NewHookRepo(q).HookSecretsAfter(ctx, "new", from, limit)
		require.NoError(t, err)
		return got
	}
	require.Equal(t, ids([]domain.HookEndpoint{es[0], es[1], es[4]}), ids(after(pool, domain.NilID, 10)))
	require.Equal(t, ids(es[:2]), ids(after(pool, domain.NilID, 2)), "limit")
	require.Equal(t, ids(es[4:]), ids(after(pool, es[1].ID, 10)), "after an id")

	lock, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.Len(t, after(lock, domain.NilID, 1), 1)
	waited := make(chan int, 1)
	go func() {
		got, _ := postgres.NewHookRepo(pool).HookSecretsAfter(ctx, "new", domain.NilID, 10)
		waited <- len(got)
	}()
	require.Eventually(t, func() bool { return lockWaiters(pool) == 1 }, 10*time.Second, 5*time.Millisecond, "a locked row is waited for")
	require.NoError(t, lock.Rollback(ctx))
	require.Equal(t, 3, <-waited, "and taken once let go")

	e := es[4]
	e.Secret, e.Previous = sealed(40, "new"), &domain.Sealed{Ciphertext: []byte{4}, Nonce: []byte{5}, WrappedKey: []byte{6}, KeyID: "new"}
	e.URL, e.Enabled = "https://elsewhere.example.com/", false // not written
	require.NoError(t, repo.UpdateHookSecrets(ctx, e))
	got, err := repo.Endpoint(ctx, ws.ID, e.ID, false)
	require.NoError(t, err)
	require.Equal(t, e.Secret, got.Secret)
	require.Equal(t, *e.Previous, *got.Previous)
	require.Equal(t, es[4].URL, got.URL)
	require.True(t, got.Enabled)
	require.Equal(t, *es[4].PreviousUntil, got.PreviousUntil.UTC())
	require.Equal(t, ids(es[:2]), ids(after(pool, domain.NilID, 10)))
}
