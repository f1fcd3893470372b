package postgres_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/audit"
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
	// entry builds an entry of ws created at at, with an id in time order.
	entry := func(ws domain.ID, action, actor, resType, resID string, at time.Time) domain.AuditEntry {
		e := domain.NewAuditEntry(domain.Caller{Type: domain.ActorUser, WorkspaceID: ws}, action, resType, resID, nil, at)
		e.ID, e.ActorID = idAt(at), actor
		return e
	}
	record := func(t *testing.T, b *testBundle, es ...domain.AuditEntry) {
		t.Helper()
		for _, e := range es {
			require.NoError(t, b.repo.Record(ctx, e))
		}
	}
	ids := func(es []domain.AuditEntry) []domain.ID {
		out := make([]domain.ID, len(es))
		for i, e := range es {
			out[i] = e.ID
		}
		return out
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := domain.Caller{Type: domain.ActorAPIKey, ID: domain.NewID(), WorkspaceID: b.ws,
			Meta: domain.RequestMeta{IP: "203.0.113.5", UserAgent: "curl/8", RequestID: "req-9"}}
		e := domain.NewAuditEntry(c, "contact.updated", "contact", "c-1",
			map[string]any{"fields": []any{"name", "tags"}, "n": 3.0}, now())
		e.CreatedAt, e.ExpiresAt = e.CreatedAt.Truncate(time.Microsecond), e.ExpiresAt.Truncate(time.Microsecond)
		record(t, b, e)

		list, err := b.repo.List(ctx, b.ws, audit.Filter{}, 10)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, utcEntry(e), utcEntry(list[0]))

		// Nil details are stored as an empty object.
		e2 := entry(b.ws, "x.y", "", "x", "", now().Add(time.Second))
		record(t, b, e2)
		list, err = b.repo.List(ctx, b.ws, audit.Filter{Action: "x.y"}, 10)
		require.NoError(t, err)
		require.Equal(t, map[string]any{}, list[0].Details)
	})

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
		require.Equal(t, 1, n, "stored with a NULL workspace")
		list, err := b.repo.List(ctx, domain.NilID, audit.Filter{}, 10)
		require.NoError(t, err)
		require.Empty(t, list, "and listed under no workspace")
	})

	t.Run("ListFiltersAndOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
		at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		e1 := entry(b.ws, "contact.created", "ann", "contact", "c1", at(0))
		e2 := entry(b.ws, "contact.updated", "ann", "contact", "c1", at(1))
		e3 := entry(b.ws, "contact.created", "bob", "contact", "c2", at(2))
		e4 := entry(b.ws, "member.added", "bob", "member", "c1", at(3))
		e5 := entry(b.ws, "contact.deleted", "ann", "contact", "c2", at(4))
		other := entry(domain.NewID(), "contact.created", "ann", "contact", "c1", at(2))
		record(t, b, e3, e1, other, e5, e2, e4) // insertion order does not matter

		for name, tc := range map[string]struct {
			f    audit.Filter
			want []domain.AuditEntry
		}{
			"NewestFirst":      {audit.Filter{}, []domain.AuditEntry{e5, e4, e3, e2, e1}},
			"Action":           {audit.Filter{Action: "contact.created"}, []domain.AuditEntry{e3, e1}},
			"ActorID":          {audit.Filter{ActorID: "bob"}, []domain.AuditEntry{e4, e3}},
			"ResourceType":     {audit.Filter{ResourceType: "member"}, []domain.AuditEntry{e4}},
			"ResourceID":       {audit.Filter{ResourceID: "c1"}, []domain.AuditEntry{e4, e2, e1}},
			"Resource":         {audit.Filter{ResourceType: "contact", ResourceID: "c1"}, []domain.AuditEntry{e2, e1}},
			"FromInclusive":    {audit.Filter{From: at(3)}, []domain.AuditEntry{e5, e4}},
			"ToInclusive":      {audit.Filter{To: at(1)}, []domain.AuditEntry{e2, e1}},
			"FromTo":           {audit.Filter{From: at(1), To: at(3)}, []domain.AuditEntry{e4, e3, e2}},
			"Cursor":           {audit.Filter{Cursor: e3.ID}, []domain.AuditEntry{e2, e1}},
			"CursorAndActor":   {audit.Filter{Cursor: e4.ID, ActorID: "ann"}, []domain.AuditEntry{e2, e1}},
			"NothingMatches":   {audit.Filter{Action: "contact.created", ActorID: "carol"}, nil},
			"UnknownWorkspace": {audit.Filter{Action: "nope"}, nil},
		} {
			list, err := b.repo.List(ctx, b.ws, tc.f, 100)
			require.NoError(t, err, name)
			require.Equal(t, ids(tc.want), ids(list), name)

			var streamed []domain.AuditEntry
			require.NoError(t, b.repo.Each(ctx, b.ws, tc.f, func(e domain.AuditEntry) error {
				streamed = append(streamed, e)
				return nil
			}), name)
			require.Equal(t, ids(tc.want), ids(streamed), "Each filters like List: %s", name)
		}

		list, err := b.repo.List(ctx, b.ws, audit.Filter{}, 2)
		require.NoError(t, err)
		require.Equal(t, []domain.ID{e5.ID, e4.ID}, ids(list), "limit keeps the newest")
	})

	t.Run("EachStopsOnCallbackError", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 10 {
			record(t, b, entry(b.ws, "a.b", "", "r", "", now().Add(time.Duration(i)*time.Millisecond)))
		}
		stop := errors.New("stop")
		n := 0
		err := b.repo.Each(ctx, b.ws, audit.Filter{}, func(domain.AuditEntry) error {
			n++
			if n == 4 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 4, n)
		// The connection went back to the pool in a usable state.
		list, err := b.repo.List(ctx, b.ws, audit.Filter{}, 100)
		require.NoError(t, err)
		require.Len(t, list, 10)
	})

	t.Run("DeleteExpiredInBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cut := now()
		var keep []domain.ID
		for i := range 11 { // 7 expired, 4 kept
			ws := b.ws
			if i%3 == 0 {
				ws = domain.NilID // workspace-less entries expire too
			}
			e := entry(ws, "a.b", "", "r", "", cut.Add(-domain.AuditRetention-time.Hour))
			switch {
			case i == 7:
				e.ExpiresAt = cut // expiring exactly at the cut-off is kept until later
				keep = append(keep, e.ID)
			case i > 7:
				e.ExpiresAt = cut.Add(time.Duration(i) * time.Second)
				keep = append(keep, e.ID)
			}
			record(t, b, e)
		}

		var got []int
		for {
			n, err := b.repo.DeleteExpired(ctx, cut, 3)
			require.NoError(t, err)
			got = append(got, n)
			if n < 3 {
				break
			}
		}
		require.Equal(t, []int{3, 3, 1}, got)

		var left []domain.ID
		rows, err := b.pool.Query(ctx, `SELECT id FROM audit_logs`)
		require.NoError(t, err)
		for rows.Next() {
			var id domain.ID
			require.NoError(t, rows.Scan(&id))
			left = append(left, id)
		}
		require.NoError(t, rows.Err())
		require.ElementsMatch(t, keep, left)
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
