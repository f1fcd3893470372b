package postgres

import (
	"fmt"
	"strings"

	"github.com/wabaplatform/waba/domain"
)

// where builds the ANDed conditions of a filtered list query with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends cond, whose every $? stands for v.
func (w *where) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(w.args))))
}

// cursor adds cond (keyset paging: "id < $?" or "id > $?") unless id is the zero id,
// which asks for the first page.
func (w *where) cursor(cond string, id domain.ID) {
	if !id.IsZero() {
		w.add(cond, id)
	}
}

// sql is the conditions joined with AND.
func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// next is the placeholder of the parameter added after the conditions (a LIMIT).
func (w *where) next() string { return fmt.Sprintf("$%d", len(w.args)+1) }
