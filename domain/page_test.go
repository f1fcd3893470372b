package domain_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestReadPage(t *testing.T) {
	t.Parallel()
	ids := make([]domain.ID, 5)
	for i := range ids {
		ids[i] = domain.NewID()
	}
	self := func(id domain.ID) domain.ID { return id }
	var asked int
	from := func(have []domain.ID) func(n int) ([]domain.ID, error) {
		return func(n int) ([]domain.ID, error) {
			asked = n
			return have[:min(n, len(have))], nil
		}
	}

	p, err := domain.ReadPage(2, from(ids), self)
	require.NoError(t, err)
	require.Equal(t, 3, asked, "one more than the page, to know whether a next page exists")
	require.Equal(t, ids[:2], p.Items)
	require.Equal(t, ids[1], *p.NextCursor, "the cursor is the last item kept")

	p, err = domain.ReadPage(5, from(ids), self)
	require.NoError(t, err)
	require.Equal(t, ids, p.Items)
	require.Nil(t, p.NextCursor, "exactly a full page is the last")

	p, err = domain.ReadPage(0, from(ids), self)
	require.NoError(t, err)
	require.Equal(t, domain.DefaultPageSize+1, asked, "no limit: the default page size")
	require.Len(t, p.Items, 5)
	require.Nil(t, p.NextCursor)

	boom := errors.New("boom")
	_, err = domain.ReadPage(2, func(int) ([]domain.ID, error) { return nil, boom }, self)
	require.ErrorIs(t, err, boom)
}
