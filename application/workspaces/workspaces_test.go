package workspaces_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/pagetest"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/application/workspaces/workspacestest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type testBundle struct {
	svc *workspaces.Service
	db  *workspacestest.Memory
	ws  domain.ID
	// one member per role, plus a signed-up user who belongs to no workspace
	owner, manager, agent, viewer, outsider domain.User
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, policy)
}

func setupWith(t *testing.T, a authz.Authorizer) *testBundle {
	t.Helper()
	db := workspacestest.NewMemory()
	b := &testBundle{svc: workspaces.NewService(workspaces.Deps{Tx: db, Store: db.Store(), Authz: a, Now: time.Now}), db: db, ws: domain.NewID()}
	mk := func(email string) domain.User {
		return domain.User{ID: domain.NewID(), Email: email, Name: email, CreatedAt: time.Now().UTC()}
	}
	b.owner, b.manager, b.agent, b.viewer, b.outsider =
		mk("owner@example.com"), mk("manager@example.com"), mk("agent@example.com"), mk("viewer@example.com"), mk("outsider@example.com")
	db.Seed(func(s *workspacestest.State) {
		now := time.Now().UTC()
		s.Workspaces[b.ws] = domain.Workspace{ID: b.ws, Name: "Acme", Plan: domain.PlanFree, CreatedAt: now, UpdatedAt: now}
		for _, u := range []domain.User{b.owner, b.manager, b.agent, b.viewer, b.outsider} {
			s.Users[u.ID] = u
		}
		for u, r := range map[domain.User]access.Role{b.owner: access.Owner, b.manager: access.Manager, b.agent: access.Agent, b.viewer: access.Viewer} {
			s.Members[workspacestest.MemberKey{WS: b.ws, User: u.ID}] = domain.Member{WorkspaceID: b.ws, UserID: u.ID, Email: u.Email, Name: u.Name, Role: r, CreatedAt: now}
		}
	})
	return b
}

// as is a caller of the bundle's workspace.
func (b *testBundle) as(u domain.User, role access.Role) domain.Caller {
	return domain.Caller{Type: domain.ActorUser, ID: u.ID, WorkspaceID: b.ws, Role: role, Meta: domain.RequestMeta{IP: "192.0.2.9", RequestID: "req"}}
}

func (b *testBundle) roleOf(t *testing.T, u domain.User) access.Role {
	t.Helper()
	m, ok := b.db.Snapshot().Members[workspacestest.MemberKey{WS: b.ws, User: u.ID}]
	if !ok {
		return ""
	}
	return m.Role
}

func (b *testBundle) auditActions() []string {
	var out []string
	for _, e := range b.db.Snapshot().Audit {
		out = append(out, e.Action)
	}
	return out
}

