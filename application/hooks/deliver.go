package hooks

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// Delivery tuning: an endpoint's job claims ClaimBatch due deliveries at a time and sends
// up to Concurrency of them at once (the endpoint's own slots: the bulkhead), until none is
// due or Budget has passed (then it yields to the queue's other jobs and goes on at once).
// A claimed delivery is leased for Lease, held by the job run that claimed it (Holder): a
// process that dies while sending it leaves it to the next run of the same job, which
// takes it back at once (the rescued job: see Store.Claim), and to anyone once the lease
// runs out, should that run never come. The lease outlasts a whole batch against an endpoint
// that times out on every request (ClaimBatch / Concurrency rounds of the attempt timeout).
const (
	ClaimBatch  = 100
	Concurrency = 16
	Budget      = 20 * time.Second
	Lease       = 3 * time.Minute
	// Linger is how long a job with nothing due keeps looking (every LingerPoll) before it
	// ends: a delivery stored meanwhile goes at once, rather than waiting for a new job
	// (one woken while this one still runs may be skipped as its duplicate, and then the
	// leader's wake-up, a second later, sends it).
	Linger     = time.Second
	LingerPoll = 50 * time.Millisecond
)

// DeliverDeps are what the delivery needs.
type DeliverDeps struct {
	Tx      TxRunner
	Store   Store // outside transactions
	Vault   Vault
	Sender  Sender
	Metrics Metrics // nil: none
	Clock   domain.Clock
	// Random draws the retry delays' jitter, in [0, 1); nil: math/rand.
	Random func() float64
	// UserAgent names us to receivers.
	UserAgent string
}

// Deliverer sends endpoints' deliveries.
type Deliverer struct {
	d      DeliverDeps
	now    domain.Clock
	random func() float64
}

// NewDeliverer returns the delivery.
func NewDeliverer(d DeliverDeps) *Deliverer {
	dl := &Deliverer{d: d, now: d.Clock, random: d.Random}
	if dl.now == nil {
		dl.now = time.Now
	}
	if dl.random == nil {
		dl.random = rand.Float64
	}
	if dl.d.UserAgent == "" {
		dl.d.UserAgent = "waba-webhooks/1"
	}
	return dl
}

// Run sends the endpoint's due deliveries, and those an earlier run of the job h names
// claimed and never recorded; more says it stopped at the time budget with deliveries
// still due (the caller runs it again soon). A deleted or disabled endpoint has nothing
// to send.
func (dl *Deliverer) Run(ctx context.Context, ref EndpointRef, h Holder) (more bool, err error) {
	e, err := dl.d.Store.Endpoint(ctx, ref.WorkspaceID, ref.EndpointID, false)
	if domain.IsKind(err, domain.KindNotFound) {
		return false, nil
	}
	if err != nil || !e.Enabled {
		return false, err
	}
	keys, err := dl.keys(ctx, e)
	if err != nil {
		return false, err
	}
	start, idleSince, stale := time.Now(), time.Now(), false
	for {
		now := dl.now().UTC()
		var claimed []domain.HookDelivery
		err := dl.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
			var err error
			claimed, err = r.Hooks.Claim(ctx, ref, h, now, now.Add(Lease), ClaimBatch)
			return err
		})
		if err != nil {
			return false, err
		}
		if len(claimed) == 0 {
			if time.Since(idleSince) >= Linger || time.Since(start) >= Budget {
				return false, nil
			}
			select {
			case <-ctx.Done():
				return false, nil
			case <-time.After(LingerPoll):
			}
			stale = true
			continue
		}
		if stale { // what came while lingering goes to the endpoint as it is now
			if e, err = dl.d.Store.Endpoint(ctx, ref.WorkspaceID, ref.EndpointID, false); err == nil {
				keys, err = dl.keys(ctx, e)
			}
			if err != nil {
				return false, err // the claimed rows go with the job's retry (or after their lease)
			}
			stale = false
		}
		results := dl.send(ctx, e, keys, claimed)
		disabled, err := dl.record(context.WithoutCancel(ctx), e, results)
		if err != nil || disabled {
			return false, err
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if time.Since(start) >= Budget {
			return true, nil
		}
		idleSince = time.Now()
	}
}

// keys are the HMAC keys that sign: the current secret's, then the previous one's while
// it still signs.
func (dl *Deliverer) keys(ctx context.Context, e domain.HookEndpoint) ([][]byte, error) {
	b := domain.HookSecretBinding(e.WorkspaceID, e.ID)
	open := func(s domain.Sealed) ([]byte, error) {
		plain, err := dl.d.Vault.Open(ctx, s, b)
		if err != nil {
			return nil, err
		}
		return domain.HookSecretKey(string(plain))
	}
	cur, err := open(e.Secret)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{cur}
	if e.Previous != nil && e.PreviousUntil != nil && dl.now().Before(*e.PreviousUntil) {
		prev, err := open(*e.Previous)
		if err != nil {
			return nil, err
		}
		keys = append(keys, prev)
	}
	return keys, nil
}

