package domain_test

import (
	"testing"
	"time"

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

func TestApplyReport(t *testing.T) {
	t.Parallel()
	at := func(s int64) time.Time { return time.Unix(1768000000+s, 0).UTC() }
	m := domain.Message{Status: domain.StatusQueued}
	m.ApplyReport(domain.StatusRead, at(2), nil)
	m.ApplyReport(domain.StatusDelivered, at(1), nil)
	m.ApplyReport(domain.StatusDelivered, at(3), nil) // a later copy keeps the earliest time
	require.Equal(t, domain.StatusRead, m.Status)
	require.Equal(t, at(2), *m.ReadAt)
	require.Equal(t, at(1), *m.DeliveredAt)
	require.Nil(t, m.SentAt)

	e := &domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "d"}
	m.ApplyReport(domain.StatusFailed, at(4), e)
	require.Equal(t, domain.StatusFailed, m.Status)
	require.Equal(t, at(4), *m.FailedAt)
	require.Equal(t, e, m.Error)
	m.ApplyReport(domain.StatusSent, at(5), nil)
	require.Equal(t, domain.StatusFailed, m.Status, "failed is terminal")
	require.Equal(t, at(5), *m.SentAt)
}
