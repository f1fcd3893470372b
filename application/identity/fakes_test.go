package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/mail"
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

// fakeTokens issues "tok:<user id>:<session id>" and verifies exactly that shape.
type fakeTokens struct{}

const tokenTTL = 15 * time.Minute

func (fakeTokens) Issue(userID, sessionID domain.ID) (string, time.Duration, error) {
	return accessToken(userID, sessionID), tokenTTL, nil
}

func accessToken(userID, sessionID domain.ID) string {
	return "tok:" + userID.String() + ":" + sessionID.String()
}

func (fakeTokens) Verify(token string) (domain.ID, domain.ID, error) {
	rest, ok := strings.CutPrefix(token, "tok:")
	u, sess, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return domain.NilID, domain.NilID, errors.New("bad token")
	}
	userID, err := domain.ParseID(u)
	if err != nil {
		return domain.NilID, domain.NilID, err
	}
	sessionID, err := domain.ParseID(sess)
	return userID, sessionID, err
}

// fakeThrottle blocks the keys in blocked and counts failures.
type fakeThrottle struct {
	now     func() time.Time // the service's clock
	mu      sync.Mutex
	blocked map[string]time.Duration
	failed  map[string]int
}

func newFakeThrottle(now func() time.Time) *fakeThrottle {
	return &fakeThrottle{now: now, blocked: map[string]time.Duration{}, failed: map[string]int{}}
}

// Peek reports a blocked key (limit:key) as used up until its wait passes.
func (t *fakeThrottle) Peek(_ context.Context, l identity.LoginLimit, key string) (identity.Throttle, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.blocked[string(l)+":"+key]; ok {
		return identity.Throttle{Limit: 10, Remaining: 0, Reset: t.now().Add(d)}, nil
	}
	return identity.Throttle{Limit: 10, Remaining: 10 - t.failed[string(l)+":"+key], Reset: t.now().Add(15 * time.Minute)}, nil
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

// memTx runs fn at once, one transaction at a time, over repos. The memory has no
// rollback: the tests look at what committed use cases leave.
type memTx struct {
	mu    sync.Mutex
	repos identity.Repos
	runs  int
}

func (m *memTx) InTx(ctx context.Context, fn func(ctx context.Context, r identity.Repos) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs++
	return fn(ctx, m.repos)
}

func (m *memTx) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs
}

// fakeMail records the queued messages.
type fakeMail struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (f *fakeMail) Enqueue(_ context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	return nil
}

func (f *fakeMail) all() []mail.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mail.Message(nil), f.msgs...)
}

// fakeJobs records the emails of the enqueued password reset jobs.
type fakeJobs struct {
	mu     sync.Mutex
	emails []string
}

func (f *fakeJobs) EnqueuePasswordReset(_ context.Context, email string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emails = append(f.emails, email)
	return nil
}

func (f *fakeJobs) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.emails...)
}

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
