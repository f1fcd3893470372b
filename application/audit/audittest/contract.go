package audittest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/domain"
)

// Subject is an audit store under the contract, with a way to record entries into it (the
// port only reads and purges).
type Subject struct {
	Store audit.Store
	// Record stores e, as the use cases' audit writers do.
	Record func(t *testing.T, e domain.AuditEntry)
}

// NewSubject returns the Memory store as a contract subject.
func NewSubject(db *Memory) Subject {
	return Subject{Store: db, Record: func(t *testing.T, e domain.AuditEntry) {
		t.Helper()
		require.NoError(t, db.Record(context.Background(), e))
	}}
}

// RunStoreContract holds an audit.Store to what the port promises. newSubject returns a
// fresh, empty store for each sub-test.
func RunStoreContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// entries builds len(ats) entries of ws, the i-th created at ats[i], with ids ascending
	// in that order (ids order the lists).
	entries := func(ws domain.ID, ats ...time.Time) []domain.AuditEntry {
		ids := make([]domain.ID, len(ats))
		for i := range ids {
			ids[i] = domain.NewID()
		}
		slices.SortFunc(ids, func(a, b domain.ID) int { return bytes.Compare(a[:], b[:]) })
		out := make([]domain.AuditEntry, len(ats))
		for i, ts := range ats {
			out[i] = domain.NewAuditEntry(domain.Caller{Type: domain.ActorUser, WorkspaceID: ws}, "a.b", "r", "", nil, ts)
			out[i].ID = ids[i]
		}
		return out
	}
	ids := func(es []domain.AuditEntry) []domain.ID {
		out := []domain.ID{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	list := func(t *testing.T, s audit.Store, ws domain.ID, f audit.Filter, limit int) []domain.AuditEntry {
		t.Helper()
		got, err := s.List(ctx, ws, f, limit)
		require.NoError(t, err)
		return got
	}
	each := func(t *testing.T, s audit.Store, ws domain.ID, f audit.Filter) []domain.AuditEntry {
		t.Helper()
		var got []domain.AuditEntry
		require.NoError(t, s.Each(ctx, ws, f, func(e domain.AuditEntry) error { got = append(got, e); return nil }))
		return got
	}

	t.Run("EntriesReadBackAsRecorded", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := domain.NewID()
		c := domain.Caller{Type: domain.ActorAPIKey, ID: domain.NewID(), WorkspaceID: ws,
			Meta: domain.RequestMeta{IP: "203.0.113.5", UserAgent: "curl/8", RequestID: "req-9"}}
		es := entries(ws, at(0), at(1))
		full := domain.NewAuditEntry(c, "contact.updated", "contact", "c-1", map[string]any{"fields": []any{"name", "tags"}, "n": 3.0}, at(0))
		full.ID = es[0].ID
		bare := es[1] // nil details
		sub.Record(t, full)
		sub.Record(t, bare)

		want := bare
		want.Details = map[string]any{}
		for name, got := range map[string][]domain.AuditEntry{"List": list(t, sub.Store, ws, audit.Filter{}, 10), "Each": each(t, sub.Store, ws, audit.Filter{})} {
			require.Len(t, got, 2, name)
			require.Equal(t, UTC(want), UTC(got[0]), "%s: no details read back as an empty object", name)
			require.Equal(t, UTC(full), UTC(got[1]), name)
		}
	})

	t.Run("ListAndEachFilterNewestFirst", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := domain.NewID()
		es := entries(ws, at(0), at(1), at(2), at(3), at(4))
		set := func(i int, action, actor, resType, resID string) domain.AuditEntry {
			es[i].Action, es[i].ActorID, es[i].ResourceType, es[i].ResourceID = action, actor, resType, resID
			return es[i]
		}
		e1 := set(0, "contact.created", "ann", "contact", "c1")
		e2 := set(1, "contact.updated", "ann", "contact", "c1")
		e3 := set(2, "contact.created", "bob", "contact", "c2")
		e4 := set(3, "member.added", "bob", "member", "c1")
		e5 := set(4, "contact.deleted", "ann", "contact", "c2")
		other := entries(domain.NewID(), at(2))[0]
		other.Action, other.ActorID, other.ResourceType, other.ResourceID = "contact.created", "ann", "contact", "c1"
		for _, e := range []domain.AuditEntry{e3, e1, other, e5, e2, e4} { // insertion order does not matter
			sub.Record(t, e)
		}

		for name, tc := range map[string]struct {
			f    audit.Filter
			want []domain.AuditEntry
		}{
			"NewestFirst":               {audit.Filter{}, []domain.AuditEntry{e5, e4, e3, e2, e1}},
			"Action":                    {audit.Filter{Action: "contact.created"}, []domain.AuditEntry{e3, e1}},
			"ActorID":                   {audit.Filter{ActorID: "bob"}, []domain.AuditEntry{e4, e3}},
			"ResourceType":              {audit.Filter{ResourceType: "member"}, []domain.AuditEntry{e4}},
			"ResourceID":                {audit.Filter{ResourceID: "c1"}, []domain.AuditEntry{e4, e2, e1}},
			"Resource":                  {audit.Filter{ResourceType: "contact", ResourceID: "c1"}, []domain.AuditEntry{e2, e1}},
			"FromInclusive":             {audit.Filter{From: at(3)}, []domain.AuditEntry{e5, e4}},
			"ToInclusive":               {audit.Filter{To: at(1)}, []domain.AuditEntry{e2, e1}},
			"FromTo":                    {audit.Filter{From: at(1), To: at(3)}, []domain.AuditEntry{e4, e3, e2}},
			"Cursor":                    {audit.Filter{Cursor: e3.ID}, []domain.AuditEntry{e2, e1}},
			"CursorAndActor":            {audit.Filter{Cursor: e4.ID, ActorID: "ann"}, []domain.AuditEntry{e2, e1}},
			"NothingMatches":            {audit.Filter{Action: "contact.created", ActorID: "carol"}, nil},
			"FilterLimitIsNotTheStores": {audit.Filter{Limit: 1}, []domain.AuditEntry{e5, e4, e3, e2, e1}},
		} {
			require.Equal(t, ids(tc.want), ids(list(t, sub.Store, ws, tc.f, 100)), name)
			require.Equal(t, ids(tc.want), ids(each(t, sub.Store, ws, tc.f)), "Each filters like List: %s", name)
		}
		require.Equal(t, ids([]domain.AuditEntry{e5, e4}), ids(list(t, sub.Store, ws, audit.Filter{}, 2)), "limit keeps the newest")
		require.Equal(t, ids([]domain.AuditEntry{other}), ids(list(t, sub.Store, other.WorkspaceID, audit.Filter{}, 100)), "in its workspace only")
		require.Empty(t, list(t, sub.Store, domain.NewID(), audit.Filter{}, 100), "an unknown workspace")
	})

	t.Run("AnEntryOutsideAnyWorkspaceIsListedUnderNone", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		failed := domain.NewAuditEntry(domain.Caller{Type: domain.ActorUser}, "auth.login_failed", "user", "",
			map[string]any{"email": "x@example.com"}, at(0))
		sub.Record(t, failed)
		require.Empty(t, list(t, sub.Store, domain.NilID, audit.Filter{}, 10))
		require.Empty(t, each(t, sub.Store, domain.NilID, audit.Filter{}))
	})

	t.Run("EachStopsOnCallbackError", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := domain.NewID()
		for _, e := range entries(ws, at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9)) {
			sub.Record(t, e)
		}
		stop := errors.New("stop")
		n := 0
		err := sub.Store.Each(ctx, ws, audit.Filter{}, func(domain.AuditEntry) error {
			n++
			if n == 4 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 4, n)
		require.Len(t, list(t, sub.Store, ws, audit.Filter{}, 100), 10, "the store is usable after")
	})

	t.Run("DeleteExpiredInBatches", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := domain.NewID()
		cut := t0.Add(domain.AuditRetention)
		var keep []domain.ID                                                        // the kept entries of ws
		for i, e := range entries(ws, slices.Repeat([]time.Time{at(-60)}, 11)...) { // 7 expired, 4 kept
			if i%3 == 0 {
				e.WorkspaceID = domain.NilID // workspace-less entries expire too
			}
			switch {
			case i == 7:
				e.ExpiresAt = cut // expiring exactly at the cut-off is kept until later
			case i > 7:
				e.ExpiresAt = cut.Add(time.Duration(i) * time.Second)
			}
			if i >= 7 && !e.WorkspaceID.IsZero() {
				keep = append(keep, e.ID)
			}
			sub.Record(t, e)
		}
		var got []int
		for {
			n, err := sub.Store.DeleteExpired(ctx, cut, 3)
			require.NoError(t, err)
			got = append(got, n)
			if n < 3 || len(got) > 10 {
				break
			}
		}
		require.Equal(t, []int{3, 3, 1}, got)
		require.ElementsMatch(t, keep, ids(list(t, sub.Store, ws, audit.Filter{}, 100)), "the unexpired entries stay")
		n, err := sub.Store.DeleteExpired(ctx, cut.Add(time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, 4, n, "until they expire too, the workspace-less one with them")
		require.Empty(t, list(t, sub.Store, ws, audit.Filter{}, 100))
	})
}

// UTC puts the times of e in UTC, so entries read back from any store compare equal.
func UTC(e domain.AuditEntry) domain.AuditEntry {
	e.CreatedAt, e.ExpiresAt = e.CreatedAt.UTC(), e.ExpiresAt.UTC()
	return e
}
