package inboundtest

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
)

// Subject is an implementation of the inbound repository ports under the contract, with
// what the contract needs to set up and inspect around it (the ports read little back).
type Subject struct {
	Directory inbound.Directory
	Contacts  inbound.ContactStore
	Messages  inbound.MessageStore
	Accounts  inbound.AccountStore
	// Workspace creates a workspace (default opt-out settings) and returns its id.
	Workspace func(t *testing.T) domain.ID
	// Number connects n (its WorkspaceID and ID set) to its workspace.
	Number func(t *testing.T, n inbound.NumberInfo)
	// Outbound stores a queued outbound message.
	Outbound func(t *testing.T, m domain.Message)
	// Contact and Message read one back; DeleteContact erases a contact (its suppression
	// list entries stay).
	Contact       func(t *testing.T, ws, id domain.ID) domain.Contact
	Message       func(t *testing.T, ws, id domain.ID) domain.Message
	DeleteContact func(t *testing.T, ws, id domain.ID)
	// Events is the event log of ws, oldest first.
	Events func(t *testing.T, ws domain.ID) []eventstest.Row
	// NumberState is what UpdateNumber may change of a number.
	NumberState func(t *testing.T, ws, id domain.ID) inbound.NumberChange
	// AccountEvents counts the account events kept with id.
	AccountEvents func(t *testing.T, id domain.ID) int
}

// NewSubject returns m as a contract subject.
func NewSubject(m *Memory) Subject {
	return Subject{Directory: m, Contacts: m, Messages: m, Accounts: m,
		Workspace: func(*testing.T) domain.ID { return domain.NewID() },
		Number:    func(_ *testing.T, n inbound.NumberInfo) { m.Numbers = append(m.Numbers, n) },
		Outbound: func(t *testing.T, msg domain.Message) {
			require.NoError(t, m.CreateOutbound(context.Background(), msg))
		},
		Contact: func(t *testing.T, ws, id domain.ID) domain.Contact {
			c, ok := m.Contacts[id]
			require.True(t, ok && c.WorkspaceID == ws, "no contact %s", id)
			return *c
		},
		Message: func(t *testing.T, ws, id domain.ID) domain.Message {
			msg, ok := m.Messages[id]
			require.True(t, ok && msg.WorkspaceID == ws, "no message %s", id)
			return *msg
		},
		DeleteContact: func(_ *testing.T, _, id domain.ID) { delete(m.Contacts, id) },
		Events: func(_ *testing.T, ws domain.ID) []eventstest.Row {
			var out []eventstest.Row
			for _, o := range m.Events {
				if o.WorkspaceID() == ws {
					out = append(out, eventstest.RowOf(o))
				}
			}
			return out
		},
		NumberState: func(_ *testing.T, _, id domain.ID) inbound.NumberChange {
			return m.NumberStates[id]
		},
		AccountEvents: func(_ *testing.T, id domain.ID) int {
			if _, ok := m.Accounts[id]; ok {
				return 1
			}
			return 0
		},
	}
}

