package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/audit/audittest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type testBundle struct {
	svc   *audit.Service
	store *audittest.Memory
	ws    domain.ID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	store := audittest.NewMemory()
	return &testBundle{svc: audit.NewService(store, policy), store: store, ws: domain.NewID()}
}

func (b *testBundle) caller(r access.Role) domain.Caller {
	return domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: b.ws, Role: r}
}

// add stores n entries of ws, one a minute starting at start.
func (b *testBundle) add(ws domain.ID, n int, action string, start time.Time) []domain.AuditEntry {
	var out []domain.AuditEntry
	for i := range n {
		c := domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws}
		out = append(out, domain.NewAuditEntry(c, action, "contact", domain.NewID().String(), nil, start.Add(time.Duration(i)*time.Minute)))
		if err := b.store.Record(context.Background(), out[i]); err != nil {
			panic(err)
		}
	}
	return out
}

// addExpired stores n entries that expired a day ago, every third outside any workspace.
func (b *testBundle) addExpired(n int) {
	created := time.Now().Add(-domain.AuditRetention - 24*time.Hour)
	for i := range n {
		ws := b.ws
		if i%3 == 0 {
			ws = domain.NilID
		}
		if err := b.store.Record(context.Background(), domain.NewAuditEntry(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws},
			"contact.created", "contact", "", nil, created)); err != nil {
			panic(err)
		}
	}
}

func idsOf(es []domain.AuditEntry) []domain.ID {
	out := []domain.ID{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func lastList(b *testBundle) audittest.ListCall {
	lists := b.store.Lists()
	return lists[len(lists)-1]
}

func requireKind(t *testing.T, want domain.Kind, err error) {
	t.Helper()
	require.Equal(t, want, domain.KindOf(err), "got %v", err)
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("PagesWithLimitPlusOneAndCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(b.ws, 5, "contact.created", start)
		b.add(domain.NewID(), 3, "contact.created", start) // another workspace's

		var seen []domain.ID
		f := audit.Filter{Limit: 2}
		for page := 1; ; page++ {
			p, err := b.svc.List(ctx, b.caller(access.Manager), f)
			require.NoError(t, err)
			call := lastList(b)
			require.Equal(t, 3, call.Limit, "asks for one more than the page to detect a next page")
			require.Equal(t, b.ws, call.WS)
			require.Equal(t, f.Cursor, call.Filter.Cursor)
			for _, e := range p.Items {
				require.Equal(t, b.ws, e.WorkspaceID)
				seen = append(seen, e.ID)
			}
			if page < 3 {
				require.Len(t, p.Items, 2)
				require.NotNil(t, p.NextCursor)
				require.Equal(t, p.Items[1].ID, *p.NextCursor, "the cursor is the last entry shown")
				f.Cursor = *p.NextCursor
				continue
			}
			require.Len(t, p.Items, 1)
			require.Nil(t, p.NextCursor)
			break
		}
		require.Len(t, seen, 5)
		for i := 1; i < len(seen); i++ {
			require.Greater(t, seen[i-1].String(), seen[i].String(), "newest first, without repeats")
		}
	})

	t.Run("FullLastPageHasNoCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(b.ws, 4, "x.y", start)

		p, err := b.svc.List(ctx, b.caller(access.Owner), audit.Filter{Limit: 4})
		require.NoError(t, err)
		require.Len(t, p.Items, 4)
		require.Nil(t, p.NextCursor)

		_, err = b.svc.List(ctx, b.caller(access.Owner), audit.Filter{})
		require.NoError(t, err)
		require.Equal(t, 51, lastList(b).Limit, "default page of 50")
	})

	t.Run("FiltersReachTheStore", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(b.ws, 3, "contact.created", start)
		b.add(b.ws, 2, "contact.deleted", start)

		f := audit.Filter{Action: "contact.deleted", ResourceType: "contact", From: start, To: start.Add(time.Hour)}
		p, err := b.svc.List(ctx, b.caller(access.Owner), f)
		require.NoError(t, err)
		require.Len(t, p.Items, 2)
		got := b.store.Lists()[0].Filter
		require.Equal(t, f.Action, got.Action)
		require.Equal(t, f.ResourceType, got.ResourceType)
		require.Equal(t, f.From, got.From)
		require.Equal(t, f.To, got.To)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.caller(access.Owner)

		_, err := b.svc.List(ctx, c, audit.Filter{From: start, To: start.Add(-time.Second)})
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindValidation, de.Kind)
		require.Equal(t, "to", de.Fields[0].Field)

		for _, f := range []audit.Filter{
			{From: start, To: start},           // an instant
			{From: start},                      // open ended
			{To: start},                        // open started
			{Action: strings.Repeat("a", 100)}, // at the bound
		} {
			_, err := b.svc.List(ctx, c, f)
			require.NoError(t, err)
		}

		_, err = b.svc.List(ctx, c, audit.Filter{
			Action: strings.Repeat("a", 101), ResourceType: strings.Repeat("r", 101),
			ResourceID: strings.Repeat("i", 201), ActorID: strings.Repeat("x", 201),
		})
		require.ErrorAs(t, err, &de)
		require.Len(t, de.Fields, 4)
		require.Len(t, b.store.Lists(), 4, "invalid filters never reach the store")
	})

	t.Run("Permission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, r := range []access.Role{access.Agent, access.Viewer, ""} {
			_, err := b.svc.List(ctx, b.caller(r), audit.Filter{})
			requireKind(t, domain.KindForbidden, err)
			err = b.svc.Export(ctx, b.caller(r), audit.Filter{}, func(domain.AuditEntry) error { return nil })
			requireKind(t, domain.KindForbidden, err)
		}
		require.Empty(t, b.store.Lists())
		require.Zero(t, b.store.Eaches())
	})
}

