package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type testBundle struct {
	svc   *audit.Service
	store *fakeStore
	ws    domain.ID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	store := &fakeStore{}
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
	}
	b.store.entries = append(b.store.entries, out...)
	return out
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
			call := b.store.lists[len(b.store.lists)-1]
			require.Equal(t, 3, call.limit, "asks for one more than the page to detect a next page")
			require.Equal(t, b.ws, call.ws)
			require.Equal(t, f.Cursor, call.f.Cursor)
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
		require.Equal(t, 51, b.store.lists[len(b.store.lists)-1].limit, "default page of 50")
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
		got := b.store.lists[0].f
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
		require.Len(t, b.store.lists, 4, "invalid filters never reach the store")
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
		require.Empty(t, b.store.lists)
		require.Zero(t, b.store.eaches)
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
		require.Zero(t, b.store.eaches)
	})
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LoopsUntilAShortBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.store.deleted = []int{audit.PurgeBatch, audit.PurgeBatch, 1234}

		before := time.Now()
		n, err := b.svc.Purge(ctx)
		require.NoError(t, err)
		require.Equal(t, 2*audit.PurgeBatch+1234, n)
		require.Len(t, b.store.deletes, 3)
		for _, d := range b.store.deletes {
			require.Equal(t, audit.PurgeBatch, d.batch)
			require.Equal(t, b.store.deletes[0].now, d.now, "one cut-off for the whole purge")
		}
		require.False(t, b.store.deletes[0].now.Before(before))
	})

	t.Run("ExactMultipleEndsOnAnEmptyBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.store.deleted = []int{audit.PurgeBatch, 0}

		n, err := b.svc.Purge(ctx)
		require.NoError(t, err)
		require.Equal(t, audit.PurgeBatch, n)
		require.Len(t, b.store.deletes, 2)
	})

	t.Run("NothingToDo", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.store.deleted = []int{0}

		n, err := b.svc.Purge(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Len(t, b.store.deletes, 1)
	})

	t.Run("ErrorStopsAndReportsWhatWasDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("lock timeout")
		b.store.deleted = []int{audit.PurgeBatch}
		b.store.deleteErr = boom

		n, err := b.svc.Purge(ctx)
		require.ErrorIs(t, err, boom)
		require.Equal(t, audit.PurgeBatch, n)
		require.Len(t, b.store.deletes, 2)
	})
}
