package workspaces_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/application/workspaces/workspacestest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// movableClock is real time moved forward by what a test advanced it.
type movableClock struct{ offset atomic.Int64 }

func (c *movableClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *movableClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type inviteBundle struct {
	*testBundle
	clock *movableClock
}

func setupInvitations(t *testing.T) *inviteBundle {
	t.Helper()
	b := &inviteBundle{testBundle: setup(t), clock: &movableClock{}}
	b.svc = workspaces.NewService(workspaces.Deps{Tx: b.db, Store: b.db.Store(), Invitations: b.db.Invitations(), Authz: policy,
		Now: b.clock.Now, LinkBase: "https://app.example.com"})
	return b
}

func (b *inviteBundle) invite(t *testing.T, by access.Role, email, role string) workspaces.CreatedInvitation {
	t.Helper()
	byUser := map[access.Role]domain.User{access.Owner: b.owner, access.Manager: b.manager}[by]
	inv, err := b.svc.Invite(context.Background(), b.as(byUser, by), email, role)
	require.NoError(t, err)
	return inv
}

func userPrincipal(u domain.User) domain.Principal {
	return domain.Principal{Type: domain.ActorUser, ID: u.ID}
}

func (b *inviteBundle) stored(t *testing.T, id domain.ID) workspacestest.StoredInvitation {
	t.Helper()
	inv, ok := b.db.Snapshot().Invitations[id]
	require.True(t, ok, "invitation %s stored", id)
	return inv
}

func TestInvite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("StoresTheHashAndQueuesTheMailWithTheLink", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		before := b.clock.Now()
		inv := b.invite(t, access.Owner, "  New.Person@Example.com ", "manager")

		require.True(t, strings.HasPrefix(inv.Token, domain.InvitationTokenPrefix), inv.Token)
		require.Equal(t, "new.person@example.com", inv.Email, "normalised")
		require.Equal(t, access.Manager, inv.Role)
		require.Equal(t, b.owner.ID, inv.InvitedBy)
		require.WithinDuration(t, before.Add(7*24*time.Hour), inv.ExpiresAt, time.Second, "7 days by the service clock")
		s := b.stored(t, inv.ID)
		require.Equal(t, domain.HashSecret(inv.Token), s.TokenHash, "only the hash is kept")
		require.Equal(t, inv.Invitation, s.Invitation)

		mail := b.db.Snapshot().Mail
		require.Len(t, mail, 1)
		require.Equal(t, "new.person@example.com", mail[0].To)
		require.Equal(t, "You are invited to Acme on WABA", mail[0].Subject)
		require.Contains(t, mail[0].Text, "https://app.example.com/invitations/accept?token="+inv.Token)

		e := b.db.Snapshot().Audit
		require.Equal(t, "invitation.created", e[len(e)-1].Action)
		require.Equal(t, inv.ID.String(), e[len(e)-1].ResourceID)
		require.Equal(t, b.owner.ID.String(), e[len(e)-1].ActorID)
		require.Equal(t, "new.person@example.com", e[len(e)-1].Details["email"])
		require.NotContains(t, e[len(e)-1].Details, "token")
	})

	t.Run("TheAddMemberRulesApply", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		for _, tc := range []struct {
			by     domain.User
			role   access.Role
			invite string
			kind   domain.Kind
			why    string
		}{
			{b.viewer, access.Viewer, "agent", domain.KindForbidden, "a viewer cannot invite"},
			{b.agent, access.Agent, "viewer", domain.KindForbidden, "an agent cannot invite"},
			{b.manager, access.Manager, "manager", domain.KindForbidden, "a manager cannot invite a manager"},
			{b.manager, access.Manager, "owner", domain.KindForbidden, "a manager cannot invite an owner"},
			{b.owner, access.Owner, "admin", domain.KindValidation, "an unknown role"},
		} {
			_, err := b.svc.Invite(ctx, b.as(tc.by, tc.role), "ann@example.com", tc.invite)
			require.Equal(t, tc.kind, domain.KindOf(err), "%s: %v", tc.why, err)
		}
		_, err := b.svc.Invite(ctx, b.as(b.owner, access.Owner), "not an email", "agent")
		requireKind(t, domain.KindValidation, err)
		require.Empty(t, b.db.Snapshot().Invitations, "nothing stored")
		require.Empty(t, b.db.Snapshot().Mail, "nothing sent")

		b.invite(t, access.Manager, "ann@example.com", "agent")
		b.invite(t, access.Owner, "bob@example.com", "owner")
		b.invite(t, access.Owner, b.outsider.Email, "manager") // signed up, not a member
	})

	t.Run("ACurrentMemberIsAConflict", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		_, err := b.svc.Invite(ctx, b.as(b.owner, access.Owner), strings.ToUpper(b.agent.Email), "viewer")
		requireKind(t, domain.KindConflict, err)
		require.Empty(t, b.db.Snapshot().Invitations)
	})

	t.Run("ANewInvitationSupersedesTheOpenOne", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		first := b.invite(t, access.Owner, "ann@example.com", "agent")
		second := b.invite(t, access.Manager, "Ann@example.com", "viewer")
		require.NotNil(t, b.stored(t, first.ID).RevokedAt, "the first is revoked")
		require.Nil(t, b.stored(t, second.ID).RevokedAt)
		require.Equal(t, []string{"invitation.created", "invitation.revoked", "invitation.created"}, b.auditActions())
		require.Len(t, b.db.Snapshot().Mail, 2)

		_, err := b.svc.Accept(ctx, userPrincipal(b.outsider), first.Token, domain.RequestMeta{})
		requireKind(t, domain.KindNotFound, err)

		// Superseding revokes, so a manager cannot replace an invitation only an owner may revoke.
		owners := b.invite(t, access.Owner, "bob@example.com", "manager")
		_, err = b.svc.Invite(ctx, b.as(b.manager, access.Manager), "bob@example.com", "agent")
		requireKind(t, domain.KindForbidden, err)
		require.Nil(t, b.stored(t, owners.ID).RevokedAt)
	})

	t.Run("RollsBackWhenTheAuditFails", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		boom := errors.New("audit insert failed")
		b.db.FailEvents(boom)
		_, err := b.svc.Invite(ctx, b.as(b.owner, access.Owner), "ann@example.com", "agent")
		require.ErrorIs(t, err, boom)
		require.Empty(t, b.db.Snapshot().Invitations)
		require.Empty(t, b.db.Snapshot().Mail, "no mail for an invitation that does not exist")
	})
}

