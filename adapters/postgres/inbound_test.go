package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/application/inbound/inboundtest"
	"github.com/wabaplatform/waba/domain"
)

func TestInboundRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type bundle struct {
		pool *pgxpool.Pool
		repo *postgres.InboundRepo
		ws   domain.ID
	}
	setup := func(t *testing.T) bundle {
		t.Helper()
		pool := pgtest.NewPool(t)
		ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme")
		return bundle{pool: pool, repo: postgres.NewInboundRepo(pool), ws: ws.ID}
	}

	t.Run("RoutingAndSettings", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := domain.NewID()
		_, err := b.pool.Exec(ctx, `INSERT INTO phone_numbers (workspace_id, id, phone_number_id, waba_id, display_phone_number, status,
			token_ciphertext, token_nonce, token_wrapped_key, token_key_id, created_at, updated_at)
			VALUES ($1, $2, '1065', '1022', '+1 555-078-3881', 'connected', '\x00', '\x00', '\x00', 'k', now(), now())`, b.ws, id)
		require.NoError(t, err)
		rt, ok, err := b.repo.RouteByPhoneNumberID(ctx, "1065")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, inbound.Route{Number: inbound.Number{WorkspaceID: b.ws, ID: id, PhoneNumberID: "1065", WABAID: "1022"},
			Settings: inbound.Settings{OptOutKeywords: []string{}, OptInKeywords: []string{}}}, rt)
		_, ok, err = b.repo.RouteByPhoneNumberID(ctx, "nope")
		require.NoError(t, err)
		require.False(t, ok)
		nums, err := b.repo.NumbersByWABA(ctx, "1022")
		require.NoError(t, err)
		require.Len(t, nums, 1)
		require.Equal(t, "+1 555-078-3881", nums[0].DisplayPhoneNumber)

		require.NoError(t, b.repo.UpdateNumber(ctx, b.ws, id, inbound.NumberChange{MessagingLimitTier: "TIER_10K", VerifiedName: "Shop"}))
		require.NoError(t, b.repo.UpdateNumber(ctx, b.ws, id, inbound.NumberChange{NameStatus: "APPROVED"}))
		p, err := postgres.NewPhoneNumberRepo(b.pool).Get(ctx, b.ws, id, false)
		require.NoError(t, err)
		require.Equal(t, "TIER_10K", p.MessagingLimitTier)
		require.Equal(t, "Shop", p.VerifiedName)
		require.Equal(t, "APPROVED", p.NameStatus)
		require.Equal(t, domain.NumberConnected, p.Status)

		_, err = b.pool.Exec(ctx, `UPDATE workspaces SET opt_out_keywords = '{BASTA}', opt_out_confirmation = 'bye' WHERE id = $1`, b.ws)
		require.NoError(t, err)
		rt, _, err = b.repo.RouteByPhoneNumberID(ctx, "1065")
		require.NoError(t, err)
		require.Equal(t, inbound.Settings{OptOutKeywords: []string{"BASTA"}, OptInKeywords: []string{}, OptOutConfirmation: "bye"}, rt.Settings)
	})

	t.Run("FindOrCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := now()
		// Known by BSUID first, then the number shows up: one contact.
		c1, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("", "US.1", "Ann"), t0)
		require.NoError(t, err)
		require.Empty(t, c1.Phone)
		c2, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550100", "US.1", "Other name"), t0)
		require.NoError(t, err)
		require.Equal(t, c1.ID, c2.ID)
		require.Equal(t, "+14155550100", c2.Phone)
		require.Equal(t, "14155550100", c2.WaID)
		require.Equal(t, "Ann", c2.Name, "an existing name is kept")

		// A contact created by hand without a name gets the profile name and the BSUID.
		manual := domain.Contact{ID: domain.NewID(), WorkspaceID: b.ws, Phone: "+14155550101", WaID: "14155550101",
			Tags: []string{}, Attributes: map[string]any{}, CreatedAt: t0, UpdatedAt: t0}
		_, err = postgres.NewContactRepo(b.pool).Create(ctx, manual)
		require.NoError(t, err)
		c3, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550101", "US.2", "Bob"), t0)
		require.NoError(t, err)
		require.Equal(t, manual.ID, c3.ID)
		require.Equal(t, "Bob", c3.Name)
		require.Equal(t, "US.2", c3.BSUID)

		// A BSUID another contact holds is not taken.
		c4, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550102", "US.2", ""), t0)
		require.NoError(t, err)
		require.NotEqual(t, manual.ID, c4.ID)
		require.Empty(t, c4.BSUID)

		// Concurrent first messages from one user make one contact.
		var wg sync.WaitGroup
		ids := make(chan domain.ID, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
					c, _, err := postgres.NewInboundRepo(tx).FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550199", "", "Race"), t0)
					ids <- c.ID
					return err
				})
				require.NoError(t, err)
			}()
		}
		wg.Wait()
		close(ids)
		first := <-ids
		for id := range ids {
			require.Equal(t, first, id)
		}
	})

	t.Run("WindowAndOptOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := now()
		c, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550100", "", ""), t0)
		require.NoError(t, err)
		receive := func(wamid string, at time.Time, touch bool) {
			m := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: c.ID, PhoneNumberID: "1065", Type: "text",
				WAMID: wamid, CreatedAt: at}
			ok, err := b.repo.ReceiveInbound(ctx, m, touch, received(m))
			require.NoError(t, err)
			require.True(t, ok)
		}
		receive("wamid.W1", t0, true)
		receive("wamid.W2", t0.Add(-time.Hour), true) // older: the window does not move back
		receive("wamid.W3", t0.Add(time.Hour), false) // a system notice: it does not move
		require.NoError(t, b.repo.SetOptOut(ctx, b.ws, c.ID, true, t0))
		changed, err := b.repo.SetMarketingOptOut(ctx, b.ws, c.ID, true)
		require.NoError(t, err)
		require.True(t, changed)
		changed, err = b.repo.SetMarketingOptOut(ctx, b.ws, c.ID, true)
		require.NoError(t, err)
		require.False(t, changed)
		got, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550100", "", ""), t0)
		require.NoError(t, err)
		require.Equal(t, t0, got.LastInboundAt.UTC(), "never moves back")
		require.Equal(t, t0.Add(24*time.Hour), got.ServiceWindowExpiresAt.UTC())
		require.True(t, got.OptedOut)
		require.Equal(t, domain.OptOutKeyword, got.OptOutSource)
		require.True(t, got.MarketingOptedOut)
		require.NoError(t, b.repo.SetOptOut(ctx, b.ws, c.ID, false, t0))
		got, _, err = b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550100", "", ""), t0)
		require.NoError(t, err)
		require.False(t, got.OptedOut)
		require.Nil(t, got.OptedOutAt)
		require.Empty(t, got.OptOutSource)
	})

	t.Run("MessagesAndStatuses", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := now()
		c, _, err := b.repo.FindOrCreate(ctx, b.ws, inbound.NewIdentity("14155550100", "", ""), t0)
		require.NoError(t, err)
		in := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: c.ID, PhoneNumberID: "1065", Type: "text",
			Content: json.RawMessage(`{"body":"hi"}`), Raw: json.RawMessage(`{"id":"wamid.A","type":"text","text":{"body":"hi"}}`),
			WAMID: "wamid.A", CreatedAt: t0}
		ev := received(in)
		ok, err := b.repo.ReceiveInbound(ctx, in, true, ev)
		require.NoError(t, err)
		require.True(t, ok)
		dup := in
		dup.ID = domain.NewID()
		dup.CreatedAt = t0.Add(time.Hour)
		ok, err = b.repo.ReceiveInbound(ctx, dup, true, ev)
		require.NoError(t, err)
		require.False(t, ok, "the same wamid is stored once")
		var events int
		var window time.Time
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE message_id = $2 AND payload->>'wamid' = 'wamid.A'),
			last_inbound_at FROM contacts WHERE workspace_id = $1 AND id = $3`, b.ws, in.ID, c.ID).Scan(&events, &window))
		require.Equal(t, 1, events, "one feed event, none for the redelivery")
		require.Equal(t, t0, window.UTC(), "the redelivery does not touch the contact")
		seen, err := b.repo.WAMIDExists(ctx, "wamid.A")
		require.NoError(t, err)
		require.True(t, seen)
		// The type object is the content; Meta's whole message is kept beside it.
		var content, raw string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT content::text, raw::text FROM messages WHERE wamid = 'wamid.A'`).Scan(&content, &raw))
		require.JSONEq(t, `{"body":"hi"}`, content)
		require.JSONEq(t, `{"id":"wamid.A","type":"text","text":{"body":"hi"}}`, raw)
		read, err := postgres.NewMessageRepo(b.pool).GetMessage(ctx, b.ws, in.ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"body":"hi"}`, string(read.Content))
		require.Empty(t, read.Raw, "reads never carry the raw message")

		out := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: c.ID, PhoneNumberID: "1065", Type: "text",
			Content: json.RawMessage(`{"body":"yo"}`), Status: domain.StatusQueued, CreatedAt: t0}
		require.NoError(t, postgres.NewMessageRepo(b.pool).CreateOutbound(ctx, out))
		_, err = b.pool.Exec(ctx, `UPDATE messages SET wamid = 'wamid.OUT' WHERE id = $1`, out.ID)
		require.NoError(t, err)

		fresh, m, ok, err := b.repo.RecordStatus(ctx, b.ws, domain.StatusReport{WAMID: "wamid.OUT", Status: "failed", At: t0, Errors: json.RawMessage(`[{"code":131026}]`)})
		require.NoError(t, err)
		require.True(t, fresh)
		require.True(t, ok)
		require.Equal(t, out.ID, m.ID)
		fresh, _, ok, err = b.repo.RecordStatus(ctx, b.ws, domain.StatusReport{WAMID: "wamid.OUT", Status: "failed", At: t0})
		require.NoError(t, err)
		require.False(t, fresh, "a redelivered report is recorded once")
		require.True(t, ok)
		fresh, _, ok, err = b.repo.RecordStatus(ctx, domain.NilID, domain.StatusReport{WAMID: "wamid.OUT", Status: "sent", At: t0})
		require.NoError(t, err)
		require.True(t, fresh, "recorded without a workspace")
		require.False(t, ok, "but no workspace's message is its target")

		m.Status, m.FailedAt = domain.StatusFailed, &t0
		m.Error = &domain.MessageError{Code: 131026, Title: "Undeliverable", Detail: "d"}
		m.Pricing = json.RawMessage(`{"category":"service"}`)
		require.NoError(t, b.repo.UpdateDelivery(ctx, m, domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: b.ws}, t0,
			domain.MessageStatusChanged{MessageID: m.ID, ContactID: c.ID, WAMID: "wamid.OUT", Reported: "failed", Status: m.Status})))
		_, got, ok, err := b.repo.RecordStatus(ctx, b.ws, domain.StatusReport{WAMID: "wamid.OUT", Status: "read", At: t0})
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, domain.StatusFailed, got.Status)
		require.Equal(t, m.Error, got.Error)
		require.JSONEq(t, `{"category":"service"}`, string(got.Pricing))
		var statusEvents int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE message_id = $1 AND kind = $2
			AND payload->>'status' = 'failed'`, m.ID, domain.EventMessageStatusChanged).Scan(&statusEvents))
		require.Equal(t, 1, statusEvents, "the update appended its feed event")
		_, _, ok, err = b.repo.RecordStatus(ctx, b.ws, domain.StatusReport{WAMID: "wamid.A", Status: "read", At: t0})
		require.NoError(t, err)
		require.False(t, ok, "inbound messages are not status targets")
	})

	t.Run("AccountEvents", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		t0 := now()
		ev := inbound.AccountEvent{ID: inbound.EventID("x"), WorkspaceID: &b.ws, WABAID: "1022", Field: "account_update",
			Event: "ACCOUNT_VIOLATION", Payload: json.RawMessage(`{"event":"ACCOUNT_VIOLATION"}`), At: t0}
		require.NoError(t, b.repo.RecordAccountEvent(ctx, ev))
		require.NoError(t, b.repo.RecordAccountEvent(ctx, ev))
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM account_events`).Scan(&n))
		require.Equal(t, 1, n)
	})
}

func TestInboundRepoContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inboundtest.RunContract(t, func(t *testing.T) inboundtest.Subject {
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		repo := postgres.NewInboundRepo(pool)
		return inboundtest.Subject{Directory: repo, Contacts: repo, Messages: repo, Accounts: repo,
			Workspace: func(t *testing.T) domain.ID { return createWorkspace(t, wr, "Acme").ID },
			Number: func(t *testing.T, n inbound.NumberInfo) {
				_, err := pool.Exec(ctx, `INSERT INTO phone_numbers (workspace_id, id, phone_number_id, waba_id, display_phone_number, status,
					token_ciphertext, token_nonce, token_wrapped_key, token_key_id, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, 'connected', '\x00', '\x00', '\x00', 'k', clock_timestamp(), now())`,
					n.WorkspaceID, n.ID, n.PhoneNumberID, n.WABAID, n.DisplayPhoneNumber)
				require.NoError(t, err)
			},
			Outbound: func(t *testing.T, m domain.Message) {
				require.NoError(t, postgres.NewMessageRepo(pool).CreateOutbound(ctx, m))
				if m.WAMID != "" { // a queued message has none yet: as if sent
					_, err := pool.Exec(ctx, `UPDATE messages SET wamid = $2 WHERE id = $1`, m.ID, m.WAMID)
					require.NoError(t, err)
				}
			},
			Contact: func(t *testing.T, ws, id domain.ID) domain.Contact {
				c, err := postgres.NewContactRepo(pool).Get(ctx, ws, id, contacts.View{}, false)
				require.NoError(t, err)
				return c
			},
			Message: func(t *testing.T, ws, id domain.ID) domain.Message {
				m, err := postgres.NewMessageRepo(pool).GetMessage(ctx, ws, id)
				require.NoError(t, err)
				return m
			},
			DeleteContact: func(t *testing.T, ws, id domain.ID) {
				require.NoError(t, postgres.NewContactRepo(pool).Delete(ctx, ws, id))
			},
			Events: func(t *testing.T, ws domain.ID) []eventstest.Row { return eventRows(t, pool, ws) },
			NumberState: func(t *testing.T, ws, id domain.ID) inbound.NumberChange {
				p, err := postgres.NewPhoneNumberRepo(pool).Get(ctx, ws, id, false)
				require.NoError(t, err)
				return inbound.NumberChange{MessagingLimitTier: p.MessagingLimitTier, QualityRating: p.QualityRating,
					VerifiedName: p.VerifiedName, NameStatus: p.NameStatus, Status: p.Status, FailureReason: p.FailureReason}
			},
			AccountEvents: func(t *testing.T, id domain.ID) int {
				var n int
				require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM account_events WHERE id = $1`, id).Scan(&n))
				return n
			},
		}
	})
}
