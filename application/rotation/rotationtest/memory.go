// Package rotationtest holds what tests of the rotation ports share: an in-memory store and
// transaction runner, and the contract every rotation.Store (the Postgres adapter's too) is
// held to. Only tests import it.
package rotationtest

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/domain"
)

type numberKey struct{ ws, id domain.ID }

type state struct {
	numbers   map[numberKey]domain.PhoneNumber
	endpoints map[numberKey]domain.HookEndpoint
	events    []domain.Occurrence
}

func (s *state) clone() *state {
	return &state{numbers: maps.Clone(s.numbers), endpoints: maps.Clone(s.endpoints), events: slices.Clone(s.events)}
}

// Memory is an in-memory rotation store and transaction runner. It holds the committed
// numbers and events; a transaction works on a copy kept only when its function returns
// nil, and transactions run one at a time, so none ever meets a row that another locked
// through SealedAfter. What it models of row locks is Lock: a number held by some other
// transaction (a send, an onboarding step), which SealedAfter waits for as FOR UPDATE
// does. (Update does not wait for such a lock as Postgres would.)
type Memory struct {
	mu      sync.Mutex
	freed   *sync.Cond // a Lock released; waits on mu
	state   *state
	locked  map[numberKey]bool // numbers held by some other transaction
	waiting int                // transactions waiting for one of them
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	db := &Memory{state: &state{numbers: map[numberKey]domain.PhoneNumber{}, endpoints: map[numberKey]domain.HookEndpoint{}},
		locked: map[numberKey]bool{}}
	db.freed = sync.NewCond(&db.mu)
	return db
}

// InTx runs fn on a copy of the state, committed when fn returns nil.
func (db *Memory) InTx(ctx context.Context, fn func(ctx context.Context, r rotation.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &memoryStore{db: db, s: db.state.clone()}
	if err := fn(ctx, rotation.Repos{Numbers: tx, Hooks: tx, Events: tx}); err != nil {
		return err
	}
	db.state = tx.s
	return nil
}

// Put stores p as it is (to set up a state a test needs).
func (db *Memory) Put(p domain.PhoneNumber) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.state.numbers[numberKey{p.WorkspaceID, p.ID}] = cloneNumber(p)
}

// Number reads a committed number.
func (db *Memory) Number(ws, id domain.ID) (domain.PhoneNumber, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	p, ok := db.state.numbers[numberKey{ws, id}]
	return cloneNumber(p), ok
}

// PutEndpoint stores e as it is.
func (db *Memory) PutEndpoint(e domain.HookEndpoint) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.state.endpoints[numberKey{e.WorkspaceID, e.ID}] = cloneEndpoint(e)
}

// Endpoint reads a committed webhook endpoint.
func (db *Memory) Endpoint(ws, id domain.ID) (domain.HookEndpoint, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	e, ok := db.state.endpoints[numberKey{ws, id}]
	return cloneEndpoint(e), ok
}

// Events returns the committed events, oldest first.
func (db *Memory) Events() []domain.Occurrence {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.state.events)
}

// Lock holds a number (or a webhook endpoint) as another transaction's SELECT ... FOR UPDATE would, until release
// is called.
func (db *Memory) Lock(ws, id domain.ID) (release func()) {
	db.mu.Lock()
	defer db.mu.Unlock()
	k := numberKey{ws, id}
	db.locked[k] = true
	return func() {
		db.mu.Lock()
		defer db.mu.Unlock()
		delete(db.locked, k)
		db.freed.Broadcast()
	}
}

// Waiting returns how many transactions wait for a number (or endpoint) Lock holds.
func (db *Memory) Waiting() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.waiting
}

// await waits, as a transaction that holds mu, until none of keys is held by Lock. The
// holder never changes the row, so what the transaction read stays true.
func (db *Memory) await(keys []numberKey) {
	for slices.ContainsFunc(keys, func(k numberKey) bool { return db.locked[k] }) {
		db.waiting++
		db.freed.Wait()
		db.waiting--
	}
}

