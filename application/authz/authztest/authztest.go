// Package authztest holds the authorizer that use-case tests put in place of Casbin.
package authztest

import (
	"slices"

	"github.com/wabaplatform/waba/domain/access"
)

// Grants is an authz.Authorizer that grants each role the permissions listed for it, in
// any workspace.
type Grants map[access.Role][]access.Permission

// Can implements authz.Authorizer.
func (g Grants) Can(role access.Role, workspaceID string, p access.Permission) bool {
	return workspaceID != "" && slices.Contains(g[role], p)
}
