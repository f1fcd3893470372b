package messagingtest_test

import (
	"testing"

	"github.com/wabaplatform/waba/application/messaging/messagingtest"
)

func TestIdempotencyContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunIdempotencyContract(t, func(*testing.T) messagingtest.IdempotencySubject {
		return messagingtest.NewIdempotencySubject(messagingtest.NewIdempotency())
	})
}