func requireKind(t *testing.T, want domain.Kind, err error) {
	t.Helper()
	require.Equal(t, want, domain.KindOf(err), "got %v", err)
}

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OwnerMembershipAndAuditInOneTransaction", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.outsider
		meta := domain.RequestMeta{IP: "198.51.100.4", UserAgent: "ua", RequestID: "rid"}

		w, err := b.svc.Create(ctx, domain.Principal{Type: domain.ActorUser, ID: u.ID}, "  New Co  ", meta)
		require.NoError(t, err)
		require.Equal(t, "New Co", w.Name)
		require.Equal(t, domain.PlanFree, w.Plan)

		s := b.db.Snapshot()
		require.Equal(t, w, s.Workspaces[w.ID])
		require.Equal(t, access.Owner, s.Members[workspacestest.MemberKey{WS: w.ID, User: u.ID}].Role)
		e := s.Audit[len(s.Audit)-1]
		require.Equal(t, "workspace.created", e.Action)
		require.Equal(t, w.ID, e.WorkspaceID)
		require.Equal(t, w.ID.String(), e.ResourceID)
		require.Equal(t, "workspace", e.ResourceType)
		require.Equal(t, u.ID.String(), e.ActorID)
		require.Equal(t, domain.ActorUser, e.ActorType)
		require.Equal(t, "198.51.100.4", e.IP)
		require.Equal(t, map[string]any{"name": "New Co", "plan": "free"}, e.Details)
	})

	t.Run("RollsBackWhenTheAuditFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("audit insert failed")
		b.db.FailEvents(boom)
		before := b.db.Snapshot()

		_, err := b.svc.Create(ctx, domain.Principal{Type: domain.ActorUser, ID: b.outsider.ID}, "Doomed", domain.RequestMeta{})
		require.ErrorIs(t, err, boom)
		after := b.db.Snapshot()
		require.Equal(t, before.Workspaces, after.Workspaces, "no workspace without its audit entry")
		require.Equal(t, before.Members, after.Members, "no owner membership either")
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, name := range []string{"", "   ", strings.Repeat("n", 101)} {
			_, err := b.svc.Create(ctx, domain.Principal{Type: domain.ActorUser, ID: b.outsider.ID}, name, domain.RequestMeta{})
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, domain.KindValidation, de.Kind)
			require.Equal(t, "name", de.Fields[0].Field)
		}
		require.Len(t, b.db.Snapshot().Workspaces, 1)
	})

	t.Run("APIKeysCannotCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.Create(ctx, domain.Principal{Type: domain.ActorAPIKey, ID: domain.NewID(), WorkspaceID: b.ws, Role: access.Owner}, "X", domain.RequestMeta{})
		requireKind(t, domain.KindForbidden, err)
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PlanIsTheOperators", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		for _, plan := range []string{"enterprise", "free", "gold"} {
			_, err := b.svc.Update(ctx, b.as(b.owner, access.Owner), workspaces.UpdateInput{Name: ptr("Renamed"), Plan: ptr(plan)})
			requireKind(t, domain.KindForbidden, err)
		}
		w := b.db.Snapshot().Workspaces[b.ws]
		require.Equal(t, domain.PlanFree, w.Plan)
		require.Equal(t, "Acme", w.Name, "a refused request changes nothing, not even the name")
		require.Empty(t, b.auditActions())

		w, err := b.svc.SetPlan(ctx, b.ws, "pro", domain.RequestMeta{})
		require.NoError(t, err)
		require.Equal(t, domain.PlanPro, w.Plan)
		require.Equal(t, domain.PlanPro, b.db.Snapshot().Workspaces[b.ws].Plan)
		e := b.db.Snapshot().Audit[0]
		require.Equal(t, "workspace.plan_changed", e.Action)
		require.Equal(t, domain.ActorSystem, e.ActorType)
		require.Equal(t, map[string]any{"plan": map[string]any{"from": "free", "to": "pro"}}, e.Details)

		_, err = b.svc.SetPlan(ctx, b.ws, "pro", domain.RequestMeta{})
		require.NoError(t, err)
		require.Len(t, b.auditActions(), 1, "no change, no audit")
		_, err = b.svc.SetPlan(ctx, b.ws, "gold", domain.RequestMeta{})
		requireKind(t, domain.KindValidation, err)
		_, err = b.svc.SetPlan(ctx, domain.NewID(), "pro", domain.RequestMeta{})
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("ManagerRenames", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		w, err := b.svc.Update(ctx, b.as(b.manager, access.Manager), workspaces.UpdateInput{Name: ptr(" Acme Ltd ")})
		require.NoError(t, err)
		require.Equal(t, "Acme Ltd", w.Name)
		require.Equal(t, []string{"workspace.updated"}, b.auditActions())
	})

	t.Run("NoChangeNoAudit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		w, err := b.svc.Update(ctx, b.as(b.owner, access.Owner), workspaces.UpdateInput{Name: ptr("Acme")})
		require.NoError(t, err)
		require.Equal(t, "Acme", w.Name)
		require.Empty(t, b.auditActions())
	})

	t.Run("ValidationAndPermission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.svc.Update(ctx, b.as(b.owner, access.Owner), workspaces.UpdateInput{Name: ptr("")})
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindValidation, de.Kind)
		require.Len(t, de.Fields, 1)

		for _, r := range []access.Role{access.Agent, access.Viewer} {
			_, err := b.svc.Update(ctx, b.as(b.agent, r), workspaces.UpdateInput{Name: ptr("X")})
			requireKind(t, domain.KindForbidden, err)
		}
	})
}

