package postgres_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

func TestContactRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		pool      *pgxpool.Pool
		repo      *postgres.ContactRepo
		ws, other domain.ID
		ann, bob  domain.ID // members of ws
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		b := &testBundle{pool: pool, repo: postgres.NewContactRepo(pool),
			ws: createWorkspace(t, wr, "Acme").ID, other: createWorkspace(t, wr, "Other").ID}
		b.ann = createUser(t, wr, "ann@example.com").ID
		b.bob = createUser(t, wr, "bob@example.com").ID
		require.NoError(t, wr.AddMember(ctx, b.ws, b.ann, access.Agent, now()))
		require.NoError(t, wr.AddMember(ctx, b.ws, b.bob, access.Agent, now()))
		return b
	}
	// contact builds a contact of ws; create stores it.
	contact := func(ws domain.ID, phone, name string) domain.Contact {
		return domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: phone, WaID: phone[min(1, len(phone)):], Name: name,
			Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now(), UpdatedAt: now()}
	}
	create := func(t *testing.T, b *testBundle, c domain.Contact) domain.Contact {
		t.Helper()
		got, err := b.repo.Create(ctx, c)
		require.NoError(t, err)
		return got
	}
	ids := func(list []domain.Contact) []domain.ID {
		out := make([]domain.ID, len(list))
		for i, c := range list {
			out[i] = c.ID
		}
		return out
	}
	// newestFirst is the order List returns: id descending.
	newestFirst := func(cs ...domain.Contact) []domain.ID {
		out := ids(cs)
		slices.SortFunc(out, func(a, b domain.ID) int { return bytes.Compare(b[:], a[:]) })
		return out
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := now()
		window := t0.Add(24 * time.Hour)
		c := contact(b.ws, "+14155550100", "Ann Customer")
		c.BSUID = "US.13491208655302741918"
		c.Tags = []string{"vip", "lead"}
		c.Attributes = map[string]any{"plan": "gold", "score": 2.5, "nested": map[string]any{"ok": true}}
		c.AssignedTo = &b.ann
		c.LastInboundAt, c.ServiceWindowExpiresAt = &t0, &window
		c.OptedOut, c.MarketingOptedOut = true, true // a new contact's opt-outs come from the suppression list only
		stored := create(t, b, c)
		c.OptedOut, c.MarketingOptedOut = false, false
		require.Equal(t, utcContact(c), utcContact(stored))

		out, err := b.repo.SetOptOut(ctx, b.ws, c.ID, true, domain.OptOutKeyword, t0)
		require.NoError(t, err)
		changed, err := postgres.NewInboundRepo(b.pool).SetMarketingOptOut(ctx, b.ws, c.ID, true)
		require.NoError(t, err)
		require.True(t, changed)
		got, err := b.repo.Get(ctx, b.ws, c.ID, contacts.View{}, false)
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), got.UpdatedAt, time.Minute)
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut, c.UpdatedAt = true, &t0, domain.OptOutKeyword, true, got.UpdatedAt
		require.Equal(t, utcContact(c), utcContact(got))
		out.MarketingOptedOut, out.UpdatedAt = true, got.UpdatedAt
		require.Equal(t, utcContact(got), utcContact(out), "SetOptOut returns the contact as stored")

		// A contact known only by BSUID has no phone.
		bs := contact(b.ws, "", "")
		bs.BSUID = "US.1"
		create(t, b, bs)
		got, err = b.repo.Get(ctx, b.ws, bs.ID, contacts.View{}, false)
		require.NoError(t, err)
		require.Equal(t, utcContact(bs), utcContact(got))
		require.Nil(t, got.AssignedTo)
	})

	t.Run("UniquePhoneAndBSUIDPerWorkspace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		create(t, b, contact(b.ws, "+14155550100", "first"))

		_, err := b.repo.Create(ctx, contact(b.ws, "+14155550100", "second"))
		requireKind(t, domain.KindContactExists, err)
		create(t, b, contact(b.other, "+14155550100", "another workspace may"))

		// Phone-less contacts do not collide on the missing phone; equal BSUIDs do.
		x, y := contact(b.ws, "", "x"), contact(b.ws, "", "y")
		x.BSUID, y.BSUID = "US.1", "US.2"
		create(t, b, x)
		create(t, b, y)
		z := contact(b.ws, "", "z")
		z.BSUID = "US.1"
		_, err = b.repo.Create(ctx, z)
		requireKind(t, domain.KindContactExists, err)
	})

	t.Run("OptOutOutlivesTheContact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := now().Add(-time.Hour)
		inb := postgres.NewInboundRepo(b.pool)
		count := func(sql string, args ...any) int {
			var n int
			require.NoError(t, b.pool.QueryRow(ctx, sql, args...).Scan(&n))
			return n
		}
		suppression := func(ws domain.ID, address string) domain.Suppression {
			s, err := b.repo.Suppression(ctx, ws, address)
			require.NoError(t, err)
			return s
		}
		c := contact(b.ws, "+14155550100", "Kim")
		c.BSUID = "US.7"
		create(t, b, c)
		_, err := b.repo.SetOptOut(ctx, b.ws, c.ID, true, domain.OptOutKeyword, t0)
		require.NoError(t, err)
		_, err = inb.SetMarketingOptOut(ctx, b.ws, c.ID, true)
		require.NoError(t, err)
		m := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: c.ID, PhoneNumberID: "1", Direction: domain.Inbound,
			Type: "text", Content: []byte(`{"body":"STOP"}`), Status: domain.StatusReceived, WAMID: "wamid.kim", CreatedAt: t0}
		_, err = inb.ReceiveInbound(ctx, m, true, inbound.InboxEvent{WorkspaceID: b.ws, Kind: "message.received", ContactID: &c.ID, MessageID: &m.ID})
		require.NoError(t, err)
		_, _, _, err = inb.RecordStatus(ctx, inbound.StatusReport{WAMID: "wamid.kim", Status: "read", WorkspaceID: b.ws, OccurredAt: t0})
		require.NoError(t, err)
		keep := create(t, b, contact(b.ws, "+14155550101", "keeps everything"))
		_, err = inb.ReceiveInbound(ctx, domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: keep.ID, PhoneNumberID: "1",
			Direction: domain.Inbound, Type: "text", Status: domain.StatusReceived, WAMID: "wamid.keep", CreatedAt: t0}, true,
			inbound.InboxEvent{WorkspaceID: b.ws, Kind: "message.received", ContactID: &keep.ID})
		require.NoError(t, err)

		require.NoError(t, b.repo.Delete(ctx, b.ws, c.ID))
		require.Zero(t, count(`SELECT count(*) FROM contacts WHERE id = $1`, c.ID))
		require.Zero(t, count(`SELECT count(*) FROM messages WHERE contact_id = $1`, c.ID), "the contact's messages are erased")
		require.Zero(t, count(`SELECT count(*) FROM message_statuses WHERE wamid = 'wamid.kim'`))
		require.Zero(t, count(`SELECT count(*) FROM inbox_events WHERE contact_id = $1`, c.ID))
		require.Equal(t, 1, count(`SELECT count(*) FROM messages WHERE contact_id = $1`, keep.ID), "another contact's stay")
		require.Equal(t, 1, count(`SELECT count(*) FROM inbox_events WHERE contact_id = $1`, keep.ID))
		both := domain.Suppression{OptedOut: true, MarketingOptedOut: true}
		require.Equal(t, both, suppression(b.ws, "+14155550100"))
		require.Equal(t, both, suppression(b.ws, "US.7"))
		require.Equal(t, domain.Suppression{}, suppression(b.other, "+14155550100"), "per workspace")
		require.Equal(t, domain.Suppression{}, suppression(b.ws, "+14155550101"))

		// A contact created later, by hand or by an inbound message, starts opted out.
		again := create(t, b, contact(b.ws, "+14155550100", "Kim again"))
		require.True(t, again.OptedOut)
		require.True(t, again.MarketingOptedOut)
		require.Equal(t, domain.OptOutKeyword, again.OptOutSource)
		require.Equal(t, t0.UTC(), again.OptedOutAt.UTC())
		byBSUID, err := inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("", "US.7", "Kim"), now())
		require.NoError(t, err)
		require.NotEqual(t, again.ID, byBSUID.ID)
		require.True(t, byBSUID.OptedOut)
		require.True(t, byBSUID.MarketingOptedOut)
		other, err := postgres.NewInboundRepo(b.pool).FindOrCreate(ctx, b.other, inbound.NewIdentity("14155550100", "", ""), now())
		require.NoError(t, err)
		require.False(t, other.OptedOut)

		// Opting in lifts it under the contact's addresses only.
		in, err := b.repo.SetOptOut(ctx, b.ws, again.ID, false, "", now())
		require.NoError(t, err)
		require.False(t, in.OptedOut)
		require.Nil(t, in.OptedOutAt)
		require.Empty(t, in.OptOutSource)
		require.Equal(t, domain.Suppression{MarketingOptedOut: true}, suppression(b.ws, "+14155550100"))
		require.Equal(t, both, suppression(b.ws, "US.7"))
		changed, err := inb.SetMarketingOptOut(ctx, b.ws, byBSUID.ID, false)
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, domain.Suppression{OptedOut: true}, suppression(b.ws, "US.7"))

		_, err = b.repo.SetOptOut(ctx, b.ws, domain.NewID(), true, domain.OptOutAPI, now())
		requireKind(t, domain.KindNotFound, err)

		// A contact that gains an address joins it with the list, both ways: a BSUID-only
		// contact whose suppressed phone Meta now sends is opted out, and the BSUID is kept.
		gone := create(t, b, contact(b.ws, "+14155550102", "gone"))
		_, err = b.repo.SetOptOut(ctx, b.ws, gone.ID, true, domain.OptOutKeyword, t0)
		require.NoError(t, err)
		require.NoError(t, b.repo.Delete(ctx, b.ws, gone.ID))
		bsuidOnly, err := inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("", "US.8", ""), now())
		require.NoError(t, err)
		require.False(t, bsuidOnly.OptedOut)
		joined, err := inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550102", "US.8", ""), now())
		require.NoError(t, err)
		require.Equal(t, bsuidOnly.ID, joined.ID)
		require.Equal(t, "+14155550102", joined.Phone)
		require.True(t, joined.OptedOut)
		require.Equal(t, domain.OptOutKeyword, joined.OptOutSource)
		require.Equal(t, t0.UTC(), joined.OptedOutAt.UTC())
		require.Equal(t, domain.Suppression{OptedOut: true}, suppression(b.ws, "US.8"))
		// And an opted-out contact's new BSUID is kept under it.
		mkt := create(t, b, contact(b.ws, "+14155550103", "marketing stop"))
		_, err = inb.SetMarketingOptOut(ctx, b.ws, mkt.ID, true)
		require.NoError(t, err)
		_, err = inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550103", "US.9", ""), now())
		require.NoError(t, err)
		require.Equal(t, domain.Suppression{MarketingOptedOut: true}, suppression(b.ws, "US.9"))
	})

	t.Run("ViewNeverShowsAnothersContact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ann, bob, nobody := contact(b.ws, "+14155550100", "a"), contact(b.ws, "+14155550101", "b"), contact(b.ws, "+14155550102", "n")
		ann.AssignedTo, bob.AssignedTo = &b.ann, &b.bob
		for _, c := range []domain.Contact{ann, bob, nobody} {
			create(t, b, c)
		}
		annView := contacts.View{AssignedTo: &b.ann}

		for _, forUpdate := range []bool{false, true} {
			got, err := b.repo.Get(ctx, b.ws, ann.ID, annView, forUpdate)
			require.NoError(t, err)
			require.Equal(t, ann.ID, got.ID)
			for _, c := range []domain.Contact{bob, nobody} {
				_, err := b.repo.Get(ctx, b.ws, c.ID, annView, forUpdate)
				requireKind(t, domain.KindNotFound, err)
			}
		}
		_, err := b.repo.Get(ctx, b.other, ann.ID, contacts.View{}, false)
		requireKind(t, domain.KindNotFound, err)

		list, err := b.repo.List(ctx, b.ws, contacts.Filter{}, annView, 100)
		require.NoError(t, err)
		require.Equal(t, []domain.ID{ann.ID}, ids(list))
		// An explicit filter cannot widen the view.
		list, err = b.repo.List(ctx, b.ws, contacts.Filter{AssignedTo: &b.bob}, annView, 100)
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = b.repo.List(ctx, b.ws, contacts.Filter{Phone: bob.Phone}, annView, 100)
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = b.repo.List(ctx, b.ws, contacts.Filter{}, contacts.View{}, 100)
		require.NoError(t, err)
		require.Len(t, list, 3)
	})

	t.Run("ListFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		yes, no := true, false
		c1 := contact(b.ws, "+14155550100", "Ann 100% Sure")
		c1.Tags, c1.AssignedTo = []string{"vip"}, &b.ann
		c2 := contact(b.ws, "+14155550101", "Bob_Smith")
		c2.Tags, c2.AssignedTo = []string{"lead"}, &b.bob
		c3 := contact(b.ws, "+14155550102", `Carol \ Back`)
		c3.Tags = []string{"vip", "lead"}
		c4 := contact(b.ws, "+442079460958", "annabel BobxSmith")
		c4.AssignedTo = &b.ann
		for _, c := range []domain.Contact{c1, c2, c3, c4} {
			create(t, b, c)
		}
		_, err := b.repo.SetOptOut(ctx, b.ws, c2.ID, true, domain.OptOutAPI, now())
		require.NoError(t, err)
		noise := contact(b.other, "+14155550100", "Ann 100% Sure") // another workspace, matching everything
		noise.Tags, noise.AssignedTo = []string{"vip", "lead"}, &b.ann
		create(t, b, noise)

		for name, tc := range map[string]struct {
			f    contacts.Filter
			want []domain.Contact
		}{
			"None":              {contacts.Filter{}, []domain.Contact{c1, c2, c3, c4}},
			"Phone":             {contacts.Filter{Phone: "+14155550101"}, []domain.Contact{c2}},
			"PhoneUnknown":      {contacts.Filter{Phone: "+14155550199"}, nil},
			"QueryNameAnyCase":  {contacts.Filter{Query: "ANN"}, []domain.Contact{c1, c4}},
			"QueryPhoneDigits":  {contacts.Filter{Query: "555010"}, []domain.Contact{c1, c2, c3}},
			"QueryPercentIsLit": {contacts.Filter{Query: "%"}, []domain.Contact{c1}},
			"QueryPercentMid":   {contacts.Filter{Query: "0% S"}, []domain.Contact{c1}},
			"QueryUnderscore":   {contacts.Filter{Query: "_"}, []domain.Contact{c2}},
			"QueryUnderscoreIn": {contacts.Filter{Query: "bob_s"}, []domain.Contact{c2}},
			"QueryBackslash":    {contacts.Filter{Query: `\`}, []domain.Contact{c3}},
			"Tag":               {contacts.Filter{Tag: "vip"}, []domain.Contact{c1, c3}},
			"TagOther":          {contacts.Filter{Tag: "lead"}, []domain.Contact{c2, c3}},
			"TagUnknown":        {contacts.Filter{Tag: "vi"}, nil},
			"OptedOut":          {contacts.Filter{OptedOut: &yes}, []domain.Contact{c2}},
			"NotOptedOut":       {contacts.Filter{OptedOut: &no}, []domain.Contact{c1, c3, c4}},
			"AssignedTo":        {contacts.Filter{AssignedTo: &b.ann}, []domain.Contact{c1, c4}},
			"Combined":          {contacts.Filter{Tag: "vip", AssignedTo: &b.ann, OptedOut: &no, Query: "sure"}, []domain.Contact{c1}},
		} {
			list, err := b.repo.List(ctx, b.ws, tc.f, contacts.View{}, 100)
			require.NoError(t, err, name)
			require.Equal(t, newestFirst(tc.want...), ids(list), name)
		}
	})

	t.Run("ListCursorAndLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var all []domain.Contact
		base := time.Now()
		for i := range 7 {
			c := contact(b.ws, "+1415555010"+string(rune('0'+i)), "c")
			c.ID = idAt(base.Add(time.Duration(i) * time.Millisecond)) // created in this order
			all = append(all, create(t, b, c))
		}

		var seen []domain.ID
		f := contacts.Filter{}
		for {
			page, err := b.repo.List(ctx, b.ws, f, contacts.View{}, 3)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			seen = append(seen, ids(page)...)
			if len(page) < 3 {
				break
			}
			f.Cursor = page[len(page)-1].ID
		}
		require.Equal(t, newestFirst(all...), seen)
		require.Equal(t, all[6].ID, seen[0], "the newest contact comes first")

		// The cursor composes with the view.
		f = contacts.Filter{Cursor: all[3].ID}
		list, err := b.repo.List(ctx, b.ws, f, contacts.View{}, 100)
		require.NoError(t, err)
		require.Equal(t, []domain.ID{all[2].ID, all[1].ID, all[0].ID}, ids(list))
	})

	t.Run("UpdateDeleteIsMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := create(t, b, contact(b.ws, "+14155550100", "old"))

		t1 := now().Add(time.Minute)
		c.Name, c.Tags, c.Attributes, c.AssignedTo = "new", []string{"x"}, map[string]any{"k": "v"}, &b.bob
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.UpdatedAt = true, &t1, domain.OptOutAPI, t1
		require.NoError(t, b.repo.Update(ctx, c))
		got, err := b.repo.Get(ctx, b.ws, c.ID, contacts.View{}, false)
		require.NoError(t, err)
		require.Equal(t, utcContact(c), utcContact(got))

		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.AssignedTo = false, nil, "", nil
		require.NoError(t, b.repo.Update(ctx, c))
		got, err = b.repo.Get(ctx, b.ws, c.ID, contacts.View{}, false)
		require.NoError(t, err)
		require.Equal(t, utcContact(c), utcContact(got))

		require.NoError(t, b.repo.Delete(ctx, b.other, c.ID), "deleting through another workspace is a no-op")
		_, err = b.repo.Get(ctx, b.ws, c.ID, contacts.View{}, false)
		require.NoError(t, err)
		require.NoError(t, b.repo.Delete(ctx, b.ws, c.ID))
		_, err = b.repo.Get(ctx, b.ws, c.ID, contacts.View{}, false)
		requireKind(t, domain.KindNotFound, err)

		ok, err := b.repo.IsMember(ctx, b.ws, b.ann)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = b.repo.IsMember(ctx, b.other, b.ann)
		require.NoError(t, err)
		require.False(t, ok)
		ok, err = b.repo.IsMember(ctx, b.ws, domain.NewID())
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("GetForUpdateLocksTheRow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := create(t, b, contact(b.ws, "+14155550100", "c"))

		tx, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = postgres.NewContactRepo(tx).Get(ctx, b.ws, c.ID, contacts.View{}, true)
		require.NoError(t, err)

		err = pgx.BeginFunc(ctx, b.pool, func(tx2 pgx.Tx) error {
			if _, err := tx2.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
				return err
			}
			_, err := postgres.NewContactRepo(tx2).Get(ctx, b.ws, c.ID, contacts.View{}, true)
			return err
		})
		require.ErrorContains(t, err, "lock timeout")
		// A plain read is not blocked.
		_, err = b.repo.Get(ctx, b.ws, c.ID, contacts.View{}, false)
		require.NoError(t, err)
	})
}
