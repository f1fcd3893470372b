package messagingtest

import (
	"context"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

type idemKey struct {
	ws  domain.ID
	key string
}

// Idempotency is an in-memory messaging.IdempotencyKeys and IdempotencySaver. Like the
// Postgres adapter, it keys records by workspace and key, and judges expiry by the clock
// (the database's now()), not by a time it is given: a record has expired once its
// ExpiresAt is not after now.
type Idempotency struct {
	mu      sync.Mutex
	records map[idemKey]messaging.IdempotencyRecord
}

// NewIdempotency returns an empty store.
func NewIdempotency() *Idempotency {
	return &Idempotency{records: map[idemKey]messaging.IdempotencyRecord{}}
}

// Put stores r as it is, bypassing every rule (to set up a state a test needs).
func (s *Idempotency) Put(r messaging.IdempotencyRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[idemKey{r.WorkspaceID, r.Key}] = r
}

// Len counts the stored records, expired or not.
func (s *Idempotency) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// Find returns the unexpired record for key.
func (s *Idempotency) Find(_ context.Context, ws domain.ID, key string) (messaging.IdempotencyRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[idemKey{ws, key}]
	if !ok || !r.ExpiresAt.After(time.Now()) {
		return messaging.IdempotencyRecord{WorkspaceID: ws, Key: key}, false, nil
	}
	return r, true, nil
}

// Save stores r; an unexpired record under its key is KindConflict, an expired one is
// replaced.
func (s *Idempotency) Save(_ context.Context, r messaging.IdempotencyRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey{r.WorkspaceID, r.Key}
	if old, ok := s.records[k]; ok && old.ExpiresAt.After(time.Now()) {
		return domain.Errorf(domain.KindConflict, "the Idempotency-Key is in use")
	}
	s.records[k] = r
	return nil
}

// DeleteExpired deletes up to limit records that expired by now (ExpiresAt not after it).
func (s *Idempotency) DeleteExpired(_ context.Context, now time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, r := range s.records {
		if n < limit && !r.ExpiresAt.After(now) {
			delete(s.records, k)
			n++
		}
	}
	return n, nil
}