func TestAddMember(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OwnerGrantsManager", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		m, err := b.svc.AddMember(ctx, b.as(b.owner, access.Owner), " OUTSIDER@example.com ", "manager")
		require.NoError(t, err)
		require.Equal(t, b.outsider.ID, m.UserID)
		require.Equal(t, access.Manager, m.Role)
		require.Equal(t, access.Manager, b.roleOf(t, b.outsider))
		e := b.db.Snapshot().Audit[0]
		require.Equal(t, "member.added", e.Action)
		require.Equal(t, b.outsider.ID.String(), e.ResourceID)
		require.Equal(t, map[string]any{"email": "outsider@example.com", "role": "manager"}, e.Details)
	})

	t.Run("ManagerCannotGrantOwnerOrManager", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		for _, role := range []string{"owner", "manager"} {
			_, err := b.svc.AddMember(ctx, b.as(b.manager, access.Manager), "outsider@example.com", role)
			requireKind(t, domain.KindForbidden, err)
		}
		require.Empty(t, b.roleOf(t, b.outsider))

		m, err := b.svc.AddMember(ctx, b.as(b.manager, access.Manager), "outsider@example.com", "agent")
		require.NoError(t, err)
		require.Equal(t, access.Agent, m.Role)
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := b.as(b.owner, access.Owner)

		_, err := b.svc.AddMember(ctx, owner, "nobody@example.com", "agent")
		requireKind(t, domain.KindNotFound, err)
		_, err = b.svc.AddMember(ctx, owner, "agent@example.com", "viewer")
		requireKind(t, domain.KindConflict, err)
		require.Equal(t, access.Agent, b.roleOf(t, b.agent))

		_, err = b.svc.AddMember(ctx, owner, "bad", "admin")
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindValidation, de.Kind)
		require.Equal(t, []domain.FieldError{
			{Field: "email", Message: "must be a valid email address"},
			{Field: "role", Message: "must be owner, manager, agent or viewer"},
		}, de.Fields)

		_, err = b.svc.AddMember(ctx, b.as(b.agent, access.Agent), "outsider@example.com", "viewer")
		requireKind(t, domain.KindForbidden, err)
		require.Empty(t, b.auditActions())
	})
}

func TestChangeRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LastOwnerCannotBeDemoted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.svc.ChangeRole(ctx, b.as(b.owner, access.Owner), b.owner.ID, "manager")
		requireKind(t, domain.KindLastOwner, err)
		require.Equal(t, access.Owner, b.roleOf(t, b.owner))
		require.Equal(t, 1, b.db.LockedOwners(), "the owner count is read under lock")
	})

	t.Run("OneOfTwoOwnersCanBeDemoted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := b.as(b.owner, access.Owner)

		m, err := b.svc.ChangeRole(ctx, owner, b.manager.ID, "owner")
		require.NoError(t, err)
		require.Equal(t, access.Owner, m.Role)

		m, err = b.svc.ChangeRole(ctx, owner, b.owner.ID, "viewer")
		require.NoError(t, err)
		require.Equal(t, access.Viewer, m.Role)
		require.Equal(t, access.Viewer, b.roleOf(t, b.owner))

		// Now the former manager is the last owner.
		_, err = b.svc.ChangeRole(ctx, b.as(b.manager, access.Owner), b.manager.ID, "agent")
		requireKind(t, domain.KindLastOwner, err)

		s := b.db.Snapshot()
		require.Len(t, s.Audit, 2)
		require.Equal(t, "member.role_changed", s.Audit[1].Action)
		require.Equal(t, map[string]any{"from": "owner", "to": "viewer"}, s.Audit[1].Details)
	})

	t.Run("ManagerCannotGrantOwnerOrManagerNorTouchAnOwner", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mgr := b.as(b.manager, access.Manager)

		for _, role := range []string{"owner", "manager"} {
			_, err := b.svc.ChangeRole(ctx, mgr, b.agent.ID, role)
			requireKind(t, domain.KindForbidden, err)
		}
		_, err := b.svc.ChangeRole(ctx, mgr, b.owner.ID, "viewer")
		requireKind(t, domain.KindForbidden, err)
		require.Equal(t, access.Owner, b.roleOf(t, b.owner))
		require.Equal(t, access.Agent, b.roleOf(t, b.agent))

		m, err := b.svc.ChangeRole(ctx, mgr, b.agent.ID, "viewer")
		require.NoError(t, err)
		require.Equal(t, access.Viewer, m.Role)
		require.Equal(t, []string{"member.role_changed"}, b.auditActions())
	})

	t.Run("SameRoleIsANoOp", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		m, err := b.svc.ChangeRole(ctx, b.as(b.owner, access.Owner), b.owner.ID, "owner")
		require.NoError(t, err)
		require.Equal(t, access.Owner, m.Role)
		require.Empty(t, b.auditActions())
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := b.as(b.owner, access.Owner)

		_, err := b.svc.ChangeRole(ctx, owner, b.agent.ID, "boss")
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindValidation, de.Kind)
		require.Equal(t, "role", de.Fields[0].Field)

		_, err = b.svc.ChangeRole(ctx, owner, b.outsider.ID, "agent")
		requireKind(t, domain.KindNotFound, err)

		_, err = b.svc.ChangeRole(ctx, b.as(b.agent, access.Agent), b.viewer.ID, "agent")
		requireKind(t, domain.KindForbidden, err)
	})
}