// RunContract holds the repository ports of application/inbound (Directory, ContactStore,
// MessageStore, AccountStore) to what ports.go promises. newSubject returns a
// fresh subject for each sub-test.
func RunContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var seq atomic.Int64
	uniq := func(prefix string) string {
		return prefix + time.Duration(seq.Add(1)).String() + domain.NewID().String()[:8]
	}
	sameTime := func(t *testing.T, want time.Time, got *time.Time, msg string) {
		t.Helper()
		require.NotNil(t, got, msg)
		require.True(t, want.Equal(*got), "%s: want %v, got %v", msg, want, *got)
	}
	find := func(t *testing.T, s Subject, ws domain.ID, id inbound.Identity) domain.Contact {
		t.Helper()
		c, _, err := s.Contacts.FindOrCreate(ctx, ws, id, at)
		require.NoError(t, err)
		return c
	}

	t.Run("DirectoryRoutesNumbersOfTheirWorkspace", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		waba, pid1, pid2 := uniq("waba"), uniq("pn"), uniq("pn")
		n1 := inbound.NumberInfo{Number: inbound.Number{WorkspaceID: ws, ID: domain.NewID(), PhoneNumberID: pid1, WABAID: waba}, DisplayPhoneNumber: "+1 555-078-3881"}
		n2 := inbound.NumberInfo{Number: inbound.Number{WorkspaceID: other, ID: domain.NewID(), PhoneNumberID: pid2, WABAID: waba}, DisplayPhoneNumber: "+1 555-078-3882"}
		s.Number(t, n1)
		s.Number(t, n2)
		r, ok, err := s.Directory.RouteByPhoneNumberID(ctx, pid2)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, inbound.Route{Number: n2.Number, Settings: inbound.Settings{OptOutKeywords: []string{}, OptInKeywords: []string{}}}, r)
		_, ok, err = s.Directory.RouteByPhoneNumberID(ctx, uniq("unknown"))
		require.NoError(t, err)
		require.False(t, ok)
		nums, err := s.Directory.NumbersByWABA(ctx, waba)
		require.NoError(t, err)
		require.Equal(t, []inbound.NumberInfo{n1, n2}, nums, "oldest first")
		nums, err = s.Directory.NumbersByWABA(ctx, uniq("waba"))
		require.NoError(t, err)
		require.Empty(t, nums)
	})

	t.Run("FindOrCreateByPhoneThenBSUID", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		c := find(t, s, ws, inbound.NewIdentity("14155550100", "", "Ann"))
		require.Equal(t, "+14155550100", c.Phone)
		require.Equal(t, "14155550100", c.WaID)
		require.Equal(t, "Ann", c.Name)
		require.False(t, c.OptedOut)
		require.Equal(t, c, s.Contact(t, ws, c.ID))
		again := find(t, s, ws, inbound.NewIdentity("14155550100", "US.1", "Other name"))
		require.Equal(t, c.ID, again.ID)
		require.Equal(t, "Ann", again.Name, "an existing name is kept")
		require.Equal(t, "US.1", again.BSUID, "a missing BSUID is filled in")
		require.NotEqual(t, c.ID, find(t, s, other, inbound.NewIdentity("14155550100", "US.1", "")).ID, "another workspace's contact")

		// Known by its BSUID first, then the number shows up: one contact.
		b := find(t, s, ws, inbound.NewIdentity("", "US.2", ""))
		require.Empty(t, b.Phone)
		require.Equal(t, "US.2", b.BSUID)
		b2 := find(t, s, ws, inbound.NewIdentity("14155550101", "US.2", "Bob"))
		require.Equal(t, b.ID, b2.ID)
		require.Equal(t, "+14155550101", b2.Phone)
		require.Equal(t, "14155550101", b2.WaID)
		require.Equal(t, "Bob", b2.Name, "a missing name is filled in")
		require.Equal(t, b2, s.Contact(t, ws, b.ID))

		// The phone decides: a BSUID whose contact has another number goes to no one.
		d := find(t, s, ws, inbound.NewIdentity("14155550102", "US.2", ""))
		require.NotEqual(t, b.ID, d.ID)
		require.Empty(t, d.BSUID)
		// A found contact does not take a BSUID another contact holds.
		e := find(t, s, ws, inbound.NewIdentity("", "US.3", ""))
		d2 := find(t, s, ws, inbound.NewIdentity("14155550102", "US.3", ""))
		require.Equal(t, d.ID, d2.ID)
		require.Empty(t, d2.BSUID)
		require.Equal(t, "US.3", s.Contact(t, ws, e.ID).BSUID)
	})

	t.Run("OptOutsLiveInTheSuppressionList", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws := s.Workspace(t)
		// A keyword opt-out is kept under the phone and the BSUID.
		c := find(t, s, ws, inbound.NewIdentity("14155550100", "US.1", ""))
		require.NoError(t, s.Contacts.SetOptOut(ctx, ws, c.ID, true, at))
		got := s.Contact(t, ws, c.ID)
		require.True(t, got.OptedOut)
		require.Equal(t, domain.OptOutKeyword, got.OptOutSource)
		sameTime(t, at, got.OptedOutAt, "opted out at")
		s.DeleteContact(t, ws, c.ID)
		for _, id := range []inbound.Identity{inbound.NewIdentity("14155550100", "", ""), inbound.NewIdentity("", "US.1", "")} {
			n := find(t, s, ws, id)
			require.True(t, n.OptedOut, "%+v starts opted out", id)
			require.Equal(t, domain.OptOutKeyword, n.OptOutSource)
			sameTime(t, at, n.OptedOutAt, "kept opt-out")
			if id.BSUID == "" {
				// An opt-in clears the contact and the list.
				require.NoError(t, s.Contacts.SetOptOut(ctx, ws, n.ID, false, at.Add(time.Hour)))
				in := s.Contact(t, ws, n.ID)
				require.False(t, in.OptedOut)
				require.Nil(t, in.OptedOutAt)
				require.Empty(t, in.OptOutSource)
				s.DeleteContact(t, ws, n.ID)
				require.False(t, find(t, s, ws, id).OptedOut, "an opt-in lifts the phone's entry")
			}
		}

		// Marketing: changed only when the value changes, and kept in the list.
		m := find(t, s, ws, inbound.NewIdentity("14155550103", "", ""))
		for _, step := range []struct{ value, changed bool }{{true, true}, {true, false}, {false, true}, {false, false}, {true, true}} {
			changed, err := s.Contacts.SetMarketingOptOut(ctx, ws, m.ID, step.value)
			require.NoError(t, err)
			require.Equal(t, step.changed, changed, "%+v", step)
			require.Equal(t, step.value, s.Contact(t, ws, m.ID).MarketingOptedOut)
		}
		s.DeleteContact(t, ws, m.ID)
		require.True(t, find(t, s, ws, inbound.NewIdentity("14155550103", "", "")).MarketingOptedOut)

		// A contact gaining an address takes the opt-out kept under it ...
		x := find(t, s, ws, inbound.NewIdentity("14155550104", "", ""))
		y := find(t, s, ws, inbound.NewIdentity("", "US.4", ""))
		require.NoError(t, s.Contacts.SetOptOut(ctx, ws, y.ID, true, at))
		s.DeleteContact(t, ws, y.ID)
		x2 := find(t, s, ws, inbound.NewIdentity("14155550104", "US.4", ""))
		require.Equal(t, x.ID, x2.ID)
		require.True(t, x2.OptedOut, "the BSUID's opt-out joins the contact")
		sameTime(t, at, x2.OptedOutAt, "the BSUID's opt-out time")
		// ... and keeps its own under the new address.
		z := find(t, s, ws, inbound.NewIdentity("14155550105", "", ""))
		require.NoError(t, s.Contacts.SetOptOut(ctx, ws, z.ID, true, at))
		_, err := s.Contacts.SetMarketingOptOut(ctx, ws, z.ID, true)
		require.NoError(t, err)
		find(t, s, ws, inbound.NewIdentity("14155550105", "US.5", ""))
		s.DeleteContact(t, ws, z.ID)
		z2 := find(t, s, ws, inbound.NewIdentity("", "US.5", ""))
		require.True(t, z2.OptedOut, "the contact's opt-out is kept under its new BSUID")
		require.True(t, z2.MarketingOptedOut, "and its marketing opt-out")
	})

	inboundMsg := func(ws, contact domain.ID, wamid string, created time.Time) domain.Message {
		return domain.Message{ID: domain.NewID(), WorkspaceID: ws, ContactID: contact, PhoneNumberID: "1065",
			Direction: domain.Inbound, Type: "text", Content: json.RawMessage(`{"body":"hi"}`), Status: domain.StatusReceived,
			WAMID: wamid, CreatedAt: created}
	}
	received := func(m domain.Message) domain.Occurrence {
		return domain.Occurred(domain.Caller{Type: domain.ActorContact, ID: m.ContactID, WorkspaceID: m.WorkspaceID}, m.CreatedAt,
			domain.MessageReceived{MessageID: m.ID, ContactID: m.ContactID, WAMID: m.WAMID, Type: m.Type})
	}

	t.Run("ReceiveInboundOncePerWAMIDMovingTheWindowForward", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws := s.Workspace(t)
		c := find(t, s, ws, inbound.NewIdentity("14155550100", "", ""))
		wamid := uniq("wamid.")
		exists, err := s.Messages.WAMIDExists(ctx, wamid)
		require.NoError(t, err)
		require.False(t, exists)

		// Not touching leaves the window.
		quiet := inboundMsg(ws, c.ID, uniq("wamid."), at)
		ins, err := s.Messages.ReceiveInbound(ctx, quiet, false, received(quiet))
		require.NoError(t, err)
		require.True(t, ins)
		require.Nil(t, s.Contact(t, ws, c.ID).LastInboundAt)

		m := inboundMsg(ws, c.ID, wamid, at.Add(time.Hour))
		ins, err = s.Messages.ReceiveInbound(ctx, m, true, received(m))
		require.NoError(t, err)
		require.True(t, ins)
		got := s.Message(t, ws, m.ID)
		require.Equal(t, []any{c.ID, domain.Inbound, "text", domain.StatusReceived, wamid},
			[]any{got.ContactID, got.Direction, got.Type, got.Status, got.WAMID})
		require.JSONEq(t, `{"body":"hi"}`, string(got.Content))
		exists, err = s.Messages.WAMIDExists(ctx, wamid)
		require.NoError(t, err)
		require.True(t, exists)
		touched := s.Contact(t, ws, c.ID)
		sameTime(t, m.CreatedAt, touched.LastInboundAt, "last inbound")
		sameTime(t, m.CreatedAt.Add(domain.ServiceWindow), touched.ServiceWindowExpiresAt, "window")

		// The same wamid again: nothing, not even an event or a window move.
		dup := inboundMsg(ws, c.ID, wamid, at.Add(2*time.Hour))
		ins, err = s.Messages.ReceiveInbound(ctx, dup, true, received(dup))
		require.NoError(t, err)
		require.False(t, ins)
		sameTime(t, m.CreatedAt, s.Contact(t, ws, c.ID).LastInboundAt, "a duplicate moves nothing")
		// An older message does not move the window back.
		old := inboundMsg(ws, c.ID, uniq("wamid."), at.Add(30*time.Minute))
		ins, err = s.Messages.ReceiveInbound(ctx, old, true, received(old))
		require.NoError(t, err)
		require.True(t, ins)
		sameTime(t, m.CreatedAt, s.Contact(t, ws, c.ID).LastInboundAt, "never back")
		sameTime(t, m.CreatedAt.Add(domain.ServiceWindow), s.Contact(t, ws, c.ID).ServiceWindowExpiresAt, "window never back")

		evs := s.Events(t, ws)
		require.Len(t, evs, 3)
		require.Equal(t, eventstest.RowOf(received(m)), evs[1])
	})

	outbound := func(t *testing.T, s Subject, ws domain.ID, wamid string) domain.Message {
		t.Helper()
		c := find(t, s, ws, inbound.NewIdentity("14155550199", "", ""))
		m := domain.Message{ID: domain.NewID(), WorkspaceID: ws, ContactID: c.ID, PhoneNumberID: "1065",
			Direction: domain.Outbound, Type: "text", Content: json.RawMessage(`{"body":"hello"}`), Status: domain.StatusQueued,
			Purpose: domain.PurposeConversation, WAMID: wamid, CreatedAt: at}
		s.Outbound(t, m)
		return m
	}

	t.Run("RecordStatusOncePerWAMIDAndStatus", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		wamid := uniq("wamid.")
		m := outbound(t, s, ws, wamid)
		r := domain.StatusReport{WAMID: wamid, Status: "sent", At: at}
		for i, fresh := range []bool{true, false} {
			f, got, ok, err := s.Messages.RecordStatus(ctx, ws, r)
			require.NoError(t, err)
			require.Equal(t, fresh, f, i)
			require.True(t, ok)
			require.Equal(t, m.ID, got.ID)
			require.Equal(t, domain.Outbound, got.Direction)
		}
		r.Status = "delivered"
		f, _, ok, err := s.Messages.RecordStatus(ctx, ws, r)
		require.NoError(t, err)
		require.True(t, f && ok, "another status of the same wamid is fresh")

		r.Status = "read"
		f, _, ok, err = s.Messages.RecordStatus(ctx, other, r)
		require.NoError(t, err)
		require.True(t, f)
		require.False(t, ok, "another workspace's message is not found")

		// A report of a wamid we do not know is recorded all the same.
		unknown := domain.StatusReport{WAMID: uniq("wamid."), Status: "sent", At: at,
			Errors: json.RawMessage(`[{"code":131047}]`)}
		for i, fresh := range []bool{true, false} {
			f, _, ok, err = s.Messages.RecordStatus(ctx, ws, unknown)
			require.NoError(t, err)
			require.Equal(t, fresh, f, i)
			require.False(t, ok)
		}
		// An inbound message is never the one a status is about.
		c := find(t, s, ws, inbound.NewIdentity("14155550100", "", ""))
		in := inboundMsg(ws, c.ID, uniq("wamid."), at)
		_, err = s.Messages.ReceiveInbound(ctx, in, false, received(in))
		require.NoError(t, err)
		_, _, ok, err = s.Messages.RecordStatus(ctx, ws, domain.StatusReport{WAMID: in.WAMID, Status: "sent", At: at})
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("LinkOutboundOnlyAFreeWAMIDToAMessageWithout", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		taken := uniq("wamid.")
		linked := outbound(t, s, ws, taken)
		m := outbound(t, s, ws, "")
		for name, call := range map[string]func() (domain.Message, bool, error){
			"a taken wamid":     func() (domain.Message, bool, error) { return s.Messages.LinkOutbound(ctx, ws, m.ID, taken) },
			"another workspace": func() (domain.Message, bool, error) { return s.Messages.LinkOutbound(ctx, other, m.ID, uniq("wamid.")) },
			"an unknown id": func() (domain.Message, bool, error) {
				return s.Messages.LinkOutbound(ctx, ws, domain.NewID(), uniq("wamid."))
			},
			"a linked message": func() (domain.Message, bool, error) {
				return s.Messages.LinkOutbound(ctx, ws, linked.ID, uniq("wamid."))
			},
		} {
			_, ok, err := call()
			require.NoError(t, err, name)
			require.False(t, ok, name)
		}
		require.Empty(t, s.Message(t, ws, m.ID).WAMID)
		wamid := uniq("wamid.")
		got, ok, err := s.Messages.LinkOutbound(ctx, ws, m.ID, wamid)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, m.ID, got.ID)
		require.Equal(t, wamid, got.WAMID)
		require.Equal(t, wamid, s.Message(t, ws, m.ID).WAMID)
		_, ok, err = s.Messages.LinkOutbound(ctx, ws, m.ID, uniq("wamid."))
		require.NoError(t, err)
		require.False(t, ok, "linked once")
		_, _, ok, err = s.Messages.RecordStatus(ctx, ws, domain.StatusReport{WAMID: wamid, Status: "sent", At: at})
		require.NoError(t, err)
		require.True(t, ok, "a linked message is found by its wamid")
	})

	t.Run("UpdateDeliveryWritesTheDeliveryAndItsEvent", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws := s.Workspace(t)
		m := outbound(t, s, ws, uniq("wamid."))
		sent, failed := at.Add(time.Second), at.Add(2*time.Second)
		u := m
		u.Status, u.SentAt, u.FailedAt = domain.StatusFailed, &sent, &failed
		u.Error = &domain.MessageError{Code: 131047, Title: "Re-engagement message", Detail: "More than 24 hours"}
		u.Pricing = json.RawMessage(`{"billable":true,"category":"service"}`)
		ev := domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws}, failed, domain.MessageStatusChanged{
			MessageID: u.ID, ContactID: u.ContactID, WAMID: u.WAMID, Reported: "failed", Status: u.Status, Previous: m.Status})
		require.NoError(t, s.Messages.UpdateDelivery(ctx, u, ev))
		got := s.Message(t, ws, m.ID)
		require.Equal(t, domain.StatusFailed, got.Status)
		sameTime(t, sent, got.SentAt, "sent")
		sameTime(t, failed, got.FailedAt, "failed")
		require.Nil(t, got.DeliveredAt)
		require.Nil(t, got.ReadAt)
		require.Equal(t, u.Error, got.Error)
		require.JSONEq(t, string(u.Pricing), string(got.Pricing))
		require.Equal(t, []eventstest.Row{eventstest.RowOf(ev)}, s.Events(t, ws))
	})

	t.Run("UpdateNumberNonEmptyFieldsWin", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws := s.Workspace(t)
		n := inbound.NumberInfo{Number: inbound.Number{WorkspaceID: ws, ID: domain.NewID(), PhoneNumberID: uniq("pn"), WABAID: uniq("waba")}}
		s.Number(t, n)
		base := s.NumberState(t, ws, n.ID)
		require.NoError(t, s.Accounts.UpdateNumber(ctx, ws, n.ID, inbound.NumberChange{MessagingLimitTier: "TIER_10K", VerifiedName: "Shop"}))
		require.NoError(t, s.Accounts.UpdateNumber(ctx, ws, n.ID, inbound.NumberChange{NameStatus: "APPROVED", QualityRating: "GREEN"}))
		want := base
		want.MessagingLimitTier, want.VerifiedName, want.NameStatus, want.QualityRating = "TIER_10K", "Shop", "APPROVED", "GREEN"
		require.Equal(t, want, s.NumberState(t, ws, n.ID))
		require.NoError(t, s.Accounts.UpdateNumber(ctx, ws, n.ID, inbound.NumberChange{Status: domain.NumberNeedsReconnect, FailureReason: "policy"}))
		want.Status, want.FailureReason = domain.NumberNeedsReconnect, "policy"
		require.Equal(t, want, s.NumberState(t, ws, n.ID))
		require.NoError(t, s.Accounts.UpdateNumber(ctx, ws, n.ID, inbound.NumberChange{FailureReason: "ignored without a status"}))
		require.Equal(t, want, s.NumberState(t, ws, n.ID))
		// Another workspace's number is not changed.
		require.NoError(t, s.Accounts.UpdateNumber(ctx, s.Workspace(t), n.ID, inbound.NumberChange{VerifiedName: "Thief"}))
		require.Equal(t, want, s.NumberState(t, ws, n.ID))
	})

	t.Run("RecordAccountEventOncePerID", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws := s.Workspace(t)
		e := inbound.AccountEvent{ID: domain.NewID(), WorkspaceID: &ws, WABAID: uniq("waba"), Field: "account_update",
			Event: "ACCOUNT_RESTRICTION", Payload: json.RawMessage(`{"event":"ACCOUNT_RESTRICTION"}`), At: at}
		require.Equal(t, 0, s.AccountEvents(t, e.ID))
		require.NoError(t, s.Accounts.RecordAccountEvent(ctx, e))
		require.NoError(t, s.Accounts.RecordAccountEvent(ctx, e))
		require.Equal(t, 1, s.AccountEvents(t, e.ID))
		unowned := e
		unowned.ID, unowned.WorkspaceID = domain.NewID(), nil
		require.NoError(t, s.Accounts.RecordAccountEvent(ctx, unowned))
		require.Equal(t, 1, s.AccountEvents(t, unowned.ID))
	})
}
