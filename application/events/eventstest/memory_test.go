package eventstest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/domain"
)

func TestMemoryLogContract(t *testing.T) {
	t.Parallel()
	eventstest.RunContract(t, func(*testing.T) eventstest.Subject {
		m := eventstest.NewMemory()
		return eventstest.Subject{Log: m,
			Workspace: func(*testing.T) domain.ID { return domain.NewID() },
			Rows:      func(_ *testing.T, ws domain.ID) []eventstest.Row { return m.Rows(ws) },
			Actions:   func(_ *testing.T, ws domain.ID) []string { return m.Actions(ws) },
		}
	})
}
