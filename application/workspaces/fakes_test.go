package workspaces_test

import (
	"bytes"
	"context"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the rows of adapters/casbinrbac/policy.csv these use cases ask about.
var policy = authztest.Grants{
	access.Owner: {
		access.WorkspaceRead, access.WorkspaceUpdate, access.BillingManage,
		access.MembersRead, access.MembersInvite, access.MembersUpdate, access.MembersRemove,
		access.APIKeysRead, access.APIKeysCreate, access.APIKeysRevoke,
	},
	access.Manager: {
		access.WorkspaceRead, access.WorkspaceUpdate,
		access.MembersRead, access.MembersInvite, access.MembersUpdate, access.MembersRemove,
		access.APIKeysRead, access.APIKeysCreate, access.APIKeysRevoke,
	},
	access.Agent:  {access.WorkspaceRead},
	access.Viewer: {access.WorkspaceRead},
}

// allowAll grants every role every permission, to test a rule in the use case itself.
var allowAll = func() authztest.Grants {
	a := authztest.Grants{}
	for _, r := range access.Roles() {
		a[r] = access.AllPermissions()
	}
	return a
}()

type memberKey struct{ ws, user domain.ID }

// fakeState is the whole fake database. A transaction works on a copy and replaces the
// original only when its function returns nil, so rollback is observable.
type fakeState struct {
	workspaces map[domain.ID]domain.Workspace
	users      map[domain.ID]domain.User
	members    map[memberKey]domain.Member
	keys       map[domain.ID]domain.APIKey
	audit      []domain.AuditEntry
}

func (s *fakeState) clone() *fakeState {
	return &fakeState{
		workspaces: maps.Clone(s.workspaces),
		users:      maps.Clone(s.users),
		members:    maps.Clone(s.members),
		keys:       maps.Clone(s.keys),
		audit:      append([]domain.AuditEntry(nil), s.audit...),
	}
}

// fakeDB holds the committed state and serves as the store outside transactions.
type fakeDB struct {
	mu    sync.Mutex
	state *fakeState
	// failAudit, when set, makes every audit Record fail (to prove the rollback).
	failAudit error
	// lockedOwners counts LockOwners calls.
	lockedOwners int
	// limits records the limit of every Members and APIKeys call.
	limits []int
}

func newFakeDB() *fakeDB {
	return &fakeDB{state: &fakeState{
		workspaces: map[domain.ID]domain.Workspace{},
		users:      map[domain.ID]domain.User{},
		members:    map[memberKey]domain.Member{},
		keys:       map[domain.ID]domain.APIKey{},
	}}
}

// InTx implements workspaces.TxRunner. Transactions are serialized, like SERIALIZABLE.
func (db *fakeDB) InTx(ctx context.Context, fn func(ctx context.Context, r workspaces.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &fakeTx{db: db, s: db.state.clone()}
	if err := fn(ctx, workspaces.Repos{Store: tx, Audit: tx}); err != nil {
		return err
	}
	db.state = tx.s
	return nil
}

// store returns the non-transactional store.
func (db *fakeDB) store() workspaces.Store { return &fakeTx{db: db, s: nil} }

// snapshot returns a copy of the committed state.
func (db *fakeDB) snapshot() *fakeState {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.state.clone()
}

// lastLimit is the limit of the latest Members or APIKeys call.
func (db *fakeDB) lastLimit() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	if len(db.limits) == 0 {
		return 0
	}
	return db.limits[len(db.limits)-1]
}

func (db *fakeDB) seed(fn func(s *fakeState)) {
	db.mu.Lock()
	defer db.mu.Unlock()
	fn(db.state)
}

// fakeTx is a workspaces.Store and AuditWriter over either a transaction's copy (s) or,
// when s is nil, the committed state under the lock.
type fakeTx struct {
	db *fakeDB
	s  *fakeState
}

func (t *fakeTx) with(fn func(s *fakeState) error) error {
	if t.s != nil {
		return fn(t.s)
	}
	t.db.mu.Lock()
	defer t.db.mu.Unlock()
	return fn(t.db.state)
}

func (t *fakeTx) Record(_ context.Context, e domain.AuditEntry) error {
	if t.db.failAudit != nil {
		return t.db.failAudit
	}
	return t.with(func(s *fakeState) error { s.audit = append(s.audit, e); return nil })
}

func (t *fakeTx) CreateWorkspace(_ context.Context, w domain.Workspace) error {
	return t.with(func(s *fakeState) error { s.workspaces[w.ID] = w; return nil })
}

func (t *fakeTx) Workspace(_ context.Context, id domain.ID) (w domain.Workspace, err error) {
	err = t.with(func(s *fakeState) error {
		var ok bool
		if w, ok = s.workspaces[id]; !ok {
			return domain.NotFound("workspace")
		}
		return nil
	})
	return w, err
}

func (t *fakeTx) UpdateWorkspace(_ context.Context, w domain.Workspace) error {
	return t.with(func(s *fakeState) error { s.workspaces[w.ID] = w; return nil })
}

func (t *fakeTx) UserByEmail(_ context.Context, email string) (u domain.User, err error) {
	err = t.with(func(s *fakeState) error {
		for _, x := range s.users {
			if strings.EqualFold(x.Email, email) {
				u = x
				return nil
			}
		}
		return domain.NotFound("user")
	})
	return u, err
}

func (t *fakeTx) AddMember(_ context.Context, ws, userID domain.ID, role access.Role, at time.Time) error {
	return t.with(func(s *fakeState) error {
		k := memberKey{ws, userID}
		if _, ok := s.members[k]; ok {
			return domain.Errorf(domain.KindConflict, "that user is already a member")
		}
		u := s.users[userID]
		s.members[k] = domain.Member{WorkspaceID: ws, UserID: userID, Email: u.Email, Name: u.Name, Role: role, CreatedAt: at}
		return nil
	})
}

func (t *fakeTx) Member(_ context.Context, ws, userID domain.ID) (m domain.Member, err error) {
	err = t.with(func(s *fakeState) error {
		var ok bool
		if m, ok = s.members[memberKey{ws, userID}]; !ok {
			return domain.NotFound("member")
		}
		return nil
	})
	return m, err
}

func (t *fakeTx) Members(_ context.Context, ws, after domain.ID, limit int) (out []domain.Member, err error) {
	err = t.with(func(s *fakeState) error {
		t.db.limits = append(t.db.limits, limit)
		for k, m := range s.members {
			if k.ws == ws && (after.IsZero() || bytes.Compare(m.UserID[:], after[:]) > 0) {
				out = append(out, m)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].UserID[:], out[j].UserID[:]) < 0 })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func (t *fakeTx) SetMemberRole(_ context.Context, ws, userID domain.ID, role access.Role) error {
	return t.with(func(s *fakeState) error {
		k := memberKey{ws, userID}
		m := s.members[k]
		m.Role = role
		s.members[k] = m
		return nil
	})
}

func (t *fakeTx) RemoveMember(_ context.Context, ws, userID domain.ID) error {
	return t.with(func(s *fakeState) error { delete(s.members, memberKey{ws, userID}); return nil })
}

func (t *fakeTx) LockOwners(_ context.Context, ws domain.ID) (n int, err error) {
	t.db.lockedOwners++
	err = t.with(func(s *fakeState) error {
		for k, m := range s.members {
			if k.ws == ws && m.Role == access.Owner {
				n++
			}
		}
		return nil
	})
	return n, err
}

func (t *fakeTx) CreateAPIKey(_ context.Context, k domain.APIKey) error {
	return t.with(func(s *fakeState) error { s.keys[k.ID] = k; return nil })
}

func (t *fakeTx) APIKeys(_ context.Context, ws, before domain.ID, limit int) (out []domain.APIKey, err error) {
	err = t.with(func(s *fakeState) error {
		t.db.limits = append(t.db.limits, limit)
		for _, k := range s.keys {
			if k.WorkspaceID == ws && k.RevokedAt == nil && (before.IsZero() || bytes.Compare(k.ID[:], before[:]) < 0) {
				k.Hash = nil
				out = append(out, k)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) > 0 })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func (t *fakeTx) RevokeAPIKey(_ context.Context, ws, id domain.ID, at time.Time) error {
	return t.with(func(s *fakeState) error {
		k, ok := s.keys[id]
		if !ok || k.WorkspaceID != ws || k.RevokedAt != nil {
			return domain.NotFound("api key")
		}
		k.RevokedAt = &at
		s.keys[id] = k
		return nil
	})
}
