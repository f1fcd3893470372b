package messagingtest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// SendSubject is the store of the send and read use cases under the contract: the ports
// they read outside a transaction, their transaction runner, and what the contract needs
// to set up and read back around them.
type SendSubject struct {
	// Tx runs transactions; its Repos need not offer Jobs (the contract enqueues nothing).
	Tx         messaging.TxRunner
	Contacts   messaging.Contacts
	Messages   messaging.MessageStore
	Templates  messaging.Templates
	Workspaces messaging.Workspaces
	Numbers    messaging.Numbers
	Keys       messaging.IdempotencyKeys
	// Workspace creates a workspace on plan and returns its id.
	Workspace func(t *testing.T, plan domain.Plan) domain.ID
	// Number stores n in its workspace, as connecting a number does.
	Number func(t *testing.T, n domain.PhoneNumber)
	// Template puts tm in the catalogue, as a sync does.
	Template func(t *testing.T, tm domain.Template)
	// Suppress keeps s under address in ws's suppression list, as a deleted contact's
	// opt-out by keyword at at (and Meta's marketing stop) leaves it.
	Suppress func(t *testing.T, ws domain.ID, address string, s domain.Suppression, at time.Time)
	// Events is the event log of ws, oldest first.
	Events func(t *testing.T, ws domain.ID) []eventstest.Row
	// Actions is the audit trail of ws as actions, oldest first.
	Actions func(t *testing.T, ws domain.ID) []string
}

// NewSendSubject returns the Memory as a contract subject.
func NewSendSubject(db *Memory) SendSubject {
	return SendSubject{Tx: db, Contacts: db.Contacts(), Messages: db, Templates: db, Workspaces: db, Numbers: db.Numbers(), Keys: db,
		Workspace: func(_ *testing.T, plan domain.Plan) domain.ID {
			w := domain.Workspace{ID: domain.NewID(), Name: "Acme", Plan: plan}
			db.PutWorkspace(w)
			return w.ID
		},
		Number:   func(_ *testing.T, n domain.PhoneNumber) { db.PutNumber(n) },
		Template: func(_ *testing.T, tm domain.Template) { db.PutTemplate(tm) },
		Suppress: func(_ *testing.T, ws domain.ID, address string, s domain.Suppression, at time.Time) {
			db.contacts.Suppress(ws, address, s, at)
		},
		Events: func(_ *testing.T, ws domain.ID) []eventstest.Row {
			var out []eventstest.Row
			for _, e := range db.Events() {
				if e.WorkspaceID() == ws {
					out = append(out, eventstest.RowOf(e))
				}
			}
			return out
		},
		Actions: func(_ *testing.T, ws domain.ID) []string {
			var out []string
			for _, e := range eventstest.Audit(db.Events()) {
				if e.WorkspaceID == ws {
					out = append(out, e.Action)
				}
			}
			return out
		},
	}
}

