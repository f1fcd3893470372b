package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/domain"
)

// fakeHasher "hashes" by prefixing, and counts Verify calls so a test can see the dummy
// hash being checked for an unknown email.
type fakeHasher struct {
	mu       sync.Mutex
	verifies int
}

func (h *fakeHasher) Hash(p string) (string, error) { return "hashed:" + p, nil }

func (h *fakeHasher) Verify(p, hash string) (bool, error) {
	h.mu.Lock()
	h.verifies++
	h.mu.Unlock()
	if !strings.HasPrefix(hash, "hashed:") {
		return false, errors.New("malformed hash")
	}
	return hash == "hashed:"+p, nil
}

func (h *fakeHasher) verifyCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.verifies
}

// fakeTokens issues "tok:<user id>" and verifies exactly that shape.
type fakeTokens struct{}

const tokenTTL = 15 * time.Minute

func (fakeTokens) Issue(userID domain.ID) (string, time.Duration, error) {
	return "tok:" + userID.String(), tokenTTL, nil
}

func (fakeTokens) Verify(token string) (domain.ID, error) {
	s, ok := strings.CutPrefix(token, "tok:")
	if !ok {
		return domain.NilID, errors.New("bad token")
	}
	return domain.ParseID(s)
}

// fakeThrottle blocks the keys in blocked and counts failures.
type fakeThrottle struct {
	mu      sync.Mutex
	blocked map[string]time.Duration
	failed  map[string]int
}

func newFakeThrottle() *fakeThrottle {
	return &fakeThrottle{blocked: map[string]time.Duration{}, failed: map[string]int{}}
}

// Peek reports a blocked key (limit:key) as used up until its wait passes.
func (t *fakeThrottle) Peek(_ context.Context, l identity.LoginLimit, key string) (identity.Throttle, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.blocked[string(l)+":"+key]; ok {
		return identity.Throttle{Limit: 10, Remaining: 0, Reset: time.Now().Add(d)}, nil
	}
	return identity.Throttle{Limit: 10, Remaining: 10 - t.failed[string(l)+":"+key], Reset: time.Now().Add(15 * time.Minute)}, nil
}

func (t *fakeThrottle) Fail(_ context.Context, l identity.LoginLimit, key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed[string(l)+":"+key]++
	return nil
}

func (t *fakeThrottle) block(key string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.blocked[key] = d
}

func (t *fakeThrottle) failures() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.failed))
	for k, v := range t.failed {
		out[k] = v
	}
	return out
}

// fakeAudit keeps the audit entries of the appended events.
type fakeAudit struct {
	mu      sync.Mutex
	entries []domain.AuditEntry
}

func (a *fakeAudit) Append(_ context.Context, os ...domain.Occurrence) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, eventstest.Audit(os)...)
	return nil
}

func (a *fakeAudit) all() []domain.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]domain.AuditEntry(nil), a.entries...)
}
