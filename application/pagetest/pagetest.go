// Package pagetest walks the paged lists of use cases in tests.
package pagetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

// Walk reads every page of list with pages of 2, from the zero cursor, and returns the ids
// shown, in order. It checks what domain.ReadPage promises on the way: each page reads one
// row more than it shows (readLimit is the limit of the store's last read), a page with a
// next cursor is full and its cursor is its last id, and the last page is not larger.
func Walk[T any](t testing.TB, list func(cursor domain.ID, limit int) (domain.Page[T], error), id func(T) domain.ID, readLimit func() int) []domain.ID {
	t.Helper()
	var seen []domain.ID
	cursor := domain.NilID
	for pages := 1; ; pages++ {
		require.Less(t, pages, 100, "the walk ends")
		p, err := list(cursor, 2)
		require.NoError(t, err)
		require.Equal(t, 3, readLimit(), "one more than asked, to know whether a next page exists")
		for _, it := range p.Items {
			seen = append(seen, id(it))
		}
		if p.NextCursor == nil {
			require.LessOrEqual(t, len(p.Items), 2)
			return seen
		}
		require.Len(t, p.Items, 2)
		require.Equal(t, id(p.Items[1]), *p.NextCursor, "the cursor is the last item shown")
		cursor = *p.NextCursor
	}
}
