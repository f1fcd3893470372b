package rotationtest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/rotation/rotationtest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	rotationtest.RunStoreContract(t, func(*testing.T) rotationtest.Subject {
		return rotationtest.NewSubject(rotationtest.NewMemory())
	})
}
