// Package workspacestest holds what tests of the workspaces ports share: an in-memory store
// and transaction runner, and the contract every workspaces.Store (the Postgres adapter's
// too) is held to. Only tests import it.
package workspacestest

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// MemberKey is a membership's key: a workspace and a user.
type MemberKey struct{ WS, User domain.ID }

// State is the whole in-memory database.
type State struct {
	Workspaces map[domain.ID]domain.Workspace
	Users      map[domain.ID]domain.User
	Members    map[MemberKey]domain.Member
	Keys       map[domain.ID]domain.APIKey
	// Invitations are kept by id, each with its token's hash.
	Invitations map[domain.ID]StoredInvitation
	Mail        []mail.Message // what the transactions enqueued
	Events      []domain.Occurrence
	Audit       []domain.AuditEntry // what Events leave in the audit trail
	Deleted     map[domain.ID]time.Time
	Erasures    []domain.ID // erasure jobs queued, by workspace
}

func (s *State) clone() *State {
	return &State{
		Workspaces:  maps.Clone(s.Workspaces),
		Users:       maps.Clone(s.Users),
		Members:     maps.Clone(s.Members),
		Keys:        maps.Clone(s.Keys),
		Events:      slices.Clone(s.Events),
		Audit:       slices.Clone(s.Audit),
		Deleted:     maps.Clone(s.Deleted),
		Erasures:    slices.Clone(s.Erasures),
		Invitations: maps.Clone(s.Invitations),
		Mail:        slices.Clone(s.Mail),
	}
}

// Memory is an in-memory workspaces store and transaction runner. It holds the committed
// state; a transaction works on a copy kept only when its function returns nil (so a
// rollback is observable), and transactions run one at a time, like SERIALIZABLE ones.
type Memory struct {
	mu         sync.Mutex
	state      *State
	failEvents error
	// lockedOwners counts LockOwners calls.
	lockedOwners int
	// limits records the limit of every Members and APIKeys call.
	limits []int
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{state: &State{
		Workspaces:  map[domain.ID]domain.Workspace{},
		Users:       map[domain.ID]domain.User{},
		Members:     map[MemberKey]domain.Member{},
		Keys:        map[domain.ID]domain.APIKey{},
		Deleted:     map[domain.ID]time.Time{},
		Invitations: map[domain.ID]StoredInvitation{},
	}}
}

// InTx runs fn on a copy of the state, committed when fn returns nil.
func (db *Memory) InTx(ctx context.Context, fn func(ctx context.Context, r workspaces.Repos) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := &memoryStore{db: db, s: db.state.clone()}
	if err := fn(ctx, workspaces.Repos{Store: tx, Events: tx, Erasure: tx, Invitations: tx, Mail: tx}); err != nil {
		return err
	}
	db.state = tx.s
	return nil
}

// Store is the store outside transactions.
func (db *Memory) Store() workspaces.Store { return &memoryStore{db: db} }

// Invitations is the invitations store outside transactions.
func (db *Memory) Invitations() workspaces.Invitations { return &memoryStore{db: db} }

// Snapshot returns a copy of the committed state.
func (db *Memory) Snapshot() *State {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.state.clone()
}

// Seed edits the committed state directly, bypassing every rule (to set up a state a test
// needs).
func (db *Memory) Seed(fn func(s *State)) {
	db.mu.Lock()
	defer db.mu.Unlock()
	fn(db.state)
}

// AddUser signs up u (the Store has no port for it).
func (db *Memory) AddUser(u domain.User) {
	db.Seed(func(s *State) { s.Users[u.ID] = u })
}

// FailEvents makes every event Append fail with err (nil: succeed again).
func (db *Memory) FailEvents(err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.failEvents = err
}

// LockedOwners counts the LockOwners calls served so far.
func (db *Memory) LockedOwners() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.lockedOwners
}

// LastLimit is the limit of the latest Members or APIKeys call (0 before any).
func (db *Memory) LastLimit() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	if len(db.limits) == 0 {
		return 0
	}
	return db.limits[len(db.limits)-1]
}

// memoryStore is a workspaces.Store and events.Log over a transaction's copy (s) or, when
// s is nil, the committed state under the lock.
type memoryStore struct {
	db *Memory
	s  *State
}

func (t *memoryStore) with(fn func(s *State) error) error {
	if t.s != nil {
		return fn(t.s)
	}
	t.db.mu.Lock()
	defer t.db.mu.Unlock()
	return fn(t.db.state)
}

func (t *memoryStore) Append(_ context.Context, os ...domain.Occurrence) error {
	return t.with(func(s *State) error {
		if t.db.failEvents != nil {
			return t.db.failEvents
		}
		s.Events = append(s.Events, os...)
		s.Audit = append(s.Audit, eventstest.Audit(os)...)
		return nil
	})
}