func TestAcceptInvitation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "198.51.100.7", RequestID: "rid"}

	t.Run("TheInviteeBecomesAMemberOnce", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		inv := b.invite(t, access.Owner, strings.ToUpper(b.outsider.Email), "manager")
		m, err := b.svc.Accept(ctx, userPrincipal(b.outsider), inv.Token, meta)
		require.NoError(t, err)
		require.Equal(t, domain.Membership{WorkspaceID: b.ws, WorkspaceName: "Acme", Role: access.Manager}, m)
		require.Equal(t, access.Manager, b.roleOf(t, b.outsider))
		s := b.stored(t, inv.ID)
		require.NotNil(t, s.AcceptedAt)
		require.Equal(t, b.outsider.ID, *s.AcceptedBy)

		e := b.db.Snapshot().Audit
		accepted, added := e[len(e)-2], e[len(e)-1]
		require.Equal(t, "invitation.accepted", accepted.Action)
		require.Equal(t, "member.added", added.Action, "joining by invitation adds a member like any other")
		require.Equal(t, map[string]any{"email": b.outsider.Email, "role": "manager"}, added.Details)
		for _, a := range []domain.AuditEntry{accepted, added} {
			require.Equal(t, b.ws, a.WorkspaceID)
			require.Equal(t, b.outsider.ID.String(), a.ActorID, "the invitee accepted")
			require.Equal(t, "198.51.100.7", a.IP)
		}

		_, err = b.svc.Accept(ctx, userPrincipal(b.outsider), inv.Token, meta)
		requireKind(t, domain.KindNotFound, err) // single use
	})

	t.Run("OnlyByTheUserOfTheEmail", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		inv := b.invite(t, access.Owner, b.outsider.Email, "agent")
		_, err := b.svc.Accept(ctx, userPrincipal(b.viewer), inv.Token, meta)
		requireKind(t, domain.KindForbidden, err)
		nobody := b.invite(t, access.Owner, "nobody@example.com", "agent") // not signed up
		_, err = b.svc.Accept(ctx, userPrincipal(b.outsider), nobody.Token, meta)
		requireKind(t, domain.KindForbidden, err)
		_, err = b.svc.Accept(ctx, domain.Principal{Type: domain.ActorAPIKey, ID: domain.NewID(), WorkspaceID: b.ws, Role: access.Owner}, inv.Token, meta)
		requireKind(t, domain.KindForbidden, err)
		require.Empty(t, b.roleOf(t, b.outsider), "not a member")
		require.Nil(t, b.stored(t, inv.ID).AcceptedAt, "still open")
		_, err = b.svc.Accept(ctx, userPrincipal(b.outsider), inv.Token, meta)
		require.NoError(t, err)
	})

	t.Run("ExpiresAfterSevenDays", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		inv := b.invite(t, access.Owner, b.outsider.Email, "agent")
		b.clock.Advance(7*24*time.Hour - time.Minute)
		page, err := b.svc.Invitations(ctx, b.as(b.owner, access.Owner), 10, domain.NilID)
		require.NoError(t, err)
		require.Equal(t, "pending", page.Items[0].Status)

		b.clock.Advance(2 * time.Minute)
		_, err = b.svc.Accept(ctx, userPrincipal(b.outsider), inv.Token, meta)
		requireKind(t, domain.KindNotFound, err)
		require.Empty(t, b.roleOf(t, b.outsider))
		page, err = b.svc.Invitations(ctx, b.as(b.owner, access.Owner), 10, domain.NilID)
		require.NoError(t, err)
		require.Equal(t, "expired", page.Items[0].Status, "listed until revoked")
	})

	t.Run("UnknownOrRevokedTokensAreNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		_, err := b.svc.Accept(ctx, userPrincipal(b.outsider), "wiv_not-a-token", meta)
		requireKind(t, domain.KindNotFound, err)
		inv := b.invite(t, access.Owner, b.outsider.Email, "agent")
		require.NoError(t, b.svc.RevokeInvitation(ctx, b.as(b.owner, access.Owner), inv.ID))
		_, err = b.svc.Accept(ctx, userPrincipal(b.outsider), inv.Token, meta)
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("AMemberAlreadyIsAConflict", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		inv := b.invite(t, access.Owner, b.outsider.Email, "agent")
		_, err := b.svc.AddMember(ctx, b.as(b.owner, access.Owner), b.outsider.Email, "viewer") // joined another way since
		require.NoError(t, err)
		_, err = b.svc.Accept(ctx, userPrincipal(b.outsider), inv.Token, meta)
		requireKind(t, domain.KindConflict, err)
		require.Equal(t, access.Viewer, b.roleOf(t, b.outsider), "the membership is unchanged")
	})
}

