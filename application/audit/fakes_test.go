package audit_test

import (
	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the audit rows of adapters/casbinrbac/policy.csv.
var policy = authztest.Grants{
	access.Owner:   {access.AuditRead, access.AuditExport},
	access.Manager: {access.AuditRead, access.AuditExport},
}
