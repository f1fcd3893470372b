package identitytest

import (
	"bytes"
	"context"
	"time"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Memory's side of identity.Sessions, kept beside the memberships that SessionRole reads.

type sessionState struct {
	s      domain.Session
	reason string
}

// Workspace returns a seeded workspace that DeleteWorkspace has not deleted.
func (db *Memory) Workspace(_ context.Context, id domain.ID) (domain.Workspace, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.calls["Workspace"]++
	if db.failWith != nil {
		return domain.Workspace{}, db.failWith
	}
	name, ok := db.workspaces[id]
	if !ok || db.deleted[id] {
		return domain.Workspace{}, domain.NotFound("workspace")
	}
	return domain.Workspace{ID: id, Name: name}, nil
}

func (db *Memory) SetPassword(_ context.Context, userID domain.ID, hash string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[userID]
	if !ok {
		return domain.NotFound("user")
	}
	u.PasswordHash = hash
	db.users[userID] = u
	return nil
}

func (db *Memory) CreateSession(_ context.Context, s domain.Session) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.failWith != nil {
		return db.failWith
	}
	db.sessions[s.ID] = &sessionState{s: s}
	return nil
}

func (db *Memory) AddRefreshToken(_ context.Context, t domain.RefreshToken) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t.Hash = bytes.Clone(t.Hash)
	db.refresh[string(t.Hash)] = t
	return nil
}

// RefreshToken needs no lock of its own: the memory's transactions run one at a time.
func (db *Memory) RefreshToken(_ context.Context, hash []byte) (domain.RefreshToken, domain.Session, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, ok := db.refresh[string(hash)]
	if !ok {
		return domain.RefreshToken{}, domain.Session{}, domain.NotFound("refresh token")
	}
	return t, db.sessions[t.SessionID].s, nil
}

func (db *Memory) SpendRefreshToken(_ context.Context, hash []byte, at time.Time) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if t, ok := db.refresh[string(hash)]; ok && t.UsedAt == nil {
		t.UsedAt = &at
		db.refresh[string(hash)] = t
	}
	return nil
}

func (db *Memory) ExtendSession(_ context.Context, id domain.ID, expiresAt time.Time) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if st, ok := db.sessions[id]; ok {
		st.s.ExpiresAt = expiresAt
	}
	return nil
}

func (db *Memory) RevokeSession(_ context.Context, id domain.ID, at time.Time, reason string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if st, ok := db.sessions[id]; ok && st.s.RevokedAt == nil {
		st.s.RevokedAt, st.reason = &at, reason
	}
	return nil
}

func (db *Memory) RevokeUserSessions(_ context.Context, userID, except domain.ID, at time.Time, reason string) (int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for id, st := range db.sessions {
		if st.s.UserID == userID && id != except && st.s.RevokedAt == nil {
			st.s.RevokedAt, st.reason = &at, reason
			n++
		}
	}
	return n, nil
}

func (db *Memory) activeSession(sessionID, userID domain.ID) error {
	st, ok := db.sessions[sessionID]
	if !ok || st.s.UserID != userID || st.s.RevokedAt != nil {
		return domain.Errorf(domain.KindUnauthenticated, "missing or invalid credentials")
	}
	return nil
}

func (db *Memory) ActiveSession(_ context.Context, sessionID, userID domain.ID) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.calls["ActiveSession"]++
	if db.failWith != nil {
		return db.failWith
	}
	return db.activeSession(sessionID, userID)
}

func (db *Memory) SessionRole(_ context.Context, sessionID, userID, workspaceID domain.ID) (access.Role, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.calls["SessionRole"]++
	if db.failWith != nil {
		return "", db.failWith
	}
	if err := db.activeSession(sessionID, userID); err != nil {
		return "", err
	}
	m, ok := db.members[memberKey{workspaceID, userID}]
	if !ok {
		return "", domain.NotFound("membership")
	}
	return m.role, nil
}

func (db *Memory) CreateReset(_ context.Context, r domain.ResetToken) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	r.Hash = bytes.Clone(r.Hash)
	db.resets[string(r.Hash)] = r
	return nil
}

func (db *Memory) SpendResets(_ context.Context, userID domain.ID, at time.Time) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for k, r := range db.resets {
		if r.UserID == userID && r.UsedAt == nil {
			r.UsedAt = &at
			db.resets[k] = r
		}
	}
	return nil
}

func (db *Memory) Reset(_ context.Context, hash []byte) (domain.ResetToken, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	r, ok := db.resets[string(hash)]
	if !ok {
		return domain.ResetToken{}, domain.NotFound("reset token")
	}
	return r, nil
}

func (db *Memory) CreateTicket(_ context.Context, t domain.StreamTicket) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t.Hash = bytes.Clone(t.Hash)
	db.tickets[string(t.Hash)] = t
	return nil
}

func (db *Memory) SpendTicket(_ context.Context, hash []byte, now time.Time) (domain.StreamTicket, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	t, ok := db.tickets[string(hash)]
	if !ok || !now.Before(t.ExpiresAt) {
		return domain.StreamTicket{}, domain.NotFound("ticket")
	}
	delete(db.tickets, string(hash))
	return t, nil
}

func (db *Memory) Purge(_ context.Context, before time.Time) (int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for k, t := range db.tickets {
		if t.ExpiresAt.Before(before) { // a purged session's tickets expired long before it
			delete(db.tickets, k)
			n++
		}
	}
	for id, st := range db.sessions {
		if st.s.ExpiresAt.Before(before) {
			delete(db.sessions, id)
			n++
			for k, t := range db.refresh {
				if t.SessionID == id {
					delete(db.refresh, k)
				}
			}
		}
	}
	for k, r := range db.resets {
		if r.ExpiresAt.Before(before) {
			delete(db.resets, k)
			n++
		}
	}
	return n, nil
}

// SessionRevoked reports whether the session is revoked and why (for tests).
func (db *Memory) SessionRevoked(id domain.ID) (revoked bool, reason string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	st, ok := db.sessions[id]
	if !ok || st.s.RevokedAt == nil {
		return false, ""
	}
	return true, st.reason
}
