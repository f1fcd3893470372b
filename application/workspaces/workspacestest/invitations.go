package workspacestest

import (
	"bytes"
	"context"
	"sort"
	"time"

	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/domain"
)

// StoredInvitation is an invitation as the store keeps it: with its token's hash.
type StoredInvitation struct {
	domain.Invitation
	TokenHash []byte
}

func (i StoredInvitation) closed() bool { return i.AcceptedAt != nil || i.RevokedAt != nil }

// Enqueue records the message in the transaction's state: it is "sent" only on commit.
func (t *memoryStore) Enqueue(_ context.Context, m mail.Message) error {
	return t.with(func(s *State) error { s.Mail = append(s.Mail, m); return nil })
}

// CreateInvitation enforces what the Postgres schema does: a known workspace, a unique
// token hash, one open invitation per email and workspace.
func (t *memoryStore) CreateInvitation(_ context.Context, inv domain.Invitation, tokenHash []byte) error {
	return t.with(func(s *State) error {
		if _, ok := s.Workspaces[inv.WorkspaceID]; !ok {
			return domain.Errorf(domain.KindInternal, "no such workspace") // a foreign key violation
		}
		for _, x := range s.Invitations {
			if bytes.Equal(x.TokenHash, tokenHash) {
				return domain.Errorf(domain.KindInternal, "token hash exists")
			}
			if x.WorkspaceID == inv.WorkspaceID && x.Email == inv.Email && !x.closed() {
				return domain.Errorf(domain.KindConflict, "an invitation to that email is open")
			}
		}
		s.Invitations[inv.ID] = StoredInvitation{Invitation: inv, TokenHash: bytes.Clone(tokenHash)}
		return nil
	})
}

func (t *memoryStore) findInvitation(match func(StoredInvitation) bool) (inv domain.Invitation, err error) {
	err = t.with(func(s *State) error {
		for _, x := range s.Invitations {
			if match(x) {
				inv = x.Invitation
				return nil
			}
		}
		return domain.NotFound("invitation")
	})
	return inv, err
}

func (t *memoryStore) OpenInvitation(_ context.Context, ws, id domain.ID) (domain.Invitation, error) {
	return t.findInvitation(func(x StoredInvitation) bool { return x.WorkspaceID == ws && x.ID == id && !x.closed() })
}

func (t *memoryStore) OpenInvitationFor(_ context.Context, ws domain.ID, email string) (domain.Invitation, error) {
	return t.findInvitation(func(x StoredInvitation) bool { return x.WorkspaceID == ws && x.Email == email && !x.closed() })
}

func (t *memoryStore) InvitationByToken(_ context.Context, tokenHash []byte) (domain.Invitation, error) {
	return t.findInvitation(func(x StoredInvitation) bool { return bytes.Equal(x.TokenHash, tokenHash) })
}

func (t *memoryStore) Invitations(_ context.Context, ws, before domain.ID, limit int) (out []domain.Invitation, err error) {
	err = t.with(func(s *State) error {
		t.db.limits = append(t.db.limits, limit)
		for _, x := range s.Invitations {
			if x.WorkspaceID == ws && !x.closed() && (before.IsZero() || bytes.Compare(x.ID[:], before[:]) < 0) {
				out = append(out, x.Invitation)
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

// closeInvitation applies close to the workspace's open invitation id; KindNotFound when
// there is none.
func (t *memoryStore) closeInvitation(ws, id domain.ID, close func(x *StoredInvitation)) error {
	return t.with(func(s *State) error {
		x, ok := s.Invitations[id]
		if !ok || x.WorkspaceID != ws || x.closed() {
			return domain.NotFound("invitation")
		}
		close(&x)
		s.Invitations[id] = x
		return nil
	})
}

func (t *memoryStore) RevokeInvitation(_ context.Context, ws, id domain.ID, at time.Time) error {
	return t.closeInvitation(ws, id, func(x *StoredInvitation) { x.RevokedAt = &at })
}

func (t *memoryStore) AcceptInvitation(_ context.Context, ws, id, userID domain.ID, at time.Time) error {
	return t.closeInvitation(ws, id, func(x *StoredInvitation) { x.AcceptedAt, x.AcceptedBy = &at, &userID })
}