// memoryStore is a rotation.Store and events.Log over a transaction's copy of the state
// (the runner holds the lock meanwhile).
type memoryStore struct {
	db *Memory
	s  *state
}

func (t *memoryStore) Append(_ context.Context, os ...domain.Occurrence) error {
	t.s.events = append(t.s.events, os...)
	return nil
}

func (t *memoryStore) SealedAfter(_ context.Context, keyID string, after domain.ID, limit int) ([]domain.PhoneNumber, error) {
	out := []domain.PhoneNumber{}
	for _, p := range t.s.numbers {
		stale := p.Token.KeyID != keyID || p.PIN != nil && p.PIN.KeyID != keyID
		if stale && bytes.Compare(p.ID[:], after[:]) > 0 {
			out = append(out, cloneNumber(p))
		}
	}
	slices.SortFunc(out, func(a, b domain.PhoneNumber) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	out = out[:min(limit, len(out))]
	var keys []numberKey
	for _, p := range out {
		keys = append(keys, numberKey{p.WorkspaceID, p.ID})
	}
	t.db.await(keys)
	return out, nil
}

// Update writes every field of an existing number but the ones fixed at creation (its
// Meta id and creation time), as the Postgres adapter does; an absent one is no error.
func (t *memoryStore) Update(_ context.Context, p domain.PhoneNumber) error {
	k := numberKey{p.WorkspaceID, p.ID}
	old, ok := t.s.numbers[k]
	if !ok {
		return nil
	}
	p.PhoneNumberID, p.CreatedAt = old.PhoneNumberID, old.CreatedAt
	t.s.numbers[k] = cloneNumber(p)
	return nil
}

func (t *memoryStore) HookSecretsAfter(_ context.Context, keyID string, after domain.ID, limit int) ([]domain.HookEndpoint, error) {
	out := []domain.HookEndpoint{}
	for _, e := range t.s.endpoints {
		stale := e.Secret.KeyID != keyID || e.Previous != nil && e.Previous.KeyID != keyID
		if stale && bytes.Compare(e.ID[:], after[:]) > 0 {
			out = append(out, cloneEndpoint(e))
		}
	}
	slices.SortFunc(out, func(a, b domain.HookEndpoint) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	out = out[:min(limit, len(out))]
	var keys []numberKey
	for _, e := range out {
		keys = append(keys, numberKey{e.WorkspaceID, e.ID})
	}
	t.db.await(keys)
	return out, nil
}

// UpdateHookSecrets writes the endpoint's two secrets and nothing else, as the Postgres
// adapter does; an absent one is no error.
func (t *memoryStore) UpdateHookSecrets(_ context.Context, e domain.HookEndpoint) error {
	k := numberKey{e.WorkspaceID, e.ID}
	old, ok := t.s.endpoints[k]
	if !ok {
		return nil
	}
	old.Secret, old.Previous = e.Secret, e.Previous
	t.s.endpoints[k] = cloneEndpoint(old)
	return nil
}

func cloneEndpoint(e domain.HookEndpoint) domain.HookEndpoint {
	e.Secret = cloneSealed(e.Secret)
	if e.Previous != nil {
		prev := cloneSealed(*e.Previous)
		e.Previous = &prev
	}
	e.Events = slices.Clone(e.Events)
	return e
}

// cloneNumber copies what p points to, so a caller editing its copy in place cannot
// change the stored one.
func cloneNumber(p domain.PhoneNumber) domain.PhoneNumber {
	p.Token = cloneSealed(p.Token)
	if p.PIN != nil {
		pin := cloneSealed(*p.PIN)
		p.PIN = &pin
	}
	if p.LastSyncedAt != nil {
		at := *p.LastSyncedAt
		p.LastSyncedAt = &at
	}
	return p
}

func cloneSealed(s domain.Sealed) domain.Sealed {
	s.Ciphertext, s.Nonce, s.WrappedKey = bytes.Clone(s.Ciphertext), bytes.Clone(s.Nonce), bytes.Clone(s.WrappedKey)
	return s
}
