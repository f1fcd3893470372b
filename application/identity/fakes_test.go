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
	"github.com/wabaplatform/waba/domain/access"
)

// fakeUsers is an in-memory identity.Users. Emails are unique case-insensitively, like the
// users_email_key index.
type fakeUsers struct {
	mu       sync.Mutex
	users    map[domain.ID]domain.User
	members  map[[2]domain.ID]access.Role // (workspace, user) -> role
	wsNames  map[domain.ID]string
	keys     map[string]domain.APIKey // by string(hash)
	lookups  int                      // UserByEmail calls
	byID     int                      // UserByID calls
	failWith error                    // when set, every read returns it
}

func newFakeUsers() *fakeUsers {
	return &fakeUsers{
		users:   map[domain.ID]domain.User{},
		members: map[[2]domain.ID]access.Role{},
		wsNames: map[domain.ID]string{},
		keys:    map[string]domain.APIKey{},
	}
}

func (f *fakeUsers) CreateUser(_ context.Context, u domain.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.users {
		if strings.EqualFold(o.Email, u.Email) {
			return domain.Errorf(domain.KindEmailTaken, "that email is already registered")
		}
	}
	f.users[u.ID] = u
	return nil
}

func (f *fakeUsers) UserByEmail(_ context.Context, email string) (domain.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.failWith != nil {
		return domain.User{}, f.failWith
	}
	for _, u := range f.users {
		if strings.EqualFold(u.Email, email) {
			return u, nil
		}
	}
	return domain.User{}, domain.NotFound("user")
}

func (f *fakeUsers) UserByID(_ context.Context, id domain.ID) (domain.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID++
	if f.failWith != nil {
		return domain.User{}, f.failWith
	}
	u, ok := f.users[id]
	if !ok {
		return domain.User{}, domain.NotFound("user")
	}
	return u, nil
}

func (f *fakeUsers) Memberships(_ context.Context, userID domain.ID) ([]domain.Membership, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []domain.Membership
	for k, role := range f.members {
		if k[1] == userID {
			out = append(out, domain.Membership{WorkspaceID: k[0], WorkspaceName: f.wsNames[k[0]], Role: role})
		}
	}
	return out, nil
}

func (f *fakeUsers) MemberRole(_ context.Context, workspaceID, userID domain.ID) (access.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return "", f.failWith
	}
	role, ok := f.members[[2]domain.ID{workspaceID, userID}]
	if !ok {
		return "", domain.NotFound("membership")
	}
	return role, nil
}

func (f *fakeUsers) ActiveAPIKey(_ context.Context, hash []byte) (domain.APIKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return domain.APIKey{}, f.failWith
	}
	k, ok := f.keys[string(hash)]
	if !ok || k.RevokedAt != nil {
		return domain.APIKey{}, domain.NotFound("api key")
	}
	return k, nil
}

func (f *fakeUsers) addMember(ws, user domain.ID, name string, role access.Role) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[[2]domain.ID{ws, user}] = role
	f.wsNames[ws] = name
}

// addKey stores a key for ws with role and returns its secret.
func (f *fakeUsers) addKey(ws domain.ID, role access.Role, revoked bool) (domain.APIKey, string) {
	secret, hash := domain.NewAPIKeySecret()
	k := domain.APIKey{ID: domain.NewID(), WorkspaceID: ws, Name: "k", Role: role, Hash: hash, CreatedAt: time.Now()}
	if revoked {
		at := time.Now()
		k.RevokedAt = &at
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[string(hash)] = k
	return k, secret
}

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
