package postgres_test

import (
	"context"
	"io/fs"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/migrations"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t) // already migrated from the template

	res, err := postgres.Migrate(ctx, pool, riveradapter.MigrateSchema)
	require.NoError(t, err)
	require.True(t, res.NoChange(), "second run changed something: %+v", res)
	require.NoError(t, postgres.Ready(ctx, pool))
}

func TestMigrateConcurrentOnFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	// Drop everything the template brought, to migrate a truly empty database.
	_, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public;`)
	require.NoError(t, err)
	require.Error(t, postgres.Ready(ctx, pool), "an empty database must not be ready")
	require.Error(t, riveradapter.Ready(ctx, pool))

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = postgres.Migrate(ctx, pool, riveradapter.MigrateSchema)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, postgres.Ready(ctx, pool))
	require.NoError(t, riveradapter.Ready(ctx, pool))

	// River's GIN indexes were created by the run and then dropped; its others remain.
	var gin, others int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE indexname = ANY ($1)), count(*) FILTER (WHERE NOT indexname = ANY ($1))
		FROM pg_indexes WHERE tablename = 'river_job'`, riveradapter.GINIndexes).Scan(&gin, &others))
	require.Zero(t, gin)
	require.GreaterOrEqual(t, others, 5)
}

// Migration 0009 moves an inbound message's Meta message to raw and keeps its type object
// in content; its down migration puts the whole message back. Outbound rows are untouched.
func TestMigrationMessageRaw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme")
	sqlOf := func(name string) string {
		b, err := fs.ReadFile(migrations.FS, name)
		require.NoError(t, err)
		return string(b)
	}
	whole := map[string]string{
		"text":            `{"id":"wamid.T","type":"text","text":{"body":"hi"},"context":{"id":"wamid.0"}}`,
		"image":           `{"id":"wamid.I","type":"image","image":{"id":"m1","mime_type":"image/jpeg","sha256":"x","caption":"c"}}`,
		"contacts":        `{"id":"wamid.C","type":"contacts","contacts":[{"name":{"formatted_name":"Ann"}}]}`,
		"request_welcome": `{"id":"wamid.W","type":"request_welcome"}`,
		"unknown":         `{"id":"wamid.U","type":"unknown","errors":[{"code":131051}]}`,
	}
	typeObject := map[string]string{
		"text": `{"body":"hi"}`, "image": `{"id":"m1","mime_type":"image/jpeg","sha256":"x","caption":"c"}`,
		"contacts": `[{"name":{"formatted_name":"Ann"}}]`, "request_welcome": `{}`, "unknown": `{}`,
	}
	// Rows as they were before 0009: the whole message in content.
	_, err := pool.Exec(ctx, sqlOf("0009_message_raw.down.sql"))
	require.NoError(t, err)
	for typ, raw := range whole {
		_, err := pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, wamid, created_at)
			VALUES ($1, $2, $3, '1065', 'inbound', $4, $5, 'received', $6, now())`, ws.ID, domain.NewID(), domain.NewID(), typ, raw, "wamid."+typ)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, created_at)
		VALUES ($1, $2, $3, '1065', 'outbound', 'text', '{"body":"yo"}', 'queued', now())`, ws.ID, domain.NewID(), domain.NewID())
	require.NoError(t, err)

	_, err = pool.Exec(ctx, sqlOf("0009_message_raw.up.sql"))
	require.NoError(t, err)
	read := func(dir string) map[string][2]*string {
		rows, err := pool.Query(ctx, `SELECT type, content::text, raw::text FROM messages WHERE direction = $1`, dir)
		require.NoError(t, err)
		out := map[string][2]*string{}
		for rows.Next() {
			var typ string
			var content, raw *string
			require.NoError(t, rows.Scan(&typ, &content, &raw))
			out[typ] = [2]*string{content, raw}
		}
		require.NoError(t, rows.Err())
		return out
	}
	in := read("inbound")
	require.Len(t, in, len(whole))
	for typ, raw := range whole {
		require.JSONEq(t, typeObject[typ], *in[typ][0], typ)
		require.JSONEq(t, raw, *in[typ][1], typ)
	}
	out := read("outbound")
	require.JSONEq(t, `{"body":"yo"}`, *out["text"][0])
	require.Nil(t, out["text"][1], "outbound messages have no raw")

	_, err = pool.Exec(ctx, sqlOf("0009_message_raw.down.sql"))
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT type, content::text FROM messages WHERE direction = 'inbound'`)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var typ, content string
		require.NoError(t, rows.Scan(&typ, &content))
		require.JSONEq(t, whole[typ], content, typ)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(whole), n)
}