// send makes one attempt at each claimed delivery, Concurrency at a time.
func (dl *Deliverer) send(ctx context.Context, e domain.HookEndpoint, keys [][]byte, claimed []domain.HookDelivery) []Result {
	results := make([]Result, len(claimed))
	slots := make(chan struct{}, Concurrency)
	var wg sync.WaitGroup
	for i, d := range claimed {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			results[i] = dl.attempt(ctx, e, keys, d)
		}()
	}
	wg.Wait()
	return results
}

func (dl *Deliverer) attempt(ctx context.Context, e domain.HookEndpoint, keys [][]byte, d domain.HookDelivery) Result {
	at := dl.now()
	start := time.Now()
	res := dl.d.Sender.Send(ctx, Request{URL: e.URL, Body: d.Body, Headers: map[string]string{
		"webhook-id":        d.EventID,
		"webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
		"webhook-signature": domain.SignHook(keys, d.EventID, at, d.Body),
		"Content-Type":      "application/json",
		"User-Agent":        dl.d.UserAgent,
	}})
	took := time.Since(start)
	r := Result{WorkspaceID: d.WorkspaceID, ID: d.ID, Attempts: d.Attempts + 1, ResponseBody: res.Body,
		DurationMS: int(took.Milliseconds()), At: at.UTC()}
	if res.Status != 0 {
		st := res.Status
		r.ResponseStatus = &st
	}
	switch {
	case res.Err == nil && res.Status >= 200 && res.Status < 300:
		r.Status = domain.HookSucceeded
	default:
		r.Error = "HTTP " + strconv.Itoa(res.Status)
		if res.Err != nil {
			r.Error = res.Err.Error()
			if errors.Is(res.Err, context.DeadlineExceeded) {
				r.Error = "timed out"
			}
		}
		delay, dead := domain.HookRetry(r.Attempts, dl.random())
		if dead {
			r.Status = domain.HookDead
		} else {
			r.Status = domain.HookFailed
			next := r.At.Add(delay)
			r.NextAttemptAt = &next
		}
	}
	if dl.d.Metrics != nil {
		dl.d.Metrics.Attempt(r.Status, took)
	}
	return r
}

// record stores the attempts' outcomes and what they say of the endpoint: any success
// ends its run of failures; a run of failures 5 days long disables it (audited, by the
// system).
func (dl *Deliverer) record(ctx context.Context, e domain.HookEndpoint, results []Result) (disabled bool, err error) {
	succeeded := false
	first := results[0].At
	for _, r := range results {
		succeeded = succeeded || r.Status == domain.HookSucceeded
		if r.At.Before(first) {
			first = r.At
		}
	}
	now := dl.now().UTC()
	err = dl.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		disabled = false
		if err := r.Hooks.Record(ctx, results); err != nil {
			return err
		}
		cur, err := r.Hooks.Endpoint(ctx, e.WorkspaceID, e.ID, true)
		if domain.IsKind(err, domain.KindNotFound) {
			return nil // deleted meanwhile (its deliveries with it)
		}
		if err != nil {
			return err
		}
		switch {
		case succeeded && cur.FailingSince != nil:
			cur.FailingSince = nil
		case !succeeded && cur.FailingSince == nil:
			cur.FailingSince = &first
		case !succeeded && cur.Enabled && domain.HookShouldDisable(cur.FailingSince, now):
			cur.Enabled, cur.DisabledAt, cur.UpdatedAt, disabled = false, &now, now, true
			if err := r.Events.Append(ctx, domain.Occurred(domain.SystemIn(cur.WorkspaceID), now, domain.HookEndpointChanged{
				EndpointID: cur.ID, Action: domain.HookEndpointDisable, URL: cur.URL})); err != nil {
				return err
			}
		default:
			return nil
		}
		return r.Hooks.UpdateEndpoint(ctx, cur)
	})
	return disabled, err
}

// Wake lists endpoints with deliveries due now (retries whose time has come, leases run
// out), for the leader to wake their jobs.
func (dl *Deliverer) Wake(ctx context.Context, limit int) error {
	refs, err := dl.d.Store.DueEndpoints(ctx, dl.now().UTC(), limit)
	if err != nil || len(refs) == 0 {
		return err
	}
	return dl.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error { return r.Jobs.WakeEndpoints(ctx, refs) })
}
