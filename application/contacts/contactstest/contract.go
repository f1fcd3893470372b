package contactstest

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// Subject is a contacts store under the contract, with its transaction runner and what the
// contract needs to set up around it.
type Subject struct {
	Tx    contacts.TxRunner
	Store contacts.Store
	// Workspace creates a workspace and returns its id.
	Workspace func(t *testing.T) domain.ID
	// Member creates a user who is a member of ws and returns their id.
	Member func(t *testing.T, ws domain.ID) domain.ID
}

// NewSubject returns the Memory store as a contract subject.
func NewSubject(db *Memory) Subject {
	return Subject{Tx: db, Store: db.Store(),
		Workspace: func(*testing.T) domain.ID { return domain.NewID() },
		Member: func(_ *testing.T, ws domain.ID) domain.ID {
			id := domain.NewID()
			db.AddMember(ws, id)
			return id
		}}
}

// RunStoreContract holds a contacts.Store and its TxRunner to what the ports promise.
// newSubject returns a fresh, empty store for each sub-test.
func RunStoreContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var seq atomic.Int64 // sub-tests run in parallel
	contact := func(ws domain.ID, phone string) domain.Contact {
		ts := at.Add(time.Duration(seq.Add(1)) * time.Second)
		return domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: phone, WaID: phone[1:], Tags: []string{},
			Attributes: map[string]any{}, CreatedAt: ts, UpdatedAt: ts}
	}
	create := func(t *testing.T, s contacts.Store, c domain.Contact) domain.Contact {
		t.Helper()
		got, err := s.Create(ctx, c)
		require.NoError(t, err)
		return got
	}
	get := func(t *testing.T, s contacts.Store, ws, id domain.ID) domain.Contact {
		t.Helper()
		got, err := s.Get(ctx, ws, id, contacts.View{}, false)
		require.NoError(t, err)
		return got
	}

	t.Run("CreateReturnsTheContactAsStored", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		agent := sub.Member(t, ws)
		c := contact(ws, "+14155550100")
		c.BSUID, c.Name, c.Tags, c.AssignedTo = "US.13491208655302741918", "Alice", []string{"vip", "lead"}, &agent
		c.Attributes = map[string]any{"city": "Pune", "orders": 3.0}
		window := at.Add(24 * time.Hour)
		c.LastInboundAt, c.ServiceWindowExpiresAt = &at, &window
		// The opt-outs come from the suppression list, not from c.
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut = true, &at, domain.OptOutAPI, true
		got := create(t, sub.Store, c)
		want := c
		want.OptedOut, want.OptedOutAt, want.OptOutSource, want.MarketingOptedOut = false, nil, "", false
		require.Equal(t, want, UTC(got))
		require.Equal(t, want, UTC(get(t, sub.Store, ws, c.ID)))
	})

	t.Run("CreateRefusesATakenPhoneOrBSUID", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		c := contact(ws, "+14155550100")
		c.BSUID = "US.1"
		create(t, sub.Store, c)
		_, err := sub.Store.Create(ctx, contact(ws, "+14155550100"))
		require.Equal(t, domain.KindContactExists, domain.KindOf(err), "a taken phone: %v", err)
		byBSUID := contact(ws, "+14155550101")
		byBSUID.BSUID = "US.1"
		_, err = sub.Store.Create(ctx, byBSUID)
		require.Equal(t, domain.KindContactExists, domain.KindOf(err), "a taken BSUID: %v", err)
		create(t, sub.Store, contact(other, "+14155550100")) // another workspace's phone is free

		// A contact known by its BSUID alone.
		only := contact(ws, "+14155550102")
		only.Phone, only.WaID, only.BSUID = "", "", "US.2"
		require.Equal(t, only, UTC(create(t, sub.Store, only)))
	})

	t.Run("GetIsScopedByWorkspaceAndView", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		agent, agent2 := sub.Member(t, ws), sub.Member(t, ws)
		mine := contact(ws, "+14155550100")
		mine.AssignedTo = &agent
		create(t, sub.Store, mine)
		unassigned := create(t, sub.Store, contact(ws, "+14155550101"))
		for _, forUpdate := range []bool{false, true} {
			got, err := sub.Store.Get(ctx, ws, mine.ID, contacts.View{AssignedTo: &agent}, forUpdate)
			require.NoError(t, err)
			require.Equal(t, mine.ID, got.ID)
			for name, call := range map[string]func() error{
				"another workspace": func() error { _, err := sub.Store.Get(ctx, other, mine.ID, contacts.View{}, forUpdate); return err },
				"an unknown id":     func() error { _, err := sub.Store.Get(ctx, ws, domain.NewID(), contacts.View{}, forUpdate); return err },
				"another's contact": func() error {
					_, err := sub.Store.Get(ctx, ws, mine.ID, contacts.View{AssignedTo: &agent2}, forUpdate)
					return err
				},
				"an unassigned one": func() error {
					_, err := sub.Store.Get(ctx, ws, unassigned.ID, contacts.View{AssignedTo: &agent}, forUpdate)
					return err
				},
			} {
				require.Equal(t, domain.KindNotFound, domain.KindOf(call()), name)
			}
		}
	})

	t.Run("GetAllIsScopedByWorkspaceAndView", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		agent := sub.Member(t, ws)
		mine := contact(ws, "+14155550100")
		mine.AssignedTo = &agent
		create(t, sub.Store, mine)
		unassigned := create(t, sub.Store, contact(ws, "+14155550101"))
		elsewhere := create(t, sub.Store, contact(other, "+14155550102"))
		ids := []domain.ID{mine.ID, unassigned.ID, elsewhere.ID, domain.NewID(), mine.ID}
		idsOf := func(cs []domain.Contact) []domain.ID {
			out := make([]domain.ID, len(cs))
			for i, c := range cs {
				out[i] = c.ID
			}
			return out
		}
		for _, forUpdate := range []bool{false, true} {
			got, err := sub.Store.GetAll(ctx, ws, ids, contacts.View{}, forUpdate)
			require.NoError(t, err)
			require.ElementsMatch(t, []domain.ID{mine.ID, unassigned.ID}, idsOf(got), "each once, of the workspace only")
			got, err = sub.Store.GetAll(ctx, ws, ids, contacts.View{AssignedTo: &agent}, forUpdate)
			require.NoError(t, err)
			require.Equal(t, []domain.ID{mine.ID}, idsOf(got))
			require.Equal(t, UTC(mine), UTC(got[0]))
		}
	})

	t.Run("UpdateAllWritesEachContact", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		a := create(t, sub.Store, contact(ws, "+14155550100"))
		b := create(t, sub.Store, contact(ws, "+14155550101"))
		a.Tags, a.UpdatedAt = []string{"vip"}, at.Add(time.Hour)
		b.Attributes, b.UpdatedAt = map[string]any{"k": 1.5}, at.Add(2*time.Hour)
		require.NoError(t, sub.Store.UpdateAll(ctx, []domain.Contact{a, b, contact(ws, "+14155550199")}))
		require.Equal(t, UTC(a), UTC(get(t, sub.Store, ws, a.ID)))
		require.Equal(t, UTC(b), UTC(get(t, sub.Store, ws, b.ID)))
		require.NoError(t, sub.Store.UpdateAll(ctx, nil), "nothing to write")
	})

	t.Run("ListFiltersNewestFirstInsideTheView", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		agent := sub.Member(t, ws)
		in := func(c domain.Contact, edit func(*domain.Contact)) domain.ID {
			edit(&c)
			return create(t, sub.Store, c).ID
		}
		alice := in(contact(ws, "+14155550100"), func(c *domain.Contact) { c.Name, c.Tags = "Alice Smith", []string{"vip"} })
		bob := in(contact(ws, "+14155550101"), func(c *domain.Contact) { c.Name, c.AssignedTo = "Bob", &agent })
		carol := in(contact(ws, "+14155550102"), func(c *domain.Contact) { c.Name, c.Tags, c.AssignedTo = "carol_50%", []string{"vip", "lead"}, &agent })
		dan := in(contact(ws, "+919800000001"), func(c *domain.Contact) { c.Name = "Dan" })
		_, err := sub.Store.SetOptOut(ctx, ws, dan, true, domain.OptOutKeyword, at)
		require.NoError(t, err)
		in(contact(other, "+14155550100"), func(c *domain.Contact) { c.Name, c.Tags = "Alice Other", []string{"vip"} })

		yes, no := true, false
		list := func(f contacts.Filter, view contacts.View, limit int) []domain.ID {
			t.Helper()
			got, err := sub.Store.List(ctx, ws, f, view, limit)
			require.NoError(t, err)
			ids := []domain.ID{}
			for _, c := range got {
				require.Equal(t, ws, c.WorkspaceID)
				ids = append(ids, c.ID)
			}
			return ids
		}
		require.Equal(t, []domain.ID{dan, carol, bob, alice}, list(contacts.Filter{}, contacts.View{}, 10), "newest first")
		require.Equal(t, []domain.ID{dan, carol}, list(contacts.Filter{}, contacts.View{}, 2), "limit")
		require.Equal(t, []domain.ID{bob, alice}, list(contacts.Filter{Cursor: carol}, contacts.View{}, 10), "ids below the cursor")
		require.Equal(t, []domain.ID{carol, bob}, list(contacts.Filter{}, contacts.View{AssignedTo: &agent}, 10), "the view")
		require.Equal(t, []domain.ID{carol, bob}, list(contacts.Filter{AssignedTo: &agent}, contacts.View{}, 10), "assigned to")
		require.Equal(t, []domain.ID{bob}, list(contacts.Filter{Phone: "+14155550101"}, contacts.View{}, 10), "phone")
		require.Equal(t, []domain.ID{carol, alice}, list(contacts.Filter{Tag: "vip"}, contacts.View{}, 10), "tag")
		require.Equal(t, []domain.ID{dan}, list(contacts.Filter{OptedOut: &yes}, contacts.View{}, 10), "opted out")
		require.Equal(t, []domain.ID{carol, bob, alice}, list(contacts.Filter{OptedOut: &no}, contacts.View{}, 10), "not opted out")
		require.Equal(t, []domain.ID{alice}, list(contacts.Filter{Query: "aLiCe"}, contacts.View{}, 10), "name, any case")
		require.Equal(t, []domain.ID{dan}, list(contacts.Filter{Query: "98000"}, contacts.View{}, 10), "part of the phone")
		require.Equal(t, []domain.ID{carol}, list(contacts.Filter{Query: "_50%"}, contacts.View{}, 10), "LIKE wildcards are literal")
		require.Empty(t, list(contacts.Filter{Query: "a%e"}, contacts.View{}, 10), "LIKE wildcards are literal")
		require.Equal(t, []domain.ID{carol}, list(contacts.Filter{Tag: "vip", Query: "carol"}, contacts.View{AssignedTo: &agent}, 10), "filters add up")
		require.Empty(t, list(contacts.Filter{Query: `\`}, contacts.View{}, 10), "a backslash is literal")
		require.Empty(t, list(contacts.Filter{Phone: "+14155550100"}, contacts.View{AssignedTo: &agent}, 10), "a filter cannot widen the view")
		require.Empty(t, list(contacts.Filter{Tag: "unknown"}, contacts.View{}, 10))
	})

	t.Run("UpdateWritesEveryMutableField", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		agent := sub.Member(t, ws)
		c := create(t, sub.Store, contact(ws, "+14155550100"))
		c.Name, c.Tags, c.Attributes, c.AssignedTo = "New", []string{"x"}, map[string]any{"k": "v"}, &agent
		window, later := at.Add(24*time.Hour), at.Add(time.Hour)
		c.LastInboundAt, c.ServiceWindowExpiresAt, c.UpdatedAt = &at, &window, later
		c.MarketingOptedOut = true
		require.NoError(t, sub.Store.Update(ctx, c))
		require.Equal(t, UTC(c), UTC(get(t, sub.Store, ws, c.ID)))
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.AssignedTo = true, &later, domain.OptOutAPI, nil
		require.NoError(t, sub.Store.Update(ctx, c))
		require.Equal(t, UTC(c), UTC(get(t, sub.Store, ws, c.ID)), "the opt-out fields and unassigning too")

		absent := contact(ws, "+14155550199")
		require.NoError(t, sub.Store.Update(ctx, absent), "an absent contact is no error")
		_, err := sub.Store.Get(ctx, ws, absent.ID, contacts.View{}, false)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "and Update does not create it")
	})

	t.Run("SetOptOutReturnsTheContact", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		c := create(t, sub.Store, contact(ws, "+14155550100"))
		got, err := sub.Store.SetOptOut(ctx, ws, c.ID, true, domain.OptOutKeyword, at)
		require.NoError(t, err)
		require.True(t, got.OptedOut)
		require.Equal(t, domain.OptOutKeyword, got.OptOutSource)
		require.NotNil(t, got.OptedOutAt)
		require.True(t, at.Equal(*got.OptedOutAt))
		require.Equal(t, UTC(got), UTC(get(t, sub.Store, ws, c.ID)))

		got, err = sub.Store.SetOptOut(ctx, ws, c.ID, false, domain.OptOutAPI, at.Add(time.Hour))
		require.NoError(t, err)
		require.False(t, got.OptedOut)
		require.Nil(t, got.OptedOutAt)
		require.Empty(t, got.OptOutSource)
		require.Equal(t, UTC(got), UTC(get(t, sub.Store, ws, c.ID)))

		_, err = sub.Store.SetOptOut(ctx, other, c.ID, true, domain.OptOutAPI, at)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "another workspace's contact: %v", err)
		require.False(t, get(t, sub.Store, ws, c.ID).OptedOut)
	})

	t.Run("AnOptOutOutlivesItsContact", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		c := contact(ws, "+14155550100")
		c.BSUID = "US.1"
		create(t, sub.Store, c)
		_, err := sub.Store.SetOptOut(ctx, ws, c.ID, true, domain.OptOutKeyword, at)
		require.NoError(t, err)
		require.NoError(t, sub.Store.Delete(ctx, ws, c.ID))
		_, err = sub.Store.Get(ctx, ws, c.ID, contacts.View{}, false)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "deleted: %v", err)

		again := create(t, sub.Store, contact(ws, "+14155550100"))
		require.True(t, again.OptedOut, "the phone's opt-out is kept")
		require.Equal(t, domain.OptOutKeyword, again.OptOutSource)
		require.True(t, at.Equal(*again.OptedOutAt))
		byBSUID := contact(ws, "+14155550101")
		byBSUID.BSUID = "US.1"
		require.True(t, create(t, sub.Store, byBSUID).OptedOut, "and the BSUID's")
		require.False(t, create(t, sub.Store, contact(other, "+14155550100")).OptedOut, "in its workspace only")

		// An opt-in lifts it from the suppression list.
		_, err = sub.Store.SetOptOut(ctx, ws, again.ID, false, domain.OptOutAPI, at)
		require.NoError(t, err)
		require.NoError(t, sub.Store.Delete(ctx, ws, again.ID))
		require.False(t, create(t, sub.Store, contact(ws, "+14155550100")).OptedOut)
	})

	t.Run("AContactOfTwoListedAddressesTakesTheEarliestAndTheCustomersOwn", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		optOutAndDelete := func(c domain.Contact, source domain.OptOutSource, when time.Time) {
			create(t, sub.Store, c)
			_, err := sub.Store.SetOptOut(ctx, ws, c.ID, true, source, when)
			require.NoError(t, err)
			require.NoError(t, sub.Store.Delete(ctx, ws, c.ID))
		}
		byPhone := contact(ws, "+14155550100")
		optOutAndDelete(byPhone, domain.OptOutKeyword, at.Add(time.Hour))
		byBSUID := contact(ws, "+14155550101")
		byBSUID.BSUID = "US.2"
		optOutAndDelete(byBSUID, domain.OptOutAPI, at)

		both := contact(ws, "+14155550100")
		both.BSUID = "US.2"
		got := create(t, sub.Store, both)
		require.True(t, got.OptedOut)
		require.True(t, at.Equal(*got.OptedOutAt), "the earliest: %v", got.OptedOutAt)
		require.Equal(t, domain.OptOutKeyword, got.OptOutSource, "the customer's own over staff's")
	})

	t.Run("DeleteIsScopedByWorkspace", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		c := create(t, sub.Store, contact(ws, "+14155550100"))
		require.NoError(t, sub.Store.Delete(ctx, other, c.ID))
		get(t, sub.Store, ws, c.ID)
		require.NoError(t, sub.Store.Delete(ctx, ws, domain.NewID()), "an absent contact is no error")
	})

	t.Run("IsMember", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		u := sub.Member(t, ws)
		ok, err := sub.Store.IsMember(ctx, ws, u)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = sub.Store.IsMember(ctx, other, u)
		require.NoError(t, err)
		require.False(t, ok)
	})

	importRows := func(t *testing.T, s contacts.Store, ws domain.ID, now time.Time, rows ...contacts.ImportRow) contacts.ImportCounts {
		t.Helper()
		n, err := s.Import(ctx, ws, RowsOf(rows...), now)
		require.NoError(t, err)
		return n
	}
	byPhone := func(t *testing.T, s contacts.Store, ws domain.ID, phone string) domain.Contact {
		t.Helper()
		got, err := s.List(ctx, ws, contacts.Filter{Phone: phone}, contacts.View{}, 2)
		require.NoError(t, err)
		require.Len(t, got, 1, "contacts with %s", phone)
		return UTC(got[0])
	}

	t.Run("ImportCreatesUpdatesAndCounts", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		agent := sub.Member(t, ws)
		known := contact(ws, "+14155550100")
		known.Name, known.Tags, known.Attributes, known.AssignedTo = "Old", []string{"x"}, map[string]any{"k": "v", "n": 1.0}, &agent
		create(t, sub.Store, known)
		_, err := sub.Store.SetOptOut(ctx, ws, known.ID, true, domain.OptOutKeyword, at)
		require.NoError(t, err)
		same := contact(ws, "+14155550103")
		same.Name, same.Attributes = "Same", map[string]any{"city": "Pune"}
		create(t, sub.Store, same)
		elsewhere := contact(other, "+14155550101")
		elsewhere.Name = "Other workspace"
		create(t, sub.Store, elsewhere)

		now := at.Add(time.Hour)
		n := importRows(t, sub.Store, ws, now,
			contacts.ImportRow{Line: 2, Phone: known.Phone, Name: "New", Attributes: map[string]any{"city": "Pune", "k": "w"}},
			contacts.ImportRow{Line: 3, Phone: "+14155550101", Name: "Bea", Tags: []string{"vip", "lead"}, Attributes: map[string]any{"city": "Goa"}},
			contacts.ImportRow{Line: 4, Phone: "+14155550102", Name: "First", Tags: []string{"a"}},
			contacts.ImportRow{Line: 6, Phone: "+14155550102", Tags: []string{"b"}},
			contacts.ImportRow{Line: 7, Phone: same.Phone, Name: "Same", Attributes: map[string]any{"city": "Pune"}},
		)
		require.Equal(t, contacts.ImportCounts{Created: 2, Updated: 1, Unchanged: 1, Duplicates: 1}, n)

		// A known contact gets what its row gives; its tags, opt-out and assignee stay.
		got := byPhone(t, sub.Store, ws, known.Phone)
		want := UTC(get(t, sub.Store, ws, known.ID))
		require.Equal(t, "New", got.Name)
		require.Equal(t, []string{"x"}, got.Tags)
		require.Equal(t, map[string]any{"k": "w", "n": 1.0, "city": "Pune"}, got.Attributes, "merged key by key")
		require.True(t, got.OptedOut && got.OptOutSource == domain.OptOutKeyword, "an import changes no opt-out")
		require.Equal(t, &agent, got.AssignedTo)
		require.True(t, now.Equal(got.UpdatedAt))
		require.Equal(t, want.CreatedAt, got.CreatedAt)

		bea := byPhone(t, sub.Store, ws, "+14155550101")
		require.Equal(t, domain.Contact{ID: bea.ID, WorkspaceID: ws, Phone: "+14155550101", WaID: "14155550101", Name: "Bea",
			Tags: []string{"vip", "lead"}, Attributes: map[string]any{"city": "Goa"}, CreatedAt: now, UpdatedAt: now}, bea)
		require.Equal(t, UTC(bea), UTC(get(t, sub.Store, ws, bea.ID)))
		last := byPhone(t, sub.Store, ws, "+14155550102")
		require.Equal(t, "", last.Name, "a phone's last row wins, whole")
		require.Equal(t, []string{"b"}, last.Tags)
		require.True(t, same.UpdatedAt.Equal(byPhone(t, sub.Store, ws, same.Phone).UpdatedAt), "an unchanged contact is not written")
		require.Equal(t, "Other workspace", byPhone(t, sub.Store, other, "+14155550101").Name, "another workspace is untouched")

		// The same list again changes nothing.
		n = importRows(t, sub.Store, ws, now.Add(time.Hour),
			contacts.ImportRow{Line: 2, Phone: "+14155550101", Name: "Bea", Tags: []string{"vip", "lead"}, Attributes: map[string]any{"city": "Goa"}},
			contacts.ImportRow{Line: 3, Phone: "+14155550102", Tags: []string{"b"}},
		)
		require.Equal(t, contacts.ImportCounts{Unchanged: 2}, n)
		require.Equal(t, contacts.ImportCounts{}, importRows(t, sub.Store, ws, now), "an empty list")
	})

	t.Run("ImportStartsNewContactsWithTheSuppressionList", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t), sub.Workspace(t)
		gone := create(t, sub.Store, contact(ws, "+14155550100"))
		_, err := sub.Store.SetOptOut(ctx, ws, gone.ID, true, domain.OptOutKeyword, at)
		require.NoError(t, err)
		require.NoError(t, sub.Store.Delete(ctx, ws, gone.ID))

		row := contacts.ImportRow{Line: 2, Phone: gone.Phone, Name: "Back"}
		require.Equal(t, contacts.ImportCounts{Created: 1}, importRows(t, sub.Store, ws, at.Add(time.Hour), row))
		got := byPhone(t, sub.Store, ws, gone.Phone)
		require.True(t, got.OptedOut, "the phone's opt-out is kept")
		require.Equal(t, domain.OptOutKeyword, got.OptOutSource)
		require.True(t, at.Equal(*got.OptedOutAt))
		importRows(t, sub.Store, other, at, row)
		require.False(t, byPhone(t, sub.Store, other, gone.Phone).OptedOut, "in its workspace only")
	})

	t.Run("ImportRefusesAttributesOverTheLimitOnceMerged", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		half := strings.Repeat("x", domain.MaxAttributesBytes/2+100)
		full := contact(ws, "+14155550100")
		full.Attributes = map[string]any{"a": half}
		create(t, sub.Store, full)
		n := importRows(t, sub.Store, ws, at.Add(time.Hour),
			contacts.ImportRow{Line: 2, Phone: full.Phone, Name: "Refused", Attributes: map[string]any{"b": half}},
			contacts.ImportRow{Line: 3, Phone: full.Phone, Name: "Refused", Attributes: map[string]any{"c": half}},
			contacts.ImportRow{Line: 4, Phone: "+14155550101", Attributes: map[string]any{"b": half}},
			contacts.ImportRow{Line: 5, Phone: "+14155550102", Attributes: map[string]any{"b": half}},
		)
		require.Equal(t, contacts.ImportCounts{Created: 2, Duplicates: 1, Refused: []int{3}, RefusedCount: 1}, n)
		require.Equal(t, UTC(full), byPhone(t, sub.Store, ws, full.Phone), "nothing of a refused row is written")
		n = importRows(t, sub.Store, ws, at, contacts.ImportRow{Line: 9, Phone: full.Phone, Attributes: map[string]any{"a": "short"}})
		require.Equal(t, contacts.ImportCounts{Updated: 1}, n, "a key replaced is measured as replaced")
	})

	t.Run("ImportFailsWithItsRows", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		broken := errors.New("the body broke off")
		rows := RowsOf(contacts.ImportRow{Line: 2, Phone: "+14155550100"})
		rows.Fail = broken
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r contacts.Repos) error {
			_, err := r.Contacts.Import(ctx, ws, rows, at)
			return err
		})
		require.ErrorIs(t, err, broken)
		got, err := sub.Store.List(ctx, ws, contacts.Filter{}, contacts.View{}, 10)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	// A transaction keeps its work only when its function returns nil. (The in-memory
	// runner cannot roll back what it wrote, so it works on a copy of its state and keeps
	// the copy only then.)
	t.Run("ATransactionCommitsOrRollsBack", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t)
		caller := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws}
		boom := errors.New("boom")
		c := contact(ws, "+14155550100")
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r contacts.Repos) error {
			if _, err := r.Contacts.Create(ctx, c); err != nil {
				return err
			}
			seen, err := r.Contacts.Get(ctx, ws, c.ID, contacts.View{}, true)
			require.NoError(t, err, "a transaction reads its own writes")
			require.Equal(t, c.ID, seen.ID)
			require.NoError(t, r.Events.Append(ctx, domain.Occurred(caller, at, domain.ContactCreated{ContactID: c.ID, Phone: c.Phone})))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = sub.Store.Get(ctx, ws, c.ID, contacts.View{}, false)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "rolled back: %v", err)

		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r contacts.Repos) error {
			if _, err := r.Contacts.Create(ctx, c); err != nil {
				return err
			}
			return r.Events.Append(ctx, domain.Occurred(caller, at, domain.ContactCreated{ContactID: c.ID, Phone: c.Phone}))
		}))
		get(t, sub.Store, ws, c.ID)
	})
}

// UTC puts every time of c in UTC, so contacts read back from any store compare equal.
func UTC(c domain.Contact) domain.Contact {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.OptedOutAt, c.LastInboundAt, c.ServiceWindowExpiresAt = utcPtr(c.OptedOutAt), utcPtr(c.LastInboundAt), utcPtr(c.ServiceWindowExpiresAt)
	return c
}

func utcPtr(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}

// Rows is a list of import rows as contacts.ImportRows; Fail, when set, is the error the
// rows end with (after every row).
type Rows struct {
	rows []contacts.ImportRow
	next int
	Fail error
}

// RowsOf returns rows as contacts.ImportRows.
func RowsOf(rows ...contacts.ImportRow) *Rows { return &Rows{rows: rows} }

func (r *Rows) Next() bool {
	if r.next == len(r.rows) {
		return false
	}
	r.next++
	return true
}

func (r *Rows) Row() contacts.ImportRow { return r.rows[r.next-1] }

func (r *Rows) Err() error {
	if r.next == len(r.rows) {
		return r.Fail
	}
	return nil
}
