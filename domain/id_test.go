package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestIDRoundTripAndOrder(t *testing.T) {
	t.Parallel()
	a := domain.NewID()
	b, err := domain.ParseID(a.String())
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, byte(0x70), a[6]&0xf0, "version 7")
	require.Equal(t, byte(0x80), a[8]&0xc0, "variant")

	_, err = domain.ParseID("not-a-uuid")
	require.Error(t, err)
	_, err = domain.ParseID("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz")
	require.Error(t, err)

	var c domain.ID
	require.NoError(t, c.UnmarshalText([]byte(a.String())))
	require.Equal(t, a, c)
}

func TestIDsIncreaseWithinOneMillisecond(t *testing.T) {
	t.Parallel()
	prev := domain.NewID()
	for range 10000 {
		next := domain.NewID()
		require.Less(t, prev.String(), next.String())
		prev = next
	}
}