// RunSendContract holds the ports of the send and read use cases (Contacts, ContactWriter,
// MessageWriter, MessageStore, Workspaces, Numbers) and their TxRunner to what the ports
// promise. newSubject returns a fresh, empty store for each sub-test.
func RunSendContract(t *testing.T, newSubject func(t *testing.T) SendSubject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	contact := func(ws domain.ID, phone string) domain.Contact {
		return domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: phone, WaID: phone[1:], Tags: []string{},
			Attributes: map[string]any{}, CreatedAt: at, UpdatedAt: at}
	}
	create := func(t *testing.T, sub SendSubject, c domain.Contact) domain.Contact {
		t.Helper()
		var got domain.Contact
		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			var err error
			got, err = r.Contacts.Create(ctx, c)
			return err
		}))
		return got
	}
	get := func(t *testing.T, sub SendSubject, ws, id domain.ID) domain.Contact {
		t.Helper()
		got, err := sub.Contacts.Get(ctx, ws, id, contacts.View{}, false)
		require.NoError(t, err)
		return got
	}
	message := func(ws, contactID domain.ID) domain.Message {
		return domain.Message{ID: domain.NewID(), WorkspaceID: ws, ContactID: contactID, PhoneNumberID: "1001",
			Direction: domain.Outbound, Type: "text", Content: json.RawMessage(`{"body":"hi"}`), Status: domain.StatusQueued, CreatedAt: at}
	}
	queued := func(m domain.Message) domain.Occurrence {
		return domain.Occurred(domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: m.WorkspaceID}, at,
			domain.MessageQueued{MessageID: m.ID, ContactID: m.ContactID, Type: m.Type, PhoneNumberID: m.PhoneNumberID})
	}
	queue := func(t *testing.T, sub SendSubject, m domain.Message) {
		t.Helper()
		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			return r.Messages.Queue(ctx, m, queued(m))
		}))
	}
	// requireMessage checks that got is want as a store reads it back (its content as JSON,
	// which a store may reformat; its time in any zone).
	requireMessage := func(t *testing.T, want, got domain.Message) {
		t.Helper()
		require.JSONEq(t, string(want.Content), string(got.Content))
		want.Content, got.Content = nil, nil
		want.CreatedAt, got.CreatedAt = want.CreatedAt.UTC(), got.CreatedAt.UTC()
		require.Equal(t, want, got)
	}
	ids := func(ms []domain.Message) []domain.ID {
		out := []domain.ID{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}

	t.Run("GetIsScopedByWorkspaceAndView", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		agent, agent2 := domain.NewID(), domain.NewID()
		c := contact(ws, "+14155550100")
		c.AssignedTo = &agent
		c = create(t, sub, c)
		unassigned := create(t, sub, contact(ws, "+14155550101"))
		for _, forUpdate := range []bool{false, true} {
			for _, view := range []contacts.View{{}, {AssignedTo: &agent}} {
				got, err := sub.Contacts.Get(ctx, ws, c.ID, view, forUpdate)
				require.NoError(t, err)
				require.Equal(t, contactstest.UTC(c), contactstest.UTC(got))
			}
			for name, call := range map[string]func() error{
				"another workspace": func() error { _, err := sub.Contacts.Get(ctx, other, c.ID, contacts.View{}, forUpdate); return err },
				"an unknown id": func() error {
					_, err := sub.Contacts.Get(ctx, ws, domain.NewID(), contacts.View{}, forUpdate)
					return err
				},
				"another's contact": func() error {
					_, err := sub.Contacts.Get(ctx, ws, c.ID, contacts.View{AssignedTo: &agent2}, forUpdate)
					return err
				},
				"an unassigned one": func() error {
					_, err := sub.Contacts.Get(ctx, ws, unassigned.ID, contacts.View{AssignedTo: &agent}, forUpdate)
					return err
				},
			} {
				require.Equal(t, domain.KindNotFound, domain.KindOf(call()), name)
			}
		}
	})

	t.Run("ListFindsAContactByPhone", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		agent := domain.NewID()
		c := create(t, sub, contact(ws, "+14155550100"))
		create(t, sub, contact(ws, "+14155550101"))
		elsewhere := create(t, sub, contact(other, "+14155550100"))
		list := func(ws domain.ID, phone string, view contacts.View) []domain.Contact {
			t.Helper()
			got, err := sub.Contacts.List(ctx, ws, contacts.Filter{Phone: phone}, view, 1)
			require.NoError(t, err)
			return got
		}
		got := list(ws, "+14155550100", contacts.View{})
		require.Len(t, got, 1)
		require.Equal(t, contactstest.UTC(c), contactstest.UTC(got[0]))
		got = list(other, "+14155550100", contacts.View{})
		require.Len(t, got, 1)
		require.Equal(t, elsewhere.ID, got[0].ID, "in its workspace")
		require.Empty(t, list(ws, "+14155550199", contacts.View{}), "a phone no contact has")
		require.Empty(t, list(ws, "+14155550100", contacts.View{AssignedTo: &agent}), "a filter cannot widen the view")
	})

	t.Run("SuppressionIsKeptPerAddressInItsWorkspace", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		want := map[string]domain.Suppression{
			"+14155550190": {OptedOut: true},
			"+14155550191": {MarketingOptedOut: true},
			"+14155550192": {OptedOut: true, MarketingOptedOut: true},
			"US.7":         {OptedOut: true}, // a BSUID
		}
		for address, s := range want {
			sub.Suppress(t, ws, address, s, at)
		}
		want["+14155550193"] = domain.Suppression{} // never suppressed
		for address, s := range want {
			got, err := sub.Contacts.Suppression(ctx, ws, address)
			require.NoError(t, err)
			require.Equal(t, s, got, address)
		}
		got, err := sub.Contacts.Suppression(ctx, other, "+14155550190")
		require.NoError(t, err)
		require.Equal(t, domain.Suppression{}, got, "another workspace's list")
	})

	t.Run("CreateReturnsTheContactAsStored", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t, domain.PlanFree)
		agent := domain.NewID()
		c := contact(ws, "+14155550100")
		c.Name, c.Tags, c.AssignedTo, c.Attributes = "Alice", []string{"vip"}, &agent, map[string]any{"city": "Pune"}
		window := at.Add(24 * time.Hour)
		c.LastInboundAt, c.ServiceWindowExpiresAt = &at, &window
		// The opt-outs come from the suppression list, not from c.
		c.OptedOut, c.OptedOutAt, c.OptOutSource, c.MarketingOptedOut = true, &at, domain.OptOutAPI, true
		got := create(t, sub, c)
		want := c
		want.OptedOut, want.OptedOutAt, want.OptOutSource, want.MarketingOptedOut = false, nil, "", false
		require.Equal(t, want, contactstest.UTC(got))
		require.Equal(t, want, contactstest.UTC(get(t, sub, ws, c.ID)))
	})

	t.Run("CreateTakesTheOptOutsOfTheSuppressionList", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		sub.Suppress(t, ws, "+14155550100", domain.Suppression{OptedOut: true, MarketingOptedOut: true}, at)
		sub.Suppress(t, ws, "+14155550101", domain.Suppression{MarketingOptedOut: true}, at)

		both := create(t, sub, contact(ws, "+14155550100"))
		require.True(t, both.OptedOut)
		require.True(t, both.MarketingOptedOut)
		require.Equal(t, domain.OptOutKeyword, both.OptOutSource)
		require.NotNil(t, both.OptedOutAt)
		require.True(t, at.Equal(*both.OptedOutAt), "when the opt-out was made")
		require.Equal(t, contactstest.UTC(both), contactstest.UTC(get(t, sub, ws, both.ID)), "as stored")

		marketing := create(t, sub, contact(ws, "+14155550101"))
		require.Equal(t, domain.Suppression{MarketingOptedOut: true}, marketing.Suppression())
		require.Nil(t, marketing.OptedOutAt)
		require.Empty(t, marketing.OptOutSource)

		require.Equal(t, domain.Suppression{}, create(t, sub, contact(ws, "+14155550102")).Suppression())
		require.Equal(t, domain.Suppression{}, create(t, sub, contact(other, "+14155550100")).Suppression(),
			"another workspace's list")
	})

	t.Run("CreateRefusesATakenPhone", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		first := create(t, sub, contact(ws, "+14155550100"))
		taken := contact(ws, "+14155550100")
		taken.Name = "second"
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			_, err := r.Contacts.Create(ctx, taken)
			return err
		})
		require.Equal(t, domain.KindContactExists, domain.KindOf(err), "%v", err)
		require.Equal(t, contactstest.UTC(first), contactstest.UTC(get(t, sub, ws, first.ID)), "the first contact stays")
		_, err = sub.Contacts.Get(ctx, ws, taken.ID, contacts.View{}, false)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%v", err)
		create(t, sub, contact(other, "+14155550100")) // another workspace's phone is free
	})

	t.Run("QueueStoresTheMessageAndItsEvent", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t, domain.PlanFree)
		m := message(ws, domain.NewID())
		ev := queued(m)
		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			return r.Messages.Queue(ctx, m, ev)
		}))
		got, err := sub.Messages.GetMessage(ctx, ws, m.ID)
		require.NoError(t, err)
		requireMessage(t, m, got)
		require.Equal(t, []eventstest.Row{eventstest.RowOf(ev)}, sub.Events(t, ws), "its event appended")
		entry, ok := ev.AuditEntry()
		require.True(t, ok)
		require.Equal(t, []string{entry.Action}, sub.Actions(t, ws), "with its audit entry")
	})

	t.Run("QueueStoresAMessageOnce", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t, domain.PlanFree)
		m := message(ws, domain.NewID())
		queue(t, sub, m)
		again := m
		again.Content = json.RawMessage(`{"body":"again"}`)
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			return r.Messages.Queue(ctx, again, queued(again))
		})
		require.Error(t, err, "a taken id")
		got, err := sub.Messages.GetMessage(ctx, ws, m.ID)
		require.NoError(t, err)
		requireMessage(t, m, got)
		require.Len(t, sub.Events(t, ws), 1, "and no second event")
	})

	// A transaction keeps its work only when its function returns nil: a send that fails
	// leaves no contact, message, event or Idempotency-Key behind.
	t.Run("ATransactionCommitsOrRollsBack", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t, domain.PlanFree)
		caller := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws}
		c := contact(ws, "+14155550100")
		m := message(ws, c.ID)
		now := time.Now().UTC().Truncate(time.Microsecond)
		rec := messaging.IdempotencyRecord{WorkspaceID: ws, Key: "k", RequestHash: []byte("hash"), Status: 202,
			Body: []byte(`{"status":"queued"}`), CreatedAt: now, ExpiresAt: now.Add(messaging.IdempotencyTTL)}
		send := func(ctx context.Context, r messaging.Repos) error {
			if err := r.Idempotency.Save(ctx, rec); err != nil {
				return err
			}
			if _, err := r.Contacts.Create(ctx, c); err != nil {
				return err
			}
			if err := r.Events.Append(ctx, domain.Occurred(caller, at, domain.ContactCreated{ContactID: c.ID, Phone: c.Phone,
				Source: "message"})); err != nil {
				return err
			}
			return r.Messages.Queue(ctx, m, queued(m))
		}
		boom := errors.New("boom")
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			require.NoError(t, send(ctx, r))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = sub.Contacts.Get(ctx, ws, c.ID, contacts.View{}, false)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "no contact: %v", err)
		_, err = sub.Messages.GetMessage(ctx, ws, m.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "no message: %v", err)
		require.Empty(t, sub.Events(t, ws), "no event")
		_, found, err := sub.Keys.Find(ctx, ws, rec.Key)
		require.NoError(t, err)
		require.False(t, found, "no Idempotency-Key")

		require.NoError(t, sub.Tx.InTx(ctx, send), "the same work again: the phone and the key are free")
		get(t, sub, ws, c.ID)
		_, err = sub.Messages.GetMessage(ctx, ws, m.ID)
		require.NoError(t, err)
		require.Len(t, sub.Events(t, ws), 2)
		_, found, err = sub.Keys.Find(ctx, ws, rec.Key)
		require.NoError(t, err)
		require.True(t, found)
	})

	t.Run("GetMessageIsScopedByWorkspace", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		m := message(ws, domain.NewID())
		queue(t, sub, m)
		_, err := sub.Messages.GetMessage(ctx, other, m.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "another workspace's message: %v", err)
		_, err = sub.Messages.GetMessage(ctx, ws, domain.NewID())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "an unknown id: %v", err)
	})

	t.Run("ListByContactNewestFirstBelowACursor", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		c := domain.NewID()
		var newest []domain.ID
		var last domain.Message
		for range 5 {
			last = message(ws, c)
			queue(t, sub, last)
			newest = append([]domain.ID{last.ID}, newest...)
		}
		queue(t, sub, message(ws, domain.NewID())) // another contact's
		queue(t, sub, message(other, c))           // the same contact id in another workspace
		list := func(contactID, before domain.ID, limit int) []domain.Message {
			t.Helper()
			got, err := sub.Messages.ListByContact(ctx, ws, contactID, before, limit)
			require.NoError(t, err)
			return got
		}
		all := list(c, domain.NilID, 10)
		require.Equal(t, newest, ids(all), "newest first")
		requireMessage(t, last, all[0])
		require.Equal(t, newest[:2], ids(list(c, domain.NilID, 2)), "up to limit")
		require.Equal(t, newest[3:], ids(list(c, newest[2], 10)), "ids below before")
		require.Empty(t, list(c, newest[4], 10))
		require.Empty(t, list(domain.NewID(), domain.NilID, 10), "a contact without messages")
	})

	t.Run("TemplateReadsTheCatalogue", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		sale := domain.Template{ID: domain.NewID(), WorkspaceID: ws, WABAID: "2001", MetaTemplateID: "9001", Name: "summer_sale",
			Language: "en_US", Category: "MARKETING", Status: "PAUSED", QualityRating: "RED", ParameterFormat: domain.ParametersNamed,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hi {{first_name}}"},
				{Type: "BUTTONS", Buttons: []domain.TemplateButton{{Type: "URL", Text: "Shop", URL: "https://x.test/{{1}}"}}}},
			CreatedAt: at, UpdatedAt: at}
		sub.Template(t, sale)
		got, err := sub.Templates.Template(ctx, ws, "2001", "summer_sale", "en_US")
		require.NoError(t, err)
		require.Equal(t, sale.ID, got.ID)
		require.Equal(t, []any{"MARKETING", "PAUSED", "RED", domain.ParametersNamed, sale.Components},
			[]any{got.Category, got.Status, got.QualityRating, got.ParameterFormat, got.Components})
		for _, k := range [][4]any{{ws, "2001", "summer_sale", "pt_BR"}, {ws, "2002", "summer_sale", "en_US"},
			{other, "2001", "summer_sale", "en_US"}, {ws, "2001", "unknown", "en_US"}} {
			_, err := sub.Templates.Template(ctx, k[0].(domain.ID), k[1].(string), k[2].(string), k[3].(string))
			require.True(t, domain.IsKind(err, domain.KindNotFound), "%v: %v", k, err)
		}
	})

	t.Run("LockMarketingCountsRecentMarketing", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := sub.Workspace(t, domain.PlanFree)
		c := create(t, sub, contact(ws, "+14155550301"))
		for i, cat := range []string{"MARKETING", "MARKETING", "UTILITY", "MARKETING"} {
			m := message(ws, c.ID)
			m.Type, m.Category, m.CreatedAt = "template", cat, at.Add(time.Duration(i-2)*24*time.Hour)
			queue(t, sub, m)
		}
		require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r messaging.Repos) error {
			h, caps, err := r.Marketing.LockMarketing(ctx, ws, c.ID, at.Add(-36*time.Hour))
			require.NoError(t, err)
			require.Len(t, h.Sent, 2, "the marketing ones after since: day -1 and day +1")
			require.True(t, h.HoldUntil.IsZero())
			require.Equal(t, domain.DefaultMarketingPerDay, caps.MarketingPerContactPerDay)
			require.Equal(t, domain.DefaultMarketingPerWeek, caps.MarketingPerContactPerWeek)
			return nil
		}))
	})

	t.Run("WorkspaceReadsThePlan", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		for _, plan := range []domain.Plan{domain.PlanFree, domain.PlanPro, domain.PlanEnterprise} {
			ws := sub.Workspace(t, plan)
			w, err := sub.Workspaces.Workspace(ctx, ws)
			require.NoError(t, err)
			require.Equal(t, ws, w.ID)
			require.Equal(t, plan, w.Plan)
		}
		_, err := sub.Workspaces.Workspace(ctx, domain.NewID())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%v", err)
	})

	t.Run("NumbersListsTheWorkspacesNumbersOldestFirst", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other, none := sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree), sub.Workspace(t, domain.PlanFree)
		number := func(ws domain.ID, phoneNumberID string, status domain.NumberStatus) domain.PhoneNumber {
			return domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: phoneNumberID, WABAID: "2001", Status: status,
				Token: domain.Sealed{Ciphertext: []byte("tok"), Nonce: []byte{1}, WrappedKey: []byte{2}, KeyID: "k"}, CreatedAt: at, UpdatedAt: at}
		}
		older, newer := number(ws, "1001", domain.NumberConnected), number(ws, "1002", domain.NumberNeedsReconnect)
		sub.Number(t, newer) // stored first: the order is the ids'
		sub.Number(t, older)
		sub.Number(t, number(other, "1003", domain.NumberConnected))
		got, err := sub.Numbers.List(ctx, ws)
		require.NoError(t, err)
		for i := range got {
			got[i].CreatedAt, got[i].UpdatedAt = got[i].CreatedAt.UTC(), got[i].UpdatedAt.UTC()
		}
		require.Equal(t, []domain.PhoneNumber{older, newer}, got, "every status, oldest first")
		got, err = sub.Numbers.List(ctx, none)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
