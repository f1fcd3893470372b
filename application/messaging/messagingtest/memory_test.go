package messagingtest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/application/messaging/messagingtest"
)

func TestMemorySendContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunSendContract(t, func(*testing.T) messagingtest.SendSubject {
		return messagingtest.NewSendSubject(messagingtest.NewMemory(contactstest.NewMemory()))
	})
}

func TestMemoryIdempotencyContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunIdempotencyContract(t, func(*testing.T) messagingtest.IdempotencySubject {
		return messagingtest.NewIdempotencySubject(messagingtest.NewMemory(contactstest.NewMemory()))
	})
}
