package workspacestest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/workspaces/workspacestest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	workspacestest.RunStoreContract(t, func(*testing.T) workspacestest.Subject {
		return workspacestest.NewSubject(workspacestest.NewMemory())
	})
}

func TestMemoryInvitationsContract(t *testing.T) {
	t.Parallel()
	workspacestest.RunInvitationsContract(t, func(*testing.T) workspacestest.Subject {
		return workspacestest.NewSubject(workspacestest.NewMemory())
	})
}