func TestExport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("StreamsEveryMatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(b.ws, 120, "contact.created", start)

		n := 0
		err := b.svc.Export(ctx, b.caller(access.Manager), audit.Filter{Limit: 10}, func(domain.AuditEntry) error { n++; return nil })
		require.NoError(t, err)
		require.Equal(t, 120, n, "an export is not paged")
	})

	t.Run("StopsOnCallbackError", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.add(b.ws, 10, "contact.created", start)
		stop := errors.New("client went away")

		n := 0
		err := b.svc.Export(ctx, b.caller(access.Owner), audit.Filter{}, func(domain.AuditEntry) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 3, n)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.svc.Export(ctx, b.caller(access.Owner), audit.Filter{From: start, To: start.Add(-time.Hour)}, nil)
		requireKind(t, domain.KindValidation, err)
		require.Zero(t, b.store.Eaches())
	})
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LoopsUntilAShortBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.addExpired(2*audit.PurgeBatch + 1234)
		fresh := b.add(b.ws, 3, "contact.created", time.Now())

		before := time.Now()
		n, err := b.svc.Purge(ctx)
		require.NoError(t, err)
		require.Equal(t, 2*audit.PurgeBatch+1234, n)
		deletes := b.store.Deletes()
		require.Len(t, deletes, 3)
		for _, d := range deletes {
			require.Equal(t, audit.PurgeBatch, d.Batch)
			require.Equal(t, deletes[0].Now, d.Now, "one cut-off for the whole purge")
		}
		require.False(t, deletes[0].Now.Before(before))
		require.ElementsMatch(t, idsOf(fresh), idsOf(b.store.Entries()), "only the unexpired entries are left")
	})

	t.Run("ExactMultipleEndsOnAnEmptyBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.addExpired(audit.PurgeBatch)

		n, err := b.svc.Purge(ctx)
		require.NoError(t, err)
		require.Equal(t, audit.PurgeBatch, n)
		require.Len(t, b.store.Deletes(), 2)
		require.Empty(t, b.store.Entries())
	})

	t.Run("NothingToDo", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fresh := b.add(b.ws, 2, "contact.created", time.Now().Add(-time.Hour))

		n, err := b.svc.Purge(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Len(t, b.store.Deletes(), 1)
		require.ElementsMatch(t, idsOf(fresh), idsOf(b.store.Entries()))
	})

	t.Run("ErrorStopsAndReportsWhatWasDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.addExpired(2 * audit.PurgeBatch)
		boom := errors.New("lock timeout")
		b.store.FailDeletes(1, boom)

		n, err := b.svc.Purge(ctx)
		require.ErrorIs(t, err, boom)
		require.Equal(t, audit.PurgeBatch, n)
		require.Len(t, b.store.Deletes(), 2)
		require.Len(t, b.store.Entries(), audit.PurgeBatch, "the second batch is still there")
	})
}
