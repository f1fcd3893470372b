package audittest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/audit/audittest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	audittest.RunStoreContract(t, func(*testing.T) audittest.Subject {
		return audittest.NewSubject(audittest.NewMemory())
	})
}
