package casbinrbac

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain/access"
)

const testWorkspace = "0198c6a2-7b3e-7d41-9a55-3f2e1c0b9a11"

type testBundle struct {
	auth *Authorizer
}

func setup(t testing.TB) *testBundle {
	t.Helper()

	auth, err := NewAuthorizer()
	require.NoError(t, err)
	return &testBundle{auth: auth}
}

// granted lists what role may do according to Can, in AllPermissions order.
func (b *testBundle) granted(role access.Role) []access.Permission {
	var out []access.Permission
	for _, p := range access.AllPermissions() {
		if b.auth.Can(role, testWorkspace, p) {
			out = append(out, p)
		}
	}
	return out
}

func without(all []access.Permission, drop ...access.Permission) []access.Permission {
	var out []access.Permission
	for _, p := range all {
		keep := true
		for _, d := range drop {
			keep = keep && p != d
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

// TestMatrix pins the role -> permission table rule by rule, through both Can and Matrix.
func TestMatrix(t *testing.T) {
	t.Parallel()

	all := access.AllPermissions()

	check := func(t *testing.T, role access.Role, want []access.Permission) {
		t.Helper()
		b := setup(t)
		require.Equal(t, want, b.granted(role), "Can for %s", role)
		require.Equal(t, want, b.auth.Matrix()[role], "Matrix for %s", role)
	}

	t.Run("OwnerHasEverything", func(t *testing.T) {
		t.Parallel()
		check(t, access.Owner, all)
	})

	t.Run("ManagerLacksExactlyBillingManageAndWorkspaceDelete", func(t *testing.T) {
		t.Parallel()
		check(t, access.Manager, without(all, access.BillingManage, access.WorkspaceDelete))
	})

	t.Run("Agent", func(t *testing.T) {
		t.Parallel()
		check(t, access.Agent, []access.Permission{
			access.WorkspaceRead,
			access.ContactsRead, access.ContactsCreate, access.ContactsUpdate, access.ContactsDelete, access.ContactsOptOut,
			access.ConversationsRead, access.ConversationsReply, access.ConversationsClose, access.ConversationsTake, access.NotesCreate,
			access.MessagesRead, access.MessagesSend,
			access.TemplatesRead,
			access.MediaRead, access.MediaUpload,
		})
	})

	t.Run("ViewerReadsAllButAuditAPIKeysMembers", func(t *testing.T) {
		t.Parallel()

		var reads []access.Permission
		for _, p := range all {
			if p.Verb() == "read" {
				reads = append(reads, p)
			}
		}
		want := without(reads, access.AuditRead, access.APIKeysRead, access.MembersRead)
		check(t, access.Viewer, want)

		b := setup(t)
		for _, p := range b.granted(access.Viewer) {
			require.Equal(t, "read", p.Verb(), "viewer must be read-only, has %s", p)
		}
	})

	t.Run("EveryRoleIsInTheMatrix", func(t *testing.T) {
		t.Parallel()

		m := setup(t).auth.Matrix()
		require.Len(t, m, len(access.Roles()))
		for _, r := range access.Roles() {
			require.Contains(t, m, r)
		}
	})
}

// TestOwnerRulesCoverAllPermissions reads the raw Casbin rules, independent of Matrix, so a
// permission added to domain/access without a policy line fails here.
func TestOwnerRulesCoverAllPermissions(t *testing.T) {
	t.Parallel()

	b := setup(t)
	rules, err := b.auth.e.GetFilteredPolicy(0, string(access.Owner))
	require.NoError(t, err)

	inPolicy := map[access.Permission]bool{}
	for _, r := range rules {
		inPolicy[access.Permission(r[2]+"."+r[3])] = true
	}
	for _, p := range access.AllPermissions() {
		require.True(t, inPolicy[p], "policy.csv has no owner rule for %s", p)
	}
	require.Len(t, rules, len(access.AllPermissions()))
}

func TestCan(t *testing.T) {
	t.Parallel()

	t.Run("AnyWorkspace", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for _, ws := range []string{testWorkspace, "0198c6a2-0000-7000-8000-000000000000", "other"} {
			require.True(t, b.auth.Can(access.Agent, ws, access.MessagesSend), ws)
			require.False(t, b.auth.Can(access.Viewer, ws, access.MessagesSend), ws)
		}
	})

	t.Run("DeniesEmptyWorkspace", func(t *testing.T) {
		t.Parallel()
		require.False(t, setup(t).auth.Can(access.Owner, "", access.WorkspaceRead))
	})

	t.Run("DeniesUnknownRole", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for _, r := range []access.Role{"", "admin", "Owner", "*"} {
			require.False(t, b.auth.Can(r, testWorkspace, access.WorkspaceRead), r)
		}
	})

	t.Run("DeniesUndeclaredPermission", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for _, p := range []access.Permission{"", "messages", "messages.delete", "*.*", "workspace.read.extra"} {
			require.False(t, b.auth.Can(access.Owner, testWorkspace, p), p)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					if !b.auth.Can(access.Manager, testWorkspace, access.CampaignsLaunch) {
						t.Error("manager lost campaigns.launch")
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestMatrixCallerOwnsResult(t *testing.T) {
	t.Parallel()

	b := setup(t)
	m := b.auth.Matrix()
	m[access.Agent][0] = access.BillingManage
	delete(m, access.Owner)

	m2 := b.auth.Matrix()
	require.Equal(t, access.WorkspaceRead, m2[access.Agent][0])
	require.Contains(t, m2, access.Owner)
	require.False(t, b.auth.Can(access.Agent, testWorkspace, access.BillingManage))
}

func TestNewAuthorizerRejectsBadPolicy(t *testing.T) {
	t.Parallel()

	for name, tc := range map[string]struct {
		policy  string
		wantErr string
	}{
		"UnknownRole":       {"p, admin, *, messages, send\n", "unknown role"},
		"UnknownPermission": {"p, owner, *, messages, delete\n", "unknown permission"},
		"TypoInResource":    {"p, owner, *, mesages, send\n", "unknown permission"},
		"WorkspaceDomain":   {"p, owner, " + testWorkspace + ", messages, send\n", "domain must be"},
		"GroupingRule":      {"p, owner, *, messages, send\ng, alice, owner, " + testWorkspace + "\n", "grouping"},
		"Duplicate":         {"p, owner, *, messages, send\np, owner, *, messages, send\n", "malformed or duplicated"},
		"Malformed":         {"p, owner, *, messages, send\nq, owner, *, messages, read\n", "malformed or duplicated"},
		"TooFewFields":      {"p, owner, *, messages\n", "malformed or duplicated"},
		"OnlyComments":      {"# nothing\n", "no rules"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			_, err := newAuthorizer(modelText, tc.policy)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	t.Run("CommentsBlankLinesAndCRLFAreFine", func(t *testing.T) {
		t.Parallel()

		a, err := newAuthorizer(modelText, "# owner\r\n\n  # indented comment\np, owner, *, messages, send\r\n\n")
		require.NoError(t, err)
		require.True(t, a.Can(access.Owner, testWorkspace, access.MessagesSend))
		require.False(t, a.Can(access.Owner, testWorkspace, access.MessagesRead))
	})
}

func BenchmarkCan(b *testing.B) {
	tb := setup(b)
	cases := []struct {
		role access.Role
		perm access.Permission
	}{
		{access.Owner, access.WorkspaceRead},     // first rule: best case
		{access.Viewer, access.AutomationRead},   // last rule: worst case for a grant
		{access.Agent, access.BillingManage},     // a denial walks every rule
		{access.Manager, access.CampaignsLaunch}, // typical
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c := cases[i%len(cases)]
			tb.auth.Can(c.role, testWorkspace, c.perm)
			i++
		}
	})
}
