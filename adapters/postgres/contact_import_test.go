package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/domain"
)

// TestContactImport covers what the Postgres import does beyond contactstest's contract:
// exact counts over a list larger than any batch, the marketing stop of the suppression
// list, and imports running at once.
func TestContactImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	phoneOf := func(i int) string { return fmt.Sprintf("+1416%07d", i) }

	t.Run("ALongListWithDuplicatesAndSuppressions", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		ws, other := createWorkspace(t, wr, "Acme").ID, createWorkspace(t, wr, "Other").ID
		repo := postgres.NewContactRepo(pool)
		// 1,000 contacts the list names again, and one of another workspace.
		_, err := pool.Exec(ctx, `INSERT INTO contacts (workspace_id, id, phone, wa_id, name, created_at, updated_at)
			SELECT $1, gen_random_uuid(), '+1416' || lpad(g::text, 7, '0'), '1416' || lpad(g::text, 7, '0'), 'before', now(), now()
			FROM generate_series(0, 999) g`, ws)
		require.NoError(t, err)
		elsewhere, err := repo.Create(ctx, domain.Contact{ID: domain.NewID(), WorkspaceID: other, Phone: phoneOf(0), WaID: phoneOf(0)[1:],
			Name: "elsewhere", Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now(), UpdatedAt: now()})
		require.NoError(t, err)
		// A number that stopped everything and marketing, then was deleted.
		stopped := phoneOf(5_000_000)
		gone, err := repo.Create(ctx, domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: stopped, WaID: stopped[1:],
			Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now(), UpdatedAt: now()})
		require.NoError(t, err)
		_, err = repo.SetOptOut(ctx, ws, gone.ID, true, domain.OptOutKeyword, now())
		require.NoError(t, err)
		_, err = postgres.NewInboundRepo(pool).SetMarketingOptOut(ctx, ws, gone.ID, true)
		require.NoError(t, err)
		require.NoError(t, repo.Delete(ctx, ws, gone.ID))

		// 20,000 rows: every tenth repeats the phone of the row five before it (so phones
		// ending in 9 are not in the list: 900 of the 1,000 are).
		var rows []contacts.ImportRow
		for i := range 20_000 {
			p := phoneOf(i)
			if i%10 == 9 {
				p = phoneOf(i - 5)
			}
			rows = append(rows, contacts.ImportRow{Line: i + 2, Phone: p, Name: fmt.Sprintf("row %d", i)})
		}
		rows = append(rows, contacts.ImportRow{Line: 20_002, Phone: stopped, Name: "back"})
		n, err := repo.Import(ctx, ws, contactstest.RowsOf(rows...), now())
		require.NoError(t, err)
		require.Equal(t, contacts.ImportCounts{Created: 17_101, Updated: 900, Duplicates: 2_000}, n)

		var count int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, ws).Scan(&count))
		require.Equal(t, 18_101, count)
		byPhone := func(ws domain.ID, phone string) domain.Contact {
			got, err := repo.List(ctx, ws, contacts.Filter{Phone: phone}, contacts.View{}, 2)
			require.NoError(t, err)
			require.Len(t, got, 1)
			return got[0]
		}
		require.Equal(t, "row 9", byPhone(ws, phoneOf(4)).Name, "the last row of a phone wins")
		require.Equal(t, "row 998", byPhone(ws, phoneOf(998)).Name)
		require.Equal(t, "before", byPhone(ws, phoneOf(999)).Name)
		back := byPhone(ws, stopped)
		require.True(t, back.OptedOut)
		require.Equal(t, domain.OptOutKeyword, back.OptOutSource)
		require.True(t, back.MarketingOptedOut)
		require.Equal(t, utcContact(elsewhere), utcContact(byPhone(other, phoneOf(0))), "another workspace is untouched")
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = 'contact_import'`).Scan(&count))
		require.Zero(t, count, "the staging table is gone")
	})

	// Rows are written in phone order, so imports of overlapping lists wait for each other
	// instead of deadlocking, and between them create each contact once.
	t.Run("ImportsAtOnce", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme").ID
		var rows []contacts.ImportRow
		for i := range 3_000 {
			rows = append(rows, contacts.ImportRow{Line: i + 2, Phone: phoneOf(i), Name: "n"})
		}
		reversed := slices.Clone(rows)
		slices.Reverse(reversed)
		var wg sync.WaitGroup
		results := make([]contacts.ImportCounts, 4)
		errs := make([]error, 4)
		for i := range 4 {
			list := rows
			if i%2 == 1 {
				list = reversed
			}
			wg.Go(func() {
				results[i], errs[i] = postgres.NewContactRepo(pool).Import(ctx, ws, contactstest.RowsOf(list...), now())
			})
		}
		wg.Wait()
		created := 0
		for i := range 4 {
			require.NoError(t, errs[i])
			require.Equal(t, 3_000, results[i].Created+results[i].Unchanged)
			created += results[i].Created
		}
		require.Equal(t, 3_000, created)
	})
}
