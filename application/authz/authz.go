// Package authz is the one place use cases ask whether a caller may do something.
package authz

import (
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Authorizer answers whether a role may use a permission in a workspace (Casbin behind it).
type Authorizer interface {
	Can(role access.Role, workspaceID string, p access.Permission) bool
}

// Require returns a KindForbidden error unless the caller's role grants p in its workspace.
func Require(a Authorizer, c domain.Caller, p access.Permission) error {
	if c.Role == "" || !a.Can(c.Role, c.WorkspaceID.String(), p) {
		return domain.Errorf(domain.KindForbidden, "your role may not %s", p)
	}
	return nil
}
