package hooks_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

// memory is an in-memory store of every port the webhook use cases write through (the
// endpoints and deliveries, the event log, the jobs), with transactions that keep nothing
// of a function that fails. It follows the ports' contracts as the Postgres adapter does:
// Subscribers lists enabled endpoints only, InsertDeliveries leaves out an (endpoint,
// event id) it has, Claim takes nothing of a disabled endpoint.
type memory struct {
	mu         sync.Mutex
	endpoints  map[domain.ID]domain.HookEndpoint
	deliveries map[domain.ID]domain.HookDelivery
	holders    map[domain.ID]hooks.Holder // the lease holder of a claimed delivery
	events     []domain.Occurrence
	woken      []hooks.EndpointRef
	claims     []hooks.Holder // the holder of every Claim call
	txs        int
	// onEmpty, when set, is called by a Claim that finds nothing: the delivery tests cancel
	// the run there rather than wait for its linger.
	onEmpty func()
}

func newMemory() *memory {
	return &memory{endpoints: map[domain.ID]domain.HookEndpoint{}, deliveries: map[domain.ID]domain.HookDelivery{},
		holders: map[domain.ID]hooks.Holder{}}
}

// InTx implements hooks.TxRunner.
func (m *memory) InTx(ctx context.Context, fn func(ctx context.Context, r hooks.Repos) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txs++
	eps, ds, hs := maps.Clone(m.endpoints), maps.Clone(m.deliveries), maps.Clone(m.holders)
	evs, woken := slices.Clone(m.events), slices.Clone(m.woken)
	err := fn(ctx, hooks.Repos{Hooks: inTx{m}, Events: inTx{m}, Jobs: inTx{m}})
	if err != nil {
		m.endpoints, m.deliveries, m.holders, m.events, m.woken = eps, ds, hs, evs, woken
	}
	return err
}

// inTx is the store as a transaction sees it (the lock is held already); memory itself is
// the store outside transactions.
type inTx struct{ m *memory }

func (m *memory) locked(fn func(t inTx)) { m.mu.Lock(); defer m.mu.Unlock(); fn(inTx{m}) }

// endpoint, delivery and deliveriesOf read the state for assertions.
func (m *memory) endpoint(id domain.ID) domain.HookEndpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endpoints[id]
}

func (m *memory) delivery(id domain.ID) domain.HookDelivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deliveries[id]
}

