package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestStatusAdvanceIsMonotonic(t *testing.T) {
	t.Parallel()
	q, s, d, r, f := domain.StatusQueued, domain.StatusSent, domain.StatusDelivered, domain.StatusRead, domain.StatusFailed
	cases := []struct{ from, next, want domain.MessageStatus }{
		{q, s, s}, {s, d, d}, {d, r, r}, {q, r, r},
		{r, s, r}, {r, d, r}, {d, s, d}, // late reports never move backwards
		{s, f, f}, {d, f, f}, {f, r, f}, {f, s, f}, // failed is terminal
		{domain.StatusReceived, r, domain.StatusReceived},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.from.Advance(c.next), "%s + %s", c.from, c.next)
	}
	st, ok := domain.ParseMessageStatus("played")
	require.True(t, ok)
	require.Equal(t, r, st)
	_, ok = domain.ParseMessageStatus("deleted")
	require.False(t, ok)
}
