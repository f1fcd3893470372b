package postgres_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/audit/audittest"
	"github.com/wabaplatform/waba/domain"
)

func TestAuditRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		pool *pgxpool.Pool
		repo *postgres.AuditRepo
		ws   domain.ID
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		pool := pgtest.NewPool(t)
		return &testBundle{pool: pool, repo: postgres.NewAuditRepo(pool), ws: domain.NewID()}
	}
	record := func(t *testing.T, b *testBundle, es ...domain.AuditEntry) {
		t.Helper()
		for _, e := range es {
			require.NoError(t, b.repo.Record(ctx, e))
		}
	}
	t.Run("ClientBytesTextCannotHold", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := domain.Caller{Type: domain.ActorUser, WorkspaceID: b.ws,
			Meta: domain.RequestMeta{IP: "203.0.113.5", UserAgent: "bot\x00/\xff1", RequestID: "r\x00q"}}
		record(t, b, domain.NewAuditEntry(c, "auth.login_failed", "user", "", map[string]any{"email": "a\x00@example.com"}, now()))
		list, err := b.repo.List(ctx, b.ws, audit.Filter{}, 10)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "bot\uFFFD/\uFFFD1", list[0].UserAgent)
		require.Equal(t, "r\uFFFDq", list[0].RequestID)
		require.Equal(t, "a\uFFFD@example.com", list[0].Details["email"])
	})

	t.Run("EntryOutsideAnyWorkspace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		failed := domain.NewAuditEntry(domain.Caller{Type: domain.ActorUser}, "auth.login_failed", "user", "",
			map[string]any{"email": "x@example.com"}, now())
		record(t, b, failed)

		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE workspace_id IS NULL AND actor_id = ''`).Scan(&n))
		require.Equal(t, 1, n, "stored with a NULL workspace") // and listed under none: the contract
	})

	t.Run("EachStreamsWithoutHoldingRows", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const rows = 100_000
		start := time.Now()
		// About 1 KiB per row once decoded: holding them all would take over 100 MB. Ids
		// ascend with g, as UUIDv7s do, which keeps the index inserts cheap.
		_, err := b.pool.Exec(ctx, `
			INSERT INTO audit_logs (id, workspace_id, actor_type, actor_id, action, resource_type, resource_id,
				details, ip, user_agent, request_id, created_at, expires_at)
			SELECT (lpad(to_hex(g), 12, '0') || substr(md5(g::text), 1, 20))::uuid, $1, 'user', 'actor', 'contact.created', 'contact', g::text,
				jsonb_build_object('n', g), '203.0.113.1', repeat('u', 768), 'req-' || g, now(), now() + interval '90 days'
			FROM generate_series(1, $2::int) g`, b.ws, rows)
		require.NoError(t, err)

		liveHeap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		t.Logf("inserted %d rows in %v", rows, time.Since(start))
		start = time.Now()
		before := liveHeap()
		var peak uint64
		n := 0
		err = b.repo.Each(ctx, b.ws, audit.Filter{}, func(e domain.AuditEntry) error {
			n++
			if n%25_000 == 0 { // sample the live heap in the middle of the stream
				peak = max(peak, liveHeap())
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, rows, n)
		const slack = 50 << 20
		growth := int64(peak) - int64(before)
		require.Less(t, growth, int64(slack), "live heap grew by %d MB while streaming %d rows", growth>>20, rows)
		t.Logf("streamed %d rows in %v; live heap %+d KB", n, time.Since(start), growth>>10)
	})
}

func TestAuditRepoContract(t *testing.T) {
	t.Parallel()
	audittest.RunStoreContract(t, func(t *testing.T) audittest.Subject {
		repo := postgres.NewAuditRepo(pgtest.NewPool(t))
		return audittest.Subject{Store: repo, Record: func(t *testing.T, e domain.AuditEntry) {
			t.Helper()
			require.NoError(t, repo.Record(context.Background(), e))
		}}
	})
}
