package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestWhereNumbersParameters(t *testing.T) {
	t.Parallel()
	w := &where{}
	w.add("workspace_id = $?", "ws")
	w.add("(name ILIKE $? OR phone LIKE $?)", "%q%")
	require.Equal(t, "workspace_id = $1 AND (name ILIKE $2 OR phone LIKE $2)", w.sql())
	require.Equal(t, []any{"ws", "%q%"}, w.args)
	require.Equal(t, "$3", w.next())

	w.cursor("id < $?", domain.NilID)
	require.Len(t, w.args, 2, "the zero cursor asks for the first page: no condition")
	id := domain.NewID()
	w.cursor("id < $?", id)
	require.Equal(t, "workspace_id = $1 AND (name ILIKE $2 OR phone LIKE $2) AND id < $3", w.sql())
	require.Equal(t, id, w.args[2])
}