func (t *memoryStore) CreateWorkspace(_ context.Context, w domain.Workspace) error {
	return t.with(func(s *State) error {
		if _, ok := s.Workspaces[w.ID]; ok {
			return domain.Errorf(domain.KindInternal, "workspace %s exists", w.ID) // a primary key violation
		}
		s.Workspaces[w.ID] = w
		return nil
	})
}

func (t *memoryStore) Workspace(_ context.Context, id domain.ID) (w domain.Workspace, err error) {
	err = t.with(func(s *State) error {
		var ok bool
		if w, ok = s.Workspaces[id]; !ok || !s.Deleted[id].IsZero() {
			return domain.NotFound("workspace")
		}
		return nil
	})
	return w, err
}

// UpdateWorkspace writes the name, plan and update time of an existing workspace.
func (t *memoryStore) UpdateWorkspace(_ context.Context, w domain.Workspace) error {
	return t.with(func(s *State) error {
		old, ok := s.Workspaces[w.ID]
		if ok {
			old.Name, old.Plan, old.UpdatedAt = w.Name, w.Plan, w.UpdatedAt
			s.Workspaces[w.ID] = old
		}
		return nil
	})
}

// UserByEmail compares lower-cased emails, as the Postgres adapter does.
func (t *memoryStore) UserByEmail(_ context.Context, email string) (u domain.User, err error) {
	err = t.with(func(s *State) error {
		for _, x := range s.Users {
			if strings.ToLower(x.Email) == strings.ToLower(email) {
				u = x
				return nil
			}
		}
		return domain.NotFound("user")
	})
	return u, err
}

func (t *memoryStore) AddMember(_ context.Context, ws, userID domain.ID, role access.Role, at time.Time) error {
	return t.with(func(s *State) error {
		k := MemberKey{ws, userID}
		if _, ok := s.Members[k]; ok {
			return domain.Errorf(domain.KindConflict, "that user is already a member")
		}
		u, ok := s.Users[userID]
		if _, wok := s.Workspaces[ws]; !ok || !wok {
			return domain.Errorf(domain.KindInternal, "no such user or workspace") // a foreign key violation
		}
		s.Members[k] = domain.Member{WorkspaceID: ws, UserID: userID, Email: u.Email, Name: u.Name, Role: role, CreatedAt: at}
		return nil
	})
}

func (t *memoryStore) Member(_ context.Context, ws, userID domain.ID) (m domain.Member, err error) {
	err = t.with(func(s *State) error {
		var ok bool
		if m, ok = s.Members[MemberKey{ws, userID}]; !ok {
			return domain.NotFound("member")
		}
		return nil
	})
	return m, err
}

func (t *memoryStore) Members(_ context.Context, ws, after domain.ID, limit int) (out []domain.Member, err error) {
	err = t.with(func(s *State) error {
		t.db.limits = append(t.db.limits, limit)
		for k, m := range s.Members {
			if k.WS == ws && (after.IsZero() || bytes.Compare(m.UserID[:], after[:]) > 0) {
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

// SetMemberRole changes an existing membership's role; an absent one is no error.
func (t *memoryStore) SetMemberRole(_ context.Context, ws, userID domain.ID, role access.Role) error {
	return t.with(func(s *State) error {
		k := MemberKey{ws, userID}
		if m, ok := s.Members[k]; ok {
			m.Role = role
			s.Members[k] = m
		}
		return nil
	})
}

func (t *memoryStore) RemoveMember(_ context.Context, ws, userID domain.ID) error {
	return t.with(func(s *State) error { delete(s.Members, MemberKey{ws, userID}); return nil })
}

func (t *memoryStore) LockOwners(_ context.Context, ws domain.ID) (n int, err error) {
	err = t.with(func(s *State) error {
		t.db.lockedOwners++
		for k, m := range s.Members {
			if k.WS == ws && m.Role == access.Owner {
				n++
			}
		}
		return nil
	})
	return n, err
}

func (t *memoryStore) CreateAPIKey(_ context.Context, k domain.APIKey) error {
	return t.with(func(s *State) error {
		if _, ok := s.Workspaces[k.WorkspaceID]; !ok {
			return domain.Errorf(domain.KindInternal, "no such workspace") // a foreign key violation
		}
		s.Keys[k.ID] = k
		return nil
	})
}

func (t *memoryStore) APIKeys(_ context.Context, ws, before domain.ID, limit int) (out []domain.APIKey, err error) {
	err = t.with(func(s *State) error {
		t.db.limits = append(t.db.limits, limit)
		for _, k := range s.Keys {
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

func (t *memoryStore) RevokeAPIKey(_ context.Context, ws, id domain.ID, at time.Time) error {
	return t.with(func(s *State) error {
		k, ok := s.Keys[id]
		if !ok || k.WorkspaceID != ws || k.RevokedAt != nil {
			return domain.NotFound("api key")
		}
		k.RevokedAt = &at
		s.Keys[id] = k
		return nil
	})
}
