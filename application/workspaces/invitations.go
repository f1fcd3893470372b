package workspaces

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Invitations reads and writes invitations. Their tokens are stored only as hashes.
type Invitations interface {
	CreateInvitation(ctx context.Context, inv domain.Invitation, tokenHash []byte) error
	// OpenInvitation locks and returns the workspace's invitation that is neither accepted
	// nor revoked (expired or not); KindNotFound otherwise.
	OpenInvitation(ctx context.Context, workspaceID, id domain.ID) (domain.Invitation, error)
	// OpenInvitationFor is OpenInvitation by the (lower-cased) email it was sent to.
	OpenInvitationFor(ctx context.Context, workspaceID domain.ID, email string) (domain.Invitation, error)
	// InvitationByToken locks and returns the invitation whose token hashes to tokenHash,
	// whatever its state; KindNotFound when there is none.
	InvitationByToken(ctx context.Context, tokenHash []byte) (domain.Invitation, error)
	// Invitations returns up to limit invitations that are neither accepted nor revoked,
	// newest first, with ids below before (from the newest when before is the zero id).
	Invitations(ctx context.Context, workspaceID, before domain.ID, limit int) ([]domain.Invitation, error)
	RevokeInvitation(ctx context.Context, workspaceID, id domain.ID, at time.Time) error
	AcceptInvitation(ctx context.Context, workspaceID, id, userID domain.ID, at time.Time) error
}

// CreatedInvitation is a new invitation with its token, shown once.
type CreatedInvitation struct {
	domain.Invitation
	Token string
}

// Invite asks someone, by email, to join the caller's workspace with a role. The rules of
// AddMember apply (an owner alone invites owners and managers); a current member is a
// conflict. An open invitation to the same email is superseded: revoked, so that only the
// newest link works. The mail with the link commits with the invitation.
func (s *Service) Invite(ctx context.Context, c domain.Caller, email, role string) (CreatedInvitation, error) {
	norm, r, err := s.checkGrant(c, email, role)
	if err != nil {
		return CreatedInvitation{}, err
	}
	token, hash := domain.NewSecret(domain.InvitationTokenPrefix)
	now := s.now().UTC()
	inv := domain.Invitation{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, Email: norm, Role: r, InvitedBy: c.ID,
		CreatedAt: now, ExpiresAt: now.Add(domain.InvitationTTL)}
	err = s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		if u, err := repos.Store.UserByEmail(ctx, norm); err == nil {
			if _, err := repos.Store.Member(ctx, c.WorkspaceID, u.ID); err == nil {
				return domain.Errorf(domain.KindConflict, "that user is already a member")
			} else if !domain.IsKind(err, domain.KindNotFound) {
				return err
			}
		} else if !domain.IsKind(err, domain.KindNotFound) {
			return err
		}
		w, err := repos.Store.Workspace(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		old, err := repos.Invitations.OpenInvitationFor(ctx, c.WorkspaceID, norm)
		switch {
		case err == nil:
			// Replacing it revokes it, and a manager may not revoke an owner's or manager's.
			if grantNeedsOwner(old.Role) && c.Role != access.Owner {
				return domain.Errorf(domain.KindForbidden, "only an owner replaces an invitation to the %s role", old.Role)
			}
			if err := repos.Invitations.RevokeInvitation(ctx, c.WorkspaceID, old.ID, now); err != nil {
				return err
			}
			if err := repos.Events.Append(ctx, domain.Occurred(c, now, domain.InvitationRevoked{InvitationID: old.ID, Email: old.Email})); err != nil {
				return err
			}
		case !domain.IsKind(err, domain.KindNotFound):
			return err
		}
		if err := repos.Invitations.CreateInvitation(ctx, inv, hash); err != nil {
			return err
		}
		if err := repos.Events.Append(ctx, domain.Occurred(c, now, domain.InvitationCreated{InvitationID: inv.ID,
			Email: inv.Email, Role: string(r), ExpiresAt: inv.ExpiresAt})); err != nil {
			return err
		}
		return repos.Mail.Enqueue(ctx, invitationMail(w.Name, inv, s.acceptLink(token)))
	})
	if err != nil {
		return CreatedInvitation{}, err
	}
	return CreatedInvitation{Invitation: inv, Token: token}, nil
}

func (s *Service) acceptLink(token string) string {
	return s.linkBase + "/invitations/accept?token=" + url.QueryEscape(token)
}

