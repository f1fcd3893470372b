package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// TestContactRepo covers what the Postgres store does beyond contactstest's contract (run
// below against both it and the in-memory store).
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
		_, err = inb.ReceiveInbound(ctx, m, true, received(m))
		require.NoError(t, err)
		_, _, _, err = inb.RecordStatus(ctx, b.ws, domain.StatusReport{WAMID: "wamid.kim", Status: "read", At: t0})
		require.NoError(t, err)
		keep := create(t, b, contact(b.ws, "+14155550101", "keeps everything"))
		kept := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: keep.ID, PhoneNumberID: "1",
			Direction: domain.Inbound, Type: "text", Status: domain.StatusReceived, WAMID: "wamid.keep", CreatedAt: t0}
		_, err = inb.ReceiveInbound(ctx, kept, true, received(kept))
		require.NoError(t, err)

		require.NoError(t, b.repo.Delete(ctx, b.ws, c.ID))
		require.Zero(t, count(`SELECT count(*) FROM contacts WHERE id = $1`, c.ID))
		require.Zero(t, count(`SELECT count(*) FROM messages WHERE contact_id = $1`, c.ID), "the contact's messages are erased")
		require.Zero(t, count(`SELECT count(*) FROM message_statuses WHERE wamid = 'wamid.kim'`))
		require.Zero(t, count(`SELECT count(*) FROM events WHERE contact_id = $1`, c.ID))
		require.Equal(t, 1, count(`SELECT count(*) FROM messages WHERE contact_id = $1`, keep.ID), "another contact's stay")
		require.Equal(t, 1, count(`SELECT count(*) FROM events WHERE contact_id = $1`, keep.ID))
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
		byBSUID, _, err := inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("", "US.7", "Kim"), now())
		require.NoError(t, err)
		require.NotEqual(t, again.ID, byBSUID.ID)
		require.True(t, byBSUID.OptedOut)
		require.True(t, byBSUID.MarketingOptedOut)
		other, _, err := postgres.NewInboundRepo(b.pool).FindOrCreate(ctx, b.other, inbound.NewIdentity("14155550100", "", ""), now())
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
		bsuidOnly, _, err := inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("", "US.8", ""), now())
		require.NoError(t, err)
		require.False(t, bsuidOnly.OptedOut)
		joined, _, err := inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550102", "US.8", ""), now())
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
		_, _, err = inb.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550103", "US.9", ""), now())
		require.NoError(t, err)
		require.Equal(t, domain.Suppression{MarketingOptedOut: true}, suppression(b.ws, "US.9"))
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

func TestContactRepoContract(t *testing.T) {
	t.Parallel()
	contactstest.RunStoreContract(t, func(t *testing.T) contactstest.Subject {
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		return contactstest.Subject{
			Tx: postgres.NewTxRunner(pool, func(tx pgx.Tx) contacts.Repos {
				return contacts.Repos{Contacts: postgres.NewContactRepo(tx), Events: postgres.NewEventLog(tx)}
			}),
			Store:     postgres.NewContactRepo(pool),
			Workspace: func(t *testing.T) domain.ID { return createWorkspace(t, wr, "Acme").ID },
			Member: func(t *testing.T, ws domain.ID) domain.ID {
				u := createUser(t, wr, domain.NewID().String()+"@example.com")
				require.NoError(t, wr.AddMember(context.Background(), ws, u.ID, access.Agent, now()))
				return u.ID
			},
		}
	})
}
