package access_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain/access"
)

func TestParseRole(t *testing.T) {
	t.Parallel()

	for _, r := range access.Roles() {
		got, err := access.ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}

	for _, bad := range []string{"", "Owner", "admin", " owner", "viewer "} {
		_, err := access.ParseRole(bad)
		require.ErrorIs(t, err, access.ErrUnknownRole, "input %q", bad)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()

	t.Run("RankOrder", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, []access.Role{access.Owner, access.Manager, access.Agent, access.Viewer}, access.Roles())
		rs := access.Roles()
		for i := 1; i < len(rs); i++ {
			require.Greater(t, rs[i-1].Rank(), rs[i].Rank())
		}
		require.Equal(t, 0, access.Role("admin").Rank())
	})

	t.Run("CallerOwnsSlice", func(t *testing.T) {
		t.Parallel()

		rs := access.Roles()
		rs[0] = access.Viewer
		require.Equal(t, access.Owner, access.Roles()[0])
	})

	t.Run("AtLeast", func(t *testing.T) {
		t.Parallel()

		require.True(t, access.Owner.AtLeast(access.Owner))
		require.True(t, access.Owner.AtLeast(access.Viewer))
		require.True(t, access.Manager.AtLeast(access.Agent))
		require.False(t, access.Manager.AtLeast(access.Owner))
		require.False(t, access.Agent.AtLeast(access.Manager))
		require.False(t, access.Viewer.AtLeast(access.Agent))
		require.True(t, access.Viewer.AtLeast(access.Viewer))

		// An unknown role neither outranks nor is outranked: it is simply refused.
		require.False(t, access.Role("admin").AtLeast(access.Viewer))
		require.False(t, access.Role("").AtLeast(access.Role("")))
		require.False(t, access.Owner.AtLeast(access.Role("admin")))
	})
}

func TestPermissions(t *testing.T) {
	t.Parallel()

	t.Run("AllParseAndAreUnique", func(t *testing.T) {
		t.Parallel()

		all := access.AllPermissions()
		require.GreaterOrEqual(t, len(all), 30)
		seen := make(map[access.Permission]bool, len(all))
		for _, p := range all {
			require.False(t, seen[p], "duplicate %s", p)
			seen[p] = true

			got, err := access.ParsePermission(string(p))
			require.NoError(t, err)
			require.Equal(t, p, got)
			require.NotEmpty(t, p.Resource(), p)
			require.NotEmpty(t, p.Verb(), p)
			require.Equal(t, string(p), p.Resource()+"."+p.Verb())
			require.Equal(t, strings.ToLower(string(p)), string(p))
			require.Equal(t, 1, strings.Count(string(p), "."), p)
		}
	})

	t.Run("StableOrderGroupedByResource", func(t *testing.T) {
		t.Parallel()

		all := access.AllPermissions()
		require.Equal(t, all, access.AllPermissions())
		require.Equal(t, access.WorkspaceRead, all[0])

		// Each resource appears as one contiguous run, so the docs table reads by resource.
		done := map[string]bool{}
		for i, p := range all {
			if i > 0 && all[i-1].Resource() != p.Resource() {
				require.False(t, done[p.Resource()], "%s is split", p.Resource())
				done[all[i-1].Resource()] = true
			}
		}
	})

	t.Run("CallerOwnsSlice", func(t *testing.T) {
		t.Parallel()

		all := access.AllPermissions()
		all[0] = access.AuditExport
		require.Equal(t, access.WorkspaceRead, access.AllPermissions()[0])
	})

	t.Run("CoversTheProduct", func(t *testing.T) {
		t.Parallel()

		want := []string{
			"workspace.read", "workspace.update", "workspace.delete",
			"billing.read", "billing.manage",
			"members.read", "members.invite", "members.update", "members.remove",
			"apikeys.read", "apikeys.create", "apikeys.revoke",
			"whatsapp.read", "whatsapp.connect", "whatsapp.sync",
			"contacts.read", "contacts.create", "contacts.update", "contacts.delete",
			"contacts.optout", "contacts.import", "contacts.assign",
			"conversations.read", "conversations.reply", "conversations.assign", "conversations.close",
			"messages.read", "messages.send",
			"templates.read", "templates.manage",
			"campaigns.read", "campaigns.manage", "campaigns.launch",
			"audit.read", "audit.export",
			"usage.read",
			"webhooks.read", "webhooks.manage",
			"automation.read", "automation.manage",
		}
		for _, s := range want {
			_, err := access.ParsePermission(s)
			require.NoError(t, err, s)
		}
	})

	t.Run("ParseRejectsUnknown", func(t *testing.T) {
		t.Parallel()

		for _, bad := range []string{"", "messages", "messages.", ".send", "Messages.Send", "messages.delete", "messages.send "} {
			_, err := access.ParsePermission(bad)
			require.ErrorIs(t, err, access.ErrUnknownPermission, "input %q", bad)
		}
	})

	t.Run("ResourceAndVerbWithoutDot", func(t *testing.T) {
		t.Parallel()

		p := access.Permission("messages")
		require.Equal(t, "messages", p.Resource())
		require.Empty(t, p.Verb())
	})
}