func invitationMail(workspace string, inv domain.Invitation, link string) mail.Message {
	return mail.Message{
		To:      inv.Email,
		Subject: fmt.Sprintf("You are invited to %s on WABA", workspace),
		Text: fmt.Sprintf("You are invited to join %s on WABA as %s.\n\n"+
			"Sign up or log in with this email address (%s), then open this link to accept:\n\n%s\n\n"+
			"The link works once and expires on %s.\n",
			workspace, inv.Role, inv.Email, link, inv.ExpiresAt.UTC().Format("2 January 2006 15:04 MST")),
	}
}

// ListedInvitation is an invitation as the list shows it.
type ListedInvitation struct {
	domain.Invitation
	Status string // "pending" while it can be accepted, "expired" after
}

// Invitations pages through the workspace's invitations that are neither accepted nor
// revoked (the expired ones too, until revoked), newest first; never their tokens.
func (s *Service) Invitations(ctx context.Context, c domain.Caller, limit int, cursor domain.ID) (domain.Page[ListedInvitation], error) {
	if err := authz.Require(s.authz, c, access.MembersRead); err != nil {
		return domain.Page[ListedInvitation]{}, err
	}
	now := s.now()
	return domain.ReadPage(limit, func(n int) ([]ListedInvitation, error) {
		invs, err := s.invitations.Invitations(ctx, c.WorkspaceID, cursor, n)
		out := make([]ListedInvitation, len(invs))
		for i, inv := range invs {
			out[i] = ListedInvitation{Invitation: inv, Status: "pending"}
			if !inv.Open(now) {
				out[i].Status = "expired"
			}
		}
		return out, err
	}, func(inv ListedInvitation) domain.ID { return inv.ID })
}

// RevokeInvitation withdraws an invitation that was neither accepted nor revoked; its token
// stops working. Only an owner revokes an invitation to the owner or manager role.
func (s *Service) RevokeInvitation(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.authz, c, access.MembersInvite); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		inv, err := repos.Invitations.OpenInvitation(ctx, c.WorkspaceID, id)
		if err != nil {
			return err
		}
		if grantNeedsOwner(inv.Role) && c.Role != access.Owner {
			return domain.Errorf(domain.KindForbidden, "only an owner revokes an invitation to the %s role", inv.Role)
		}
		now := s.now().UTC()
		if err := repos.Invitations.RevokeInvitation(ctx, c.WorkspaceID, id, now); err != nil {
			return err
		}
		return repos.Events.Append(ctx, domain.Occurred(c, now, domain.InvitationRevoked{InvitationID: id, Email: inv.Email}))
	})
}

// Accept makes the signed-up user whose email the invitation was sent to a member with the
// invited role. A token that is unknown, spent, revoked or expired is not found: it tells
// its holder nothing about which.
func (s *Service) Accept(ctx context.Context, p domain.Principal, token string, meta domain.RequestMeta) (domain.Membership, error) {
	if p.Type != domain.ActorUser {
		return domain.Membership{}, domain.Errorf(domain.KindForbidden, "an invitation is accepted by a user, not an API key")
	}
	var m domain.Membership
	err := s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		inv, err := repos.Invitations.InvitationByToken(ctx, domain.HashSecret(token))
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if !inv.Open(now) {
			return domain.NotFound("invitation")
		}
		// Emails are unique, so the user holding the invitation's email is the invitee.
		u, err := repos.Store.UserByEmail(ctx, inv.Email)
		if err != nil && !domain.IsKind(err, domain.KindNotFound) {
			return err
		}
		if err != nil || u.ID != p.ID {
			return domain.Errorf(domain.KindForbidden, "this invitation was sent to another email address")
		}
		w, err := repos.Store.Workspace(ctx, inv.WorkspaceID)
		if err != nil {
			return err
		}
		if err := repos.Store.AddMember(ctx, inv.WorkspaceID, p.ID, inv.Role, now); err != nil {
			return err
		}
		if err := repos.Invitations.AcceptInvitation(ctx, inv.WorkspaceID, inv.ID, p.ID, now); err != nil {
			return err
		}
		m = domain.Membership{WorkspaceID: w.ID, WorkspaceName: w.Name, Role: inv.Role}
		invitee := domain.Caller{Type: domain.ActorUser, ID: p.ID, WorkspaceID: inv.WorkspaceID, Role: inv.Role, Meta: meta}
		// Both facts: the invitation was used, and the workspace has a new member (what
		// anything counting members reads, however they joined).
		return repos.Events.Append(ctx,
			domain.Occurred(invitee, now, domain.InvitationAccepted{InvitationID: inv.ID, UserID: p.ID, Email: inv.Email, Role: string(inv.Role)}),
			domain.Occurred(invitee, now, domain.MemberAdded{UserID: p.ID, Email: inv.Email, Role: string(inv.Role)}))
	})
	return m, err
}
