package eventstats_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/eventstats"
	"github.com/wabaplatform/waba/domain"
)

type counts map[domain.EventKind]int

func (c counts) Add(kind domain.EventKind, n int) { c[kind] += n }

func TestCountsEachKind(t *testing.T) {
	c := counts{}
	s := eventstats.New(c)
	batch := []events.Logged{{Kind: domain.EventContactOptedOut}, {Kind: domain.EventMessageReceived}, {Kind: domain.EventContactOptedOut}}
	require.NoError(t, s.Handle(context.Background(), batch))
	require.NoError(t, s.Handle(context.Background(), batch[:1]))
	require.Equal(t, counts{domain.EventContactOptedOut: 3, domain.EventMessageReceived: 1}, c)
}