func (m *memory) deliveriesOf(endpointID domain.ID) []domain.HookDelivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []domain.HookDelivery
	for _, d := range m.deliveries {
		if d.EndpointID == endpointID {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b domain.HookDelivery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// Append implements events.Log.
func (t inTx) Append(_ context.Context, os ...domain.Occurrence) error {
	t.m.events = append(t.m.events, os...)
	return nil
}

// WakeEndpoints implements hooks.Jobs.
func (t inTx) WakeEndpoints(_ context.Context, refs []hooks.EndpointRef) error {
	t.m.woken = append(t.m.woken, refs...)
	return nil
}

// The store outside transactions takes the lock for each call.

func (m *memory) InsertEndpoint(ctx context.Context, e domain.HookEndpoint) (err error) {
	m.locked(func(t inTx) { err = t.InsertEndpoint(ctx, e) })
	return err
}

func (m *memory) Endpoint(ctx context.Context, ws, id domain.ID, forUpdate bool) (e domain.HookEndpoint, err error) {
	m.locked(func(t inTx) { e, err = t.Endpoint(ctx, ws, id, forUpdate) })
	return e, err
}

func (m *memory) Endpoints(ctx context.Context, ws domain.ID) (es []domain.HookEndpoint, err error) {
	m.locked(func(t inTx) { es, err = t.Endpoints(ctx, ws) })
	return es, err
}

func (m *memory) UpdateEndpoint(ctx context.Context, e domain.HookEndpoint) (err error) {
	m.locked(func(t inTx) { err = t.UpdateEndpoint(ctx, e) })
	return err
}

func (m *memory) DeleteEndpoint(ctx context.Context, ws, id domain.ID) (err error) {
	m.locked(func(t inTx) { err = t.DeleteEndpoint(ctx, ws, id) })
	return err
}

func (m *memory) Subscribers(ctx context.Context, workspaces []domain.ID) (es []domain.HookEndpoint, err error) {
	m.locked(func(t inTx) { es, err = t.Subscribers(ctx, workspaces) })
	return es, err
}

func (m *memory) InsertDeliveries(ctx context.Context, ds []domain.HookDelivery) (err error) {
	m.locked(func(t inTx) { err = t.InsertDeliveries(ctx, ds) })
	return err
}

func (m *memory) Delivery(ctx context.Context, ws, id domain.ID) (d domain.HookDelivery, err error) {
	m.locked(func(t inTx) { d, err = t.Delivery(ctx, ws, id) })
	return d, err
}

func (m *memory) Deliveries(ctx context.Context, ws, endpointID domain.ID, f hooks.DeliveryFilter, limit int) (ds []domain.HookDelivery, err error) {
	m.locked(func(t inTx) { ds, err = t.Deliveries(ctx, ws, endpointID, f, limit) })
	return ds, err
}

func (m *memory) RetryDelivery(ctx context.Context, ws, id domain.ID, at time.Time) (err error) {
	m.locked(func(t inTx) { err = t.RetryDelivery(ctx, ws, id, at) })
	return err
}

func (m *memory) Claim(ctx context.Context, ref hooks.EndpointRef, h hooks.Holder, now, leaseUntil time.Time, limit int) (ds []domain.HookDelivery, err error) {
	m.locked(func(t inTx) { ds, err = t.Claim(ctx, ref, h, now, leaseUntil, limit) })
	return ds, err
}

func (m *memory) Record(ctx context.Context, rs []hooks.Result) (err error) {
	m.locked(func(t inTx) { err = t.Record(ctx, rs) })
	return err
}

func (m *memory) DueEndpoints(ctx context.Context, now time.Time, limit int) (refs []hooks.EndpointRef, err error) {
	m.locked(func(t inTx) { refs, err = t.DueEndpoints(ctx, now, limit) })
	return refs, err
}

// The store in a transaction (hooks.Store).

func (t inTx) InsertEndpoint(_ context.Context, e domain.HookEndpoint) error {
	if _, ok := t.m.endpoints[e.ID]; ok {
		return errors.New("duplicate endpoint")
	}
	t.m.endpoints[e.ID] = e
	return nil
}

func (t inTx) Endpoint(_ context.Context, ws, id domain.ID, _ bool) (domain.HookEndpoint, error) {
	e, ok := t.m.endpoints[id]
	if !ok || e.WorkspaceID != ws {
		return domain.HookEndpoint{}, domain.NotFound("webhook endpoint")
	}
	return e, nil
}

func (t inTx) Endpoints(_ context.Context, ws domain.ID) ([]domain.HookEndpoint, error) {
	var out []domain.HookEndpoint
	for _, e := range t.m.endpoints {
		if e.WorkspaceID == ws {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b domain.HookEndpoint) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

func (t inTx) UpdateEndpoint(_ context.Context, e domain.HookEndpoint) error {
	old, ok := t.m.endpoints[e.ID]
	if !ok || old.WorkspaceID != e.WorkspaceID {
		return nil
	}
	e.CreatedAt = old.CreatedAt
	t.m.endpoints[e.ID] = e
	return nil
}

func (t inTx) DeleteEndpoint(_ context.Context, ws, id domain.ID) error {
	if e, ok := t.m.endpoints[id]; ok && e.WorkspaceID == ws {
		delete(t.m.endpoints, id)
		for did, d := range t.m.deliveries {
			if d.EndpointID == id {
				delete(t.m.deliveries, did)
			}
		}
	}
	return nil
}

func (t inTx) Subscribers(_ context.Context, workspaces []domain.ID) ([]domain.HookEndpoint, error) {
	var out []domain.HookEndpoint
	for _, e := range t.m.endpoints {
		if e.Enabled && slices.Contains(workspaces, e.WorkspaceID) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b domain.HookEndpoint) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

func (t inTx) InsertDeliveries(_ context.Context, ds []domain.HookDelivery) error {
	for _, d := range ds {
		dup := false
		for _, have := range t.m.deliveries {
			dup = dup || (have.EndpointID == d.EndpointID && have.EventID == d.EventID)
		}
		if !dup {
			d.Status = domain.HookPending
			t.m.deliveries[d.ID] = d
		}
	}
	return nil
}

func (t inTx) Delivery(_ context.Context, ws, id domain.ID) (domain.HookDelivery, error) {
	d, ok := t.m.deliveries[id]
	if !ok || d.WorkspaceID != ws {
		return domain.HookDelivery{}, domain.NotFound("webhook delivery")
	}
	return d, nil
}

func (t inTx) Deliveries(_ context.Context, ws, endpointID domain.ID, f hooks.DeliveryFilter, limit int) ([]domain.HookDelivery, error) {
	var out []domain.HookDelivery
	for _, d := range t.m.deliveries {
		if d.WorkspaceID == ws && d.EndpointID == endpointID && (f.Status == "" || d.Status == f.Status) &&
			(f.Cursor.IsZero() || bytes.Compare(d.ID[:], f.Cursor[:]) < 0) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b domain.HookDelivery) int { return bytes.Compare(b.ID[:], a.ID[:]) })
	return out[:min(limit, len(out))], nil
}

func (t inTx) RetryDelivery(_ context.Context, ws, id domain.ID, at time.Time) error {
	if d, ok := t.m.deliveries[id]; ok && d.WorkspaceID == ws {
		d.Status, d.NextAttemptAt, d.UpdatedAt = domain.HookPending, &at, at
		t.m.deliveries[id] = d
		delete(t.m.holders, id)
	}
	return nil
}

func (t inTx) Claim(_ context.Context, ref hooks.EndpointRef, h hooks.Holder, now, leaseUntil time.Time, limit int) ([]domain.HookDelivery, error) {
	t.m.claims = append(t.m.claims, h)
	if e, ok := t.m.endpoints[ref.EndpointID]; !ok || e.WorkspaceID != ref.WorkspaceID || !e.Enabled {
		return nil, nil
	}
	var out []domain.HookDelivery
	for _, d := range t.m.deliveries {
		if d.EndpointID != ref.EndpointID || (d.Status != domain.HookPending && d.Status != domain.HookFailed) {
			continue
		}
		held, ok := t.m.holders[d.ID]
		earlierRun := ok && h.Job != 0 && held.Job == h.Job && held.Attempt < h.Attempt
		if d.NextAttemptAt != nil && !d.NextAttemptAt.After(now) || earlierRun {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b domain.HookDelivery) int { return a.NextAttemptAt.Compare(*b.NextAttemptAt) })
	out = out[:min(limit, len(out))]
	if len(out) == 0 && t.m.onEmpty != nil {
		t.m.onEmpty()
	}
	for i := range out {
		out[i].NextAttemptAt = &leaseUntil
		t.m.deliveries[out[i].ID] = out[i]
		t.m.holders[out[i].ID] = h
	}
	return out, nil
}

func (t inTx) Record(_ context.Context, rs []hooks.Result) error {
	for _, r := range rs {
		d, ok := t.m.deliveries[r.ID]
		if !ok || d.WorkspaceID != r.WorkspaceID {
			continue
		}
		ms := r.DurationMS
		d.Status, d.Attempts, d.ResponseStatus, d.ResponseBody, d.Error, d.DurationMS, d.NextAttemptAt, d.UpdatedAt =
			r.Status, r.Attempts, r.ResponseStatus, r.ResponseBody, r.Error, &ms, r.NextAttemptAt, r.At
		t.m.deliveries[r.ID] = d
		delete(t.m.holders, r.ID)
	}
	return nil
}

func (t inTx) DueEndpoints(_ context.Context, now time.Time, limit int) ([]hooks.EndpointRef, error) {
	var out []hooks.EndpointRef
	for _, e := range t.m.endpoints {
		for _, d := range t.m.deliveries {
			if e.Enabled && d.EndpointID == e.ID && (d.Status == domain.HookPending || d.Status == domain.HookFailed) &&
				d.NextAttemptAt != nil && !d.NextAttemptAt.After(now) {
				out = append(out, hooks.EndpointRef{WorkspaceID: e.WorkspaceID, EndpointID: e.ID})
				break
			}
		}
	}
	return out[:min(limit, len(out))], nil
}

// vault seals by keeping the plaintext with its binding: Open refuses another binding, as
// the real vault's authenticated encryption does.
type vault struct{}

func (vault) Seal(_ context.Context, plaintext []byte, b domain.SecretBinding) (domain.Sealed, error) {
	return domain.Sealed{Ciphertext: slices.Clone(plaintext), Nonce: []byte(bindingKey(b)), WrappedKey: []byte{1}, KeyID: "test"}, nil
}

func (vault) Open(_ context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error) {
	if string(s.Nonce) != bindingKey(b) {
		return nil, errors.New("vault: sealed for another binding")
	}
	return slices.Clone(s.Ciphertext), nil
}

func bindingKey(b domain.SecretBinding) string {
	return b.WorkspaceID.String() + "/" + b.Purpose + "/" + b.PhoneNumberID
}

// checker refuses the URLs in bad as the address policy does (a validation error on url),
// and counts its calls.
type checker struct {
	mu    sync.Mutex
	bad   map[string]string // url -> why
	calls []string
}

func (c *checker) CheckURL(_ context.Context, raw string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, raw)
	if why, ok := c.bad[raw]; ok {
		return &domain.Error{Kind: domain.KindValidation, Message: "the webhook URL cannot be used",
			Fields: []domain.FieldError{{Field: "url", Message: why}}}
	}
	return nil
}

// sender answers every attempt with answer (per URL when set there) and keeps the requests.
type sender struct {
	mu       sync.Mutex
	answer   hooks.Response
	requests []hooks.Request
}

func (s *sender) Send(_ context.Context, r hooks.Request) hooks.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	return s.answer
}

func (s *sender) sent() []hooks.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// metrics counts attempts by outcome.
type metrics struct {
	mu sync.Mutex
	n  map[domain.HookDeliveryStatus]int
}

func (m *metrics) Attempt(outcome domain.HookDeliveryStatus, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[domain.HookDeliveryStatus]int{}
	}
	m.n[outcome]++
}

// clock is a clock the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
