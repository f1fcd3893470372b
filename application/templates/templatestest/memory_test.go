package templatestest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/templates/templatestest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	templatestest.RunStoreContract(t, func(*testing.T) templatestest.Subject {
		return templatestest.NewSubject(templatestest.NewMemory())
	})
}
