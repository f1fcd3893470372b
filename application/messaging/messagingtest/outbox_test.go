package messagingtest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/messaging/messagingtest"
)

func TestOutboxContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunOutboxContract(t, func(*testing.T) (messaging.Outbox, messagingtest.OutboxFixture) {
		o := messagingtest.NewOutbox()
		return o, messagingtest.NewOutboxFixture(o)
	})
}
