package domain

// DefaultPageSize is a list's page size when the caller gives none.
const DefaultPageSize = 50

// PageSize returns limit, or DefaultPageSize when it is not positive.
func PageSize(limit int) int {
	if limit <= 0 {
		return DefaultPageSize
	}
	return limit
}

// TrimPage cuts a list read with limit+1 rows down to limit and returns the cursor of the
// next page (the id of the last item kept), nil on the last page.
func TrimPage[T any](items []T, limit int, id func(T) ID) ([]T, *ID) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	last := id(items[limit-1])
	return items, &last
}
