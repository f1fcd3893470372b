package identitytest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/identity/identitytest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	identitytest.RunUsersContract(t, func(*testing.T) identitytest.Subject {
		return identitytest.NewSubject(identitytest.NewMemory())
	})
}

func TestMemorySessionsContract(t *testing.T) {
	t.Parallel()
	identitytest.RunSessionsContract(t, func(*testing.T) identitytest.Subject {
		return identitytest.NewSubject(identitytest.NewMemory())
	})
}
