package contactstest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/contacts/contactstest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	contactstest.RunStoreContract(t, func(*testing.T) contactstest.Subject {
		return contactstest.NewSubject(contactstest.NewMemory())
	})
}
