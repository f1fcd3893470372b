package contacts_test

import (
	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the contact rows of adapters/casbinrbac/policy.csv.
var policy = func() authztest.Grants {
	all := []access.Permission{
		access.ContactsRead, access.ContactsCreate, access.ContactsUpdate, access.ContactsDelete,
		access.ContactsOptOut, access.ContactsImport, access.ContactsAssign,
	}
	return authztest.Grants{
		access.Owner:   all,
		access.Manager: all,
		access.Agent: {
			access.ContactsRead, access.ContactsCreate, access.ContactsUpdate, access.ContactsDelete, access.ContactsOptOut,
		},
		access.Viewer: {access.ContactsRead},
	}
}()
