package workspaces_test

import (
	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the rows of adapters/casbinrbac/policy.csv these use cases ask about.
var policy = authztest.Grants{
	access.Owner: {
		access.WorkspaceRead, access.WorkspaceUpdate, access.WorkspaceDelete, access.BillingManage,
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
