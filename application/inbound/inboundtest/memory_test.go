package inboundtest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/inbound/inboundtest"
)

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	inboundtest.RunContract(t, func(*testing.T) inboundtest.Subject {
		return inboundtest.NewSubject(inboundtest.NewMemory())
	})
}