func TestRevokeInvitation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OnlyOwnersRevokeOwnerAndManagerInvitations", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		mgr := b.invite(t, access.Owner, "ann@example.com", "manager")
		agent := b.invite(t, access.Owner, "bob@example.com", "agent")
		requireKind(t, domain.KindForbidden, b.svc.RevokeInvitation(ctx, b.as(b.manager, access.Manager), mgr.ID))
		requireKind(t, domain.KindForbidden, b.svc.RevokeInvitation(ctx, b.as(b.viewer, access.Viewer), agent.ID))
		require.NoError(t, b.svc.RevokeInvitation(ctx, b.as(b.manager, access.Manager), agent.ID))
		require.NoError(t, b.svc.RevokeInvitation(ctx, b.as(b.owner, access.Owner), mgr.ID))
		actions := b.auditActions()
		require.Equal(t, []string{"invitation.revoked", "invitation.revoked"}, actions[len(actions)-2:])
		requireKind(t, domain.KindNotFound, b.svc.RevokeInvitation(ctx, b.as(b.owner, access.Owner), agent.ID)) // once
	})

	t.Run("AnotherWorkspacesInvitationIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setupInvitations(t)
		inv := b.invite(t, access.Owner, "ann@example.com", "agent")
		other := b.as(b.owner, access.Owner)
		other.WorkspaceID = domain.NewID()
		requireKind(t, domain.KindNotFound, b.svc.RevokeInvitation(ctx, other, inv.ID))
		requireKind(t, domain.KindNotFound, b.svc.RevokeInvitation(ctx, b.as(b.owner, access.Owner), domain.NewID()))
		require.Nil(t, b.stored(t, inv.ID).RevokedAt)
	})
}

func TestListInvitations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupInvitations(t)
	var made []workspaces.CreatedInvitation
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com", b.outsider.Email} {
		made = append(made, b.invite(t, access.Owner, email, "agent"))
	}
	require.NoError(t, b.svc.RevokeInvitation(ctx, b.as(b.owner, access.Owner), made[1].ID))
	_, err := b.svc.Accept(ctx, userPrincipal(b.outsider), made[3].Token, domain.RequestMeta{})
	require.NoError(t, err)

	page, err := b.svc.Invitations(ctx, b.as(b.manager, access.Manager), 1, domain.NilID)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, made[2].ID, page.Items[0].ID, "newest first")
	require.Equal(t, "pending", page.Items[0].Status)
	require.NotNil(t, page.NextCursor)
	page, err = b.svc.Invitations(ctx, b.as(b.manager, access.Manager), 10, *page.NextCursor)
	require.NoError(t, err)
	require.Len(t, page.Items, 1, "accepted and revoked ones are left out")
	require.Equal(t, made[0].ID, page.Items[0].ID)
	require.Nil(t, page.NextCursor)

	_, err = b.svc.Invitations(ctx, b.as(b.viewer, access.Viewer), 10, domain.NilID)
	requireKind(t, domain.KindForbidden, err)
}
