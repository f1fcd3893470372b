package domain

// DefaultPageSize is a list's page size when the caller gives none.
const DefaultPageSize = 50

// Page is one page of a list and the cursor of the next page (nil on the last).
type Page[T any] struct {
	Items      []T
	NextCursor *ID
}

// ReadPage reads one page of at most limit items (DefaultPageSize when limit is not
// positive). read is asked for one item more than the page holds: its presence says a next
// page exists, whose cursor is id of the last item kept.
func ReadPage[T any](limit int, read func(n int) ([]T, error), id func(T) ID) (Page[T], error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	items, err := read(limit + 1)
	if err != nil {
		return Page[T]{}, err
	}
	if len(items) <= limit {
		return Page[T]{Items: items}, nil
	}
	items = items[:limit]
	last := id(items[limit-1])
	return Page[T]{Items: items, NextCursor: &last}, nil
}
