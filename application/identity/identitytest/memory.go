// Package identitytest holds what tests of the identity ports share: an in-memory
// identity.Users, and the contract every identity.Users (the Postgres adapter's too) is held
// to. Only tests import it.
package identitytest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type memberKey struct{ ws, user domain.ID }

type membership struct {
	role access.Role
	at   time.Time
}

// Memory is an in-memory identity.Users and identity.Sessions. Workspaces, memberships and API keys, which the
// port only reads, are seeded with AddWorkspace, AddMember and AddAPIKey. It counts the
// user look-ups it serves, for tests of what a use case reads.
type Memory struct {
	mu         sync.Mutex
	users      map[domain.ID]domain.User
	workspaces map[domain.ID]string // id -> name
	members    map[memberKey]membership
	keys       map[string]domain.APIKey // by string(hash), unique like api_keys_key_hash_key
	failWith   error
	byEmail    int
	byID       int

	sessions map[domain.ID]*sessionState
	refresh  map[string]domain.RefreshToken // by string(hash)
	resets   map[string]domain.ResetToken   // by string(hash)
	tickets  map[string]domain.StreamTicket // by string(hash)
	deleted  map[domain.ID]bool             // deleted workspaces
	calls    map[string]int                 // session-side reads served, by method
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{users: map[domain.ID]domain.User{}, workspaces: map[domain.ID]string{},
		members: map[memberKey]membership{}, keys: map[string]domain.APIKey{}, deleted: map[domain.ID]bool{},
		calls: map[string]int{}, sessions: map[domain.ID]*sessionState{}, refresh: map[string]domain.RefreshToken{},
		resets: map[string]domain.ResetToken{}, tickets: map[string]domain.StreamTicket{}}
}

// DeleteWorkspace marks a seeded workspace deleted, as workspaces.deleted_at does: the
// port no longer finds it.
func (db *Memory) DeleteWorkspace(id domain.ID) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.deleted[id] = true
}

// Calls counts the calls of one method (ActiveSession, SessionRole, Workspace) served so
// far, for tests of what a use case reads.
func (db *Memory) Calls(method string) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.calls[method]
}

// AddWorkspace creates a workspace named name.
func (db *Memory) AddWorkspace(id domain.ID, name string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.workspaces[id] = name
}

// AddMember makes an existing user a member of an existing workspace, joined at at.
// Like the foreign keys in Postgres, it refuses (panics on) an unknown user or workspace.
func (db *Memory) AddMember(ws, userID domain.ID, role access.Role, at time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, wok := db.workspaces[ws]
	if _, uok := db.users[userID]; !wok || !uok {
		panic(fmt.Sprintf("identitytest: AddMember: no workspace %s or no user %s", ws, userID))
	}
	db.members[memberKey{ws, userID}] = membership{role: role, at: at}
}

// AddAPIKey stores k as it is (revoked when k.RevokedAt is set) in an existing workspace.
func (db *Memory) AddAPIKey(k domain.APIKey) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.workspaces[k.WorkspaceID]; !ok {
		panic(fmt.Sprintf("identitytest: AddAPIKey: no workspace %s", k.WorkspaceID))
	}
	k.Hash = bytes.Clone(k.Hash)
	db.keys[string(k.Hash)] = k
}

// Fail makes every call of the port return err (nil: succeed again).
func (db *Memory) Fail(err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.failWith = err
}

// Users counts the stored users.
func (db *Memory) Users() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.users)
}

// EmailLookups counts the UserByEmail calls served so far.
func (db *Memory) EmailLookups() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.byEmail
}

// IDLookups counts the UserByID calls served so far.
func (db *Memory) IDLookups() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.byID
}

// sameEmail compares as the users_email_key index does: lower-cased, not case-folded
// (strings.EqualFold would take "ſ" for "s"; lower() does not).
func sameEmail(a, b string) bool { return strings.ToLower(a) == strings.ToLower(b) }

func (db *Memory) CreateUser(_ context.Context, u domain.User) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.failWith != nil {
		return db.failWith
	}
	if _, ok := db.users[u.ID]; ok {
		return fmt.Errorf("identitytest: user %s exists", u.ID) // a primary key violation
	}
	for _, o := range db.users {
		if sameEmail(o.Email, u.Email) {
			return domain.Errorf(domain.KindEmailTaken, "that email is already registered")
		}
	}
	db.users[u.ID] = u
	return nil
}

func (db *Memory) UserByEmail(_ context.Context, email string) (domain.User, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.byEmail++
	if db.failWith != nil {
		return domain.User{}, db.failWith
	}
	for _, u := range db.users {
		if sameEmail(u.Email, email) {
			return u, nil
		}
	}
	return domain.User{}, domain.NotFound("user")
}

func (db *Memory) UserByID(_ context.Context, id domain.ID) (domain.User, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.byID++
	if db.failWith != nil {
		return domain.User{}, db.failWith
	}
	u, ok := db.users[id]
	if !ok {
		return domain.User{}, domain.NotFound("user")
	}
	return u, nil
}

// Memberships orders by join time, then workspace id, as the Postgres query does.
func (db *Memory) Memberships(_ context.Context, userID domain.ID) ([]domain.Membership, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.failWith != nil {
		return nil, db.failWith
	}
	type joined struct {
		m  domain.Membership
		at time.Time
	}
	var js []joined
	for k, m := range db.members {
		if k.user == userID {
			js = append(js, joined{domain.Membership{WorkspaceID: k.ws, WorkspaceName: db.workspaces[k.ws], Role: m.role}, m.at})
		}
	}
	slices.SortFunc(js, func(a, b joined) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return bytes.Compare(a.m.WorkspaceID[:], b.m.WorkspaceID[:])
	})
	out := []domain.Membership{}
	for _, j := range js {
		out = append(out, j.m)
	}
	return out, nil
}

// ActiveAPIKey returns the key without its hash, as the Postgres adapter reads it.
func (db *Memory) ActiveAPIKey(_ context.Context, hash []byte) (domain.APIKey, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.failWith != nil {
		return domain.APIKey{}, db.failWith
	}
	k, ok := db.keys[string(hash)]
	if !ok || k.RevokedAt != nil {
		return domain.APIKey{}, domain.NotFound("api key")
	}
	k.Hash = nil
	return k, nil
}