func TestRemoveMember(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LastOwnerStays", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		err := b.svc.RemoveMember(ctx, b.as(b.owner, access.Owner), b.owner.ID)
		requireKind(t, domain.KindLastOwner, err)
		require.Equal(t, access.Owner, b.roleOf(t, b.owner))
	})

	t.Run("ManagerCannotRemoveAnOwner", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.db.Seed(func(s *workspacestest.State) { // a second owner, so only the role rule can refuse
			s.Members[workspacestest.MemberKey{WS: b.ws, User: b.outsider.ID}] = domain.Member{WorkspaceID: b.ws, UserID: b.outsider.ID, Role: access.Owner}
		})

		err := b.svc.RemoveMember(ctx, b.as(b.manager, access.Manager), b.owner.ID)
		requireKind(t, domain.KindForbidden, err)
		require.Equal(t, access.Owner, b.roleOf(t, b.owner))
	})

	t.Run("RemovesAndAudits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.NoError(t, b.svc.RemoveMember(ctx, b.as(b.manager, access.Manager), b.agent.ID))
		require.Empty(t, b.roleOf(t, b.agent))
		e := b.db.Snapshot().Audit[0]
		require.Equal(t, "member.removed", e.Action)
		require.Equal(t, b.agent.ID.String(), e.ResourceID)
		require.Equal(t, map[string]any{"email": "agent@example.com", "role": "agent"}, e.Details)

		err := b.svc.RemoveMember(ctx, b.as(b.manager, access.Manager), b.agent.ID)
		requireKind(t, domain.KindNotFound, err)
		err = b.svc.RemoveMember(ctx, b.as(b.viewer, access.Viewer), b.manager.ID)
		requireKind(t, domain.KindForbidden, err)
	})

	t.Run("OneOfTwoOwners", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.ChangeRole(ctx, b.as(b.owner, access.Owner), b.manager.ID, "owner")
		require.NoError(t, err)

		require.NoError(t, b.svc.RemoveMember(ctx, b.as(b.owner, access.Owner), b.owner.ID))
		err = b.svc.RemoveMember(ctx, b.as(b.manager, access.Owner), b.manager.ID)
		requireKind(t, domain.KindLastOwner, err)
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("CreateShowsTheSecretOnceAndStoresItsHash", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		k, err := b.svc.CreateAPIKey(ctx, b.as(b.manager, access.Manager), " CRM sync ", "agent")
		require.NoError(t, err)
		require.Equal(t, "CRM sync", k.Name)
		require.Equal(t, access.Agent, k.Role)
		require.Equal(t, b.ws, k.WorkspaceID)
		require.Equal(t, b.manager.ID, k.CreatedBy)
		require.Contains(t, k.Secret, domain.APIKeyPrefix)
		require.Equal(t, domain.HashSecret(k.Secret), k.Hash)

		s := b.db.Snapshot()
		require.Equal(t, k.APIKey, s.Keys[k.ID])
		e := s.Audit[0]
		require.Equal(t, "apikey.created", e.Action)
		require.Equal(t, k.ID.String(), e.ResourceID)
		require.Equal(t, map[string]any{"name": "CRM sync", "role": "agent"}, e.Details, "never the secret")

		list, err := b.svc.APIKeys(ctx, b.as(b.owner, access.Owner), 0, domain.NilID)
		require.NoError(t, err)
		require.Len(t, list.Items, 1)
		require.Equal(t, k.ID, list.Items[0].ID)
		require.Nil(t, list.NextCursor)
		require.Empty(t, list.Items[0].Hash, "lists never carry the hash")
	})

	t.Run("RoleCeiling", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.svc.CreateAPIKey(ctx, b.as(b.manager, access.Manager), "k", "owner")
		requireKind(t, domain.KindForbidden, err)
		_, err = b.svc.CreateAPIKey(ctx, b.as(b.manager, access.Manager), "k", "manager")
		require.NoError(t, err)
		_, err = b.svc.CreateAPIKey(ctx, b.as(b.owner, access.Owner), "k", "owner")
		require.NoError(t, err)
		// The policy does not let agents create keys at all.
		_, err = b.svc.CreateAPIKey(ctx, b.as(b.agent, access.Agent), "k", "agent")
		requireKind(t, domain.KindForbidden, err)
		require.Len(t, b.db.Snapshot().Keys, 2)
	})

	t.Run("RoleCeilingHoldsEvenWhenThePolicyAllows", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, allowAll)

		_, err := b.svc.CreateAPIKey(ctx, b.as(b.agent, access.Agent), "k", "manager")
		requireKind(t, domain.KindForbidden, err)
		_, err = b.svc.CreateAPIKey(ctx, b.as(b.viewer, access.Viewer), "k", "agent")
		requireKind(t, domain.KindForbidden, err)
		k, err := b.svc.CreateAPIKey(ctx, b.as(b.agent, access.Agent), "k", "agent")
		require.NoError(t, err)
		require.Equal(t, access.Agent, k.Role)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.svc.CreateAPIKey(ctx, b.as(b.owner, access.Owner), "", "root")
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindValidation, de.Kind)
		require.Len(t, de.Fields, 2)
	})

	t.Run("Revoke", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := b.as(b.owner, access.Owner)
		k, err := b.svc.CreateAPIKey(ctx, owner, "k", "viewer")
		require.NoError(t, err)

		require.NoError(t, b.svc.RevokeAPIKey(ctx, b.as(b.manager, access.Manager), k.ID))
		s := b.db.Snapshot()
		require.NotNil(t, s.Keys[k.ID].RevokedAt)
		require.Equal(t, "apikey.revoked", s.Audit[len(s.Audit)-1].Action)
		list, err := b.svc.APIKeys(ctx, owner, 0, domain.NilID)
		require.NoError(t, err)
		require.Empty(t, list.Items)

		err = b.svc.RevokeAPIKey(ctx, owner, k.ID)
		requireKind(t, domain.KindNotFound, err)
		err = b.svc.RevokeAPIKey(ctx, owner, domain.NewID())
		requireKind(t, domain.KindNotFound, err)
		require.Equal(t, []string{"apikey.created", "apikey.revoked"}, b.auditActions(), "a failed revoke audits nothing")

		err = b.svc.RevokeAPIKey(ctx, b.as(b.viewer, access.Viewer), k.ID)
		requireKind(t, domain.KindForbidden, err)
	})

	t.Run("AnotherWorkspacesKeyIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		k, err := b.svc.CreateAPIKey(ctx, b.as(b.owner, access.Owner), "k", "viewer")
		require.NoError(t, err)

		other := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: domain.NewID(), Role: access.Owner}
		err = b.svc.RevokeAPIKey(ctx, other, k.ID)
		requireKind(t, domain.KindNotFound, err)
		require.Nil(t, b.db.Snapshot().Keys[k.ID].RevokedAt)
	})
}

func TestReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	w, err := b.svc.Get(ctx, b.as(b.viewer, access.Viewer))
	require.NoError(t, err)
	require.Equal(t, "Acme", w.Name)

	ms, err := b.svc.Members(ctx, b.as(b.manager, access.Manager), 0, domain.NilID)
	require.NoError(t, err)
	require.Len(t, ms.Items, 4)
	require.Nil(t, ms.NextCursor)
	_, err = b.svc.Members(ctx, b.as(b.viewer, access.Viewer), 0, domain.NilID)
	requireKind(t, domain.KindForbidden, err)
	_, err = b.svc.APIKeys(ctx, b.as(b.agent, access.Agent), 0, domain.NilID)
	requireKind(t, domain.KindForbidden, err)

	// A caller without a role (or a workspace) is refused outright.
	_, err = b.svc.Get(ctx, domain.Caller{Type: domain.ActorUser, ID: b.owner.ID, WorkspaceID: b.ws})
	requireKind(t, domain.KindForbidden, err)
}

func TestListsPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Members", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := b.as(b.owner, access.Owner)
		_, err := b.svc.AddMember(ctx, owner, b.outsider.Email, "viewer")
		require.NoError(t, err)

		seen := pagetest.Walk(t, func(cursor domain.ID, limit int) (domain.Page[domain.Member], error) {
			return b.svc.Members(ctx, owner, limit, cursor)
		}, func(m domain.Member) domain.ID { return m.UserID }, b.db.LastLimit)
		require.Len(t, seen, 5)
		for i := 1; i < len(seen); i++ {
			require.Less(t, seen[i-1].String(), seen[i].String(), "by user id, no repeats")
		}

		_, err = b.svc.Members(ctx, owner, 0, domain.NilID)
		require.NoError(t, err)
		require.Equal(t, 51, b.db.LastLimit(), "default page size is 50")
		p, err := b.svc.Members(ctx, owner, 5, domain.NilID)
		require.NoError(t, err)
		require.Len(t, p.Items, 5)
		require.Nil(t, p.NextCursor, "exactly a full page has no next page")
	})

	t.Run("APIKeys", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := b.as(b.owner, access.Owner)
		for range 5 {
			_, err := b.svc.CreateAPIKey(ctx, owner, "k", "viewer")
			require.NoError(t, err)
		}

		seen := pagetest.Walk(t, func(cursor domain.ID, limit int) (domain.Page[domain.APIKey], error) {
			return b.svc.APIKeys(ctx, owner, limit, cursor)
		}, func(k domain.APIKey) domain.ID { return k.ID }, b.db.LastLimit)
		require.Len(t, seen, 5)
		for i := 1; i < len(seen); i++ {
			require.Greater(t, seen[i-1].String(), seen[i].String(), "newest first, no repeats")
		}

		_, err := b.svc.APIKeys(ctx, owner, 0, domain.NilID)
		require.NoError(t, err)
		require.Equal(t, 51, b.db.LastLimit(), "default page size is 50")
		p, err := b.svc.APIKeys(ctx, owner, 5, domain.NilID)
		require.NoError(t, err)
		require.Len(t, p.Items, 5)
		require.Nil(t, p.NextCursor, "exactly a full page has no next page")
	})
}
