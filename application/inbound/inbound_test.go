package inbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/application/inbound/inboundtest"
	"github.com/wabaplatform/waba/domain"
)

const (
	wabaID  = "102290129340398"
	phoneID = "106540352242922"
)

type testBundle struct {
	mem     *inboundtest.Memory
	metrics *counters
	svc     *inbound.Service
	ws      domain.ID
	number  domain.ID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{mem: inboundtest.NewMemory(), metrics: &counters{}, ws: domain.NewID(), number: domain.NewID()}
	b.mem.Numbers = []inbound.NumberInfo{{Number: inbound.Number{WorkspaceID: b.ws, ID: b.number, PhoneNumberID: phoneID, WABAID: wabaID},
		DisplayPhoneNumber: "+1 555-078-3881"}}
	b.svc = inbound.NewService(b.mem, b.metrics)
	return b
}

// The inputs are domain values, as adapters/meta/webhook translates a body (its tests
// cover the translation of the end-to-end suite's fixtures).

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// number is a notification of one change about phoneID.
func number(ch domain.Change) domain.Notification {
	ch.Kind, ch.WABAID, ch.PhoneNumberID = domain.NumberChange, wabaID, phoneID
	return domain.Notification{Changes: []domain.Change{ch}}
}

// received is a notification of one message a customer sent to phoneID.
func received(m domain.InboundMessage) domain.Notification {
	return number(domain.Change{Messages: []domain.InboundMessage{m}})
}

// reported is a notification of one status report about a message sent from phoneID.
func reported(s domain.StatusReport) domain.Notification {
	return number(domain.Change{Statuses: []domain.StatusReport{s}})
}

// templateNews is a notification of one template change of wabaID at the given time.
func templateNews(at int64, u domain.TemplateUpdate) domain.Notification {
	return domain.Notification{Changes: []domain.Change{{Kind: domain.TemplateChange, WABAID: wabaID, At: unix(at), Template: &u}}}
}

// accountNews is a notification of one account-level change of wabaID at the given time.
func accountNews(at int64, u domain.AccountUpdate) domain.Notification {
	return domain.Notification{Changes: []domain.Change{{Kind: domain.AccountChange, WABAID: wabaID, At: unix(at), Account: &u}}}
}

var seq atomic.Int64

// text is a text message from a customer's number to phoneID.
func text(from, body string) domain.Notification {
	n := seq.Add(1)
	return received(domain.InboundMessage{
		WAMID: fmt.Sprintf("wamid.U%d", n), Sender: domain.Sender{WaID: from, Name: "Kim"}, Type: "text",
		At: unix(1768000000 + n), Content: json.RawMessage(fmt.Sprintf(`{"body":%q}`, body)),
		Raw: json.RawMessage(`{}`), Replies: []string{body},
	})
}

// sent is WhatsApp reporting wamid sent, with the pricing a sent status carries.
func sent(wamid string) domain.Notification {
	return reported(domain.StatusReport{WAMID: wamid, Status: "sent", At: unix(1768003000),
		Pricing: json.RawMessage(`{"billable":true,"category":"marketing","pricing_model":"PMP","type":"regular",
			"conversation":{"id":"8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f","expiration_timestamp":"1768089400","origin":{"type":"marketing"}}}`),
		CallbackData: "msg:01946f3a-7c2e-7b41-9d3a-5e8f0c1a2b3c"})
}

// templateApproved is order_confirmation (en_US) approved.
func templateApproved() domain.Notification {
	none := "NONE"
	return templateNews(1768006000, domain.TemplateUpdate{Name: "order_confirmation", Language: "en_US",
		MetaTemplateID: "1689556908129832", Status: "APPROVED", Category: "UTILITY", Reason: &none})
}

// notifications lists its arguments (a batch).
func notifications(ns ...domain.Notification) []domain.Notification { return ns }

func (b *testBundle) contact(t *testing.T, phone string) domain.Contact {
	t.Helper()
	for _, c := range b.mem.Contacts {
		if c.Phone == phone {
			return *c
		}
	}
	t.Fatalf("no contact %s", phone)
	return domain.Contact{}
}

func (b *testBundle) outbound() []domain.Message {
	var out []domain.Message
	for _, m := range b.mem.Messages {
		if m.Direction == domain.Outbound {
			out = append(out, *m)
		}
	}
	return out
}

func TestProcessMessage(t *testing.T) {
	t.Parallel()

	t.Run("StoresMessageContactAndWindow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const body = `{"body":"Hola, \u00bftienen env\u00edo a Monterrey? \ud83c\udf89"}`
		const asReceived = `{"from":"5215512345678","from_user_id":"MX.11398273645501928374","id":"wamid.T1",
			"timestamp":"1768000000","type":"text","text":` + body + `}`
		raw := received(domain.InboundMessage{WAMID: "wamid.T1",
			Sender: domain.Sender{WaID: "5215512345678", BSUID: "MX.11398273645501928374", Name: "José García"},
			Type:   "text", At: unix(1768000000), Content: json.RawMessage(body), Raw: json.RawMessage(asReceived),
			Replies: []string{"Hola, ¿tienen envío a Monterrey? 🎉"}})
		require.NoError(t, b.svc.Process(context.Background(), raw))
		require.NoError(t, b.svc.Process(context.Background(), raw)) // redelivery
		require.Len(t, b.mem.Messages, 1)
		c := b.contact(t, "+5215512345678")
		require.Equal(t, "José García", c.Name)
		require.Equal(t, "5215512345678", c.WaID)
		require.Equal(t, "MX.11398273645501928374", c.BSUID)
		at := time.Unix(1768000000, 0).UTC()
		require.Equal(t, at, *c.LastInboundAt)
		require.Equal(t, at.Add(24*time.Hour), *c.ServiceWindowExpiresAt)
		for _, m := range b.mem.Messages {
			require.Equal(t, domain.Inbound, m.Direction)
			require.Equal(t, domain.StatusReceived, m.Status)
			require.Equal(t, "text", m.Type)
			require.Equal(t, phoneID, m.PhoneNumberID)
			// Content is the type object, as for an outbound text; Meta's message rides in Raw.
			require.JSONEq(t, `{"body":"Hola, \u00bftienen env\u00edo a Monterrey? \ud83c\udf89"}`, string(m.Content))
			require.JSONEq(t, asReceived, string(m.Raw))
		}
		require.Equal(t, []domain.EventKind{domain.EventContactCreated, domain.EventMessageReceived}, kinds(b.mem.Events),
			"the contact the message made, and the message")
	})

	t.Run("ContentIsTheTypeObject", func(t *testing.T) {
		t.Parallel()
		for typ, want := range map[string]string{
			"image":           `{"caption":"Foto del paquete da\u00f1ado","mime_type":"image/jpeg","sha256":"HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=","id":"1479537139650973","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1479537139650973&ext=1768000200&hash=ATtMnG8Lq0yI5yKQ%3D%3D"}`,
			"request_welcome": `{}`,
			"unsupported":     `{"type":"edit"}`,
		} {
			b := setup(t)
			asReceived := `{"from":"16505551234","id":"wamid.C1","type":"` + typ + `","` + typ + `":` + want + `}`
			require.NoError(t, b.svc.Process(context.Background(), received(domain.InboundMessage{WAMID: "wamid.C1",
				Sender: domain.Sender{WaID: "16505551234"}, Type: typ, At: unix(1768000200),
				Content: json.RawMessage(want), Raw: json.RawMessage(asReceived)})))
			require.Len(t, b.mem.Messages, 1, typ)
			for _, m := range b.mem.Messages {
				require.Equal(t, typ, m.Type)
				require.JSONEq(t, want, string(m.Content), typ)
				require.JSONEq(t, asReceived, string(m.Raw), typ)
			}
		}
	})

	t.Run("BSUIDOnlyUser", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.svc.Process(context.Background(), received(domain.InboundMessage{WAMID: "wamid.BR1",
			Sender: domain.Sender{BSUID: "BR.13491208655302741918", Name: "Ana"}, Type: "text", At: unix(1768002100),
			Content: json.RawMessage(`{"body":"Oi!"}`), Raw: json.RawMessage(`{"from_user_id":"BR.13491208655302741918"}`),
			Replies: []string{"Oi!"}})))
		require.Len(t, b.mem.Contacts, 1)
		for _, c := range b.mem.Contacts {
			require.Empty(t, c.Phone)
			require.Equal(t, "BR.13491208655302741918", c.BSUID)
			require.Equal(t, "Ana", c.Name)
		}
	})

	t.Run("NoSenderIsCountedNotFatal", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A message without "from" or "from_user_id": a WAMID, no sender.
		require.NoError(t, b.svc.Process(context.Background(), received(domain.InboundMessage{WAMID: "wamid.X", Type: "text",
			Content: json.RawMessage(`{"body":"hi"}`), Raw: json.RawMessage(`{"id":"wamid.X","type":"text","text":{"body":"hi"}}`),
			Replies: []string{"hi"}})))
		require.Empty(t, b.mem.Messages)
		require.Equal(t, 1, b.metrics.unrouted["sender"])
	})

	t.Run("UnknownNumberIsDropped", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.mem.Numbers = nil
		require.NoError(t, b.svc.Process(context.Background(), text("14155550100", "hi")))
		require.NoError(t, b.svc.Process(context.Background(), templateApproved()))
		require.Empty(t, b.mem.Messages)
		require.Empty(t, b.mem.Templates)
		require.Equal(t, 1, b.metrics.unrouted["phone_number"])
		require.Equal(t, 1, b.metrics.unrouted["waba"])
	})

	t.Run("FailedCommitCountsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.mem.FailNext = errors.New("connection reset")
		require.Error(t, b.svc.Process(context.Background(), text("14155550100", "STOP")))
		require.Empty(t, b.mem.Messages)
		require.Zero(t, b.metrics.out)
		require.NoError(t, b.svc.Process(context.Background(), text("14155550100", "STOP")))
		require.Equal(t, 1, b.metrics.out)
	})
}

func TestProcessAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OneTransactionAndOneLookupForTheBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		raws := notifications(text("14155550100", "hi"), text("14155550101", "hello"), sent("wamid.NeverSent"),
			text("14155550100", "STOP"))
		require.Equal(t, make([]error, len(raws)), b.svc.ProcessAll(ctx, raws))
		require.Equal(t, 1, b.mem.Txs)
		require.Equal(t, 1, b.mem.Lookups, "the number is looked up once per batch")
		require.Len(t, b.mem.Messages, 3+1, "three inbound messages and the opt-out confirmation")
		require.Equal(t, 1, b.metrics.out, "counted after the commit")
		require.Equal(t, 1, b.metrics.unknown)
	})

	t.Run("ConversationsAreToldOncePerBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		bodies := func(calls [][]domain.Arrival) [][]string {
			var out [][]string
			for _, call := range calls {
				var bs []string
				for _, a := range call {
					var c struct{ Body string }
					require.NoError(t, json.Unmarshal(a.Message.Content, &c))
					require.True(t, a.Touch)
					bs = append(bs, c.Body)
				}
				out = append(out, bs)
			}
			return out
		}
		require.Equal(t, make([]error, 3), b.svc.ProcessAll(ctx, notifications(text("14155550111", "hi"), sent("wamid.X"),
			text("14155550112", "hello"))))
		require.Equal(t, [][]string{{"hi", "hello"}}, bodies(b.mem.Arrivals), "one call for the batch's messages")

		// A keyword's confirmation is queued after the messages before it reached their
		// conversations, so the confirmation is the newest message of its conversation.
		b.mem.Arrivals = nil
		require.Equal(t, make([]error, 2), b.svc.ProcessAll(ctx, notifications(text("14155550113", "STOP"),
			text("14155550114", "later"))))
		require.Equal(t, [][]string{{"STOP"}, {"later"}}, bodies(b.mem.Arrivals))
		// Campaigns hear of every message of a batch in one call, at its end (replies).
		require.Equal(t, [][]string{{"hi", "hello"}, {"STOP", "later"}}, bodies(b.mem.ReplyCalls))
	})

	t.Run("InOrderWithinTheBatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		from := "14155550102"
		require.Equal(t, make([]error, 2), b.svc.ProcessAll(ctx, notifications(text(from, "STOP"), text(from, "START"))))
		c := b.contact(t, "+"+from)
		require.False(t, c.OptedOut, "STOP then START leaves the contact opted in")
		require.Equal(t, 1, b.metrics.out)
		require.Equal(t, 1, b.metrics.in)
	})

	t.Run("LocksInOneOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		status := func(wamid string) domain.Notification {
			return reported(domain.StatusReport{WAMID: wamid, Status: "delivered", At: unix(1768003000)})
		}
		raws := notifications(status("wamid.B"), text("14155550109", "b"), status("wamid.A"), text("14155550108", "a"))
		require.Equal(t, make([]error, len(raws)), b.svc.ProcessAll(ctx, raws))
		// Whatever order the jobs came in, every batch locks contacts by sender, then
		// messages by wamid: two batches never wait for each other in a circle.
		require.Equal(t, []string{"+14155550108", "+14155550109", "wamid.A", "wamid.B"}, b.mem.Locked)
	})

	t.Run("AFailingBodyFailsAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.mem.FailText = "poison"
		bad := text("14155550103", "poison")
		errs := b.svc.ProcessAll(ctx, notifications(text("14155550104", "one"), bad, text("14155550105", "STOP")))
		require.NoError(t, errs[0])
		require.ErrorContains(t, errs[1], "cannot store")
		require.NoError(t, errs[2])
		require.Equal(t, 1+3, b.mem.Txs, "the failed batch, then each body alone")
		require.Len(t, b.mem.Messages, 2+1, "the two good messages and one confirmation, nothing of the bad one")
		require.Equal(t, 1, b.metrics.out, "the rolled-back batch counted nothing")
	})

	t.Run("ALoneBodyIsNotRunTwice", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.mem.FailText = "poison"
		errs := b.svc.ProcessAll(ctx, notifications(text("14155550110", "poison")))
		require.ErrorContains(t, errs[0], "cannot store")
		require.Equal(t, 1, b.mem.Txs)
	})

	t.Run("OutOfTimeLeavesTheRetriesToTheQueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.mem.FailNext = context.DeadlineExceeded
		expired, cancel := context.WithCancel(ctx)
		cancel()
		errs := b.svc.ProcessAll(expired, notifications(text("14155550111", "a"), text("14155550112", "b")))
		require.Equal(t, []error{context.DeadlineExceeded, context.DeadlineExceeded}, errs)
		require.Equal(t, 1, b.mem.Txs, "no one-body transactions without time left")
	})

	t.Run("FailedCommitIsRetriedAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.mem.FailNext = errors.New("connection reset")
		require.Equal(t, make([]error, 2), b.svc.ProcessAll(ctx, notifications(text("14155550106", "a"), text("14155550107", "b"))))
		require.Len(t, b.mem.Messages, 2)
	})
}

func TestOptOutKeywords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const from = "14155550100"

	require.NoError(t, b.svc.Process(ctx, text(from, "don't stop")))
	require.False(t, b.contact(t, "+"+from).OptedOut)
	require.NoError(t, b.svc.Process(ctx, text(from, "START")))
	require.Empty(t, b.outbound(), "START from a subscribed contact sends nothing")

	require.NoError(t, b.svc.Process(ctx, text(from, " stop ")))
	c := b.contact(t, "+"+from)
	require.True(t, c.OptedOut)
	require.Equal(t, domain.OptOutKeyword, c.OptOutSource)
	require.NotNil(t, c.OptedOutAt)
	out := b.outbound()
	require.Len(t, out, 1)
	require.Equal(t, domain.StatusQueued, out[0].Status)
	require.Equal(t, phoneID, out[0].PhoneNumberID)
	require.JSONEq(t, `{"body":"`+inbound.DefaultOptOutConfirmation+`"}`, string(out[0].Content))
	require.Equal(t, []domain.ID{out[0].ID}, b.mem.Jobs)
	require.Equal(t, []string{"contact.created", "contact.opted_out", "message.queued"}, actions(b.mem.Audit),
		"the contact the message made, its opt-out and the confirmation queued")
	a := b.mem.Audit[1]
	require.Equal(t, domain.ActorContact, a.ActorType)
	require.Equal(t, c.ID.String(), a.ActorID)
	require.Equal(t, b.ws, a.WorkspaceID)

	require.NoError(t, b.svc.Process(ctx, text(from, "STOP")))
	require.Len(t, b.outbound(), 1, "a second STOP sends nothing")
	require.Len(t, b.mem.Jobs, 1)

	b.mem.Settings[b.ws] = inbound.Settings{OptInConfirmation: "Welcome back!", OptOutKeywords: []string{"BASTA"}}
	require.NoError(t, b.svc.Process(ctx, text(from, "unstop")))
	require.False(t, b.contact(t, "+"+from).OptedOut)
	require.Len(t, b.mem.Jobs, 2)
	require.Equal(t, "contact.opted_in", b.mem.Audit[3].Action)
	var found bool
	for _, m := range b.outbound() {
		found = found || string(m.Content) == `{"body":"Welcome back!"}`
	}
	require.True(t, found, "the workspace's own confirmation is used")

	require.NoError(t, b.svc.Process(ctx, text(from, "basta")))
	require.True(t, b.contact(t, "+"+from).OptedOut, "per-workspace keyword")
	require.Equal(t, 2, b.metrics.out)
	require.Equal(t, 1, b.metrics.in)
}

func TestQuickReplyStop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	button := func(wamid, from, label, payload string) domain.Notification {
		return received(domain.InboundMessage{WAMID: wamid, Sender: domain.Sender{WaID: from, Name: "Kim"}, Type: "button",
			At: unix(1768000000), Content: json.RawMessage(fmt.Sprintf(`{"payload":%q,"text":%q}`, payload, label)),
			Raw: json.RawMessage(`{}`), Replies: []string{label, payload}})
	}
	require.NoError(t, b.svc.Process(context.Background(), button("wamid.B1", "14155550101", "Stop", "p1")))
	require.True(t, b.contact(t, "+14155550101").OptedOut)
	// A "Stop promotions" button (button_quick_reply.json's) is not a default keyword.
	require.NoError(t, b.svc.Process(context.Background(), button("wamid.B2", "16505551234", "Stop promotions", "STOP_PROMOTIONS")))
	require.False(t, b.contact(t, "+16505551234").OptedOut)
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	contact := domain.NewID()
	msg := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: contact, Direction: domain.Outbound,
		Status: domain.StatusQueued, WAMID: "wamid.S1"}
	b.mem.Messages[msg.ID] = &msg

	require.NoError(t, b.svc.Process(ctx, sent("wamid.S1")))
	got := b.mem.Messages[msg.ID]
	require.Equal(t, domain.StatusSent, got.Status)
	require.Equal(t, time.Unix(1768003000, 0).UTC(), *got.SentAt)
	var pricing map[string]any
	require.NoError(t, json.Unmarshal(got.Pricing, &pricing))
	require.Equal(t, "marketing", pricing["category"])
	require.NotNil(t, pricing["conversation"], "the conversation object rides along for the ledger")

	require.NoError(t, b.svc.Process(ctx, sent("wamid.S1"))) // duplicate
	require.Len(t, b.mem.Events, 1)

	// A status for a wamid we never sent is recorded and counted.
	require.NoError(t, b.svc.Process(ctx, reported(domain.StatusReport{WAMID: "wamid.F1", Status: "failed", At: unix(1768003200),
		Error:        &domain.MessageError{Code: 131047, Title: "Re-engagement message", Detail: "More than 24 hours have passed."},
		Errors:       json.RawMessage(`[{"code":131047,"title":"Re-engagement message"}]`),
		CallbackData: "msg:01946f3b-0000-7000-8000-000000000047"})))
	require.Equal(t, 1, b.metrics.unknown)
	require.Len(t, b.mem.Statuses, 2)
}

// A campaign's messages whose status moved go to campaigns, as they now are, in one call
// at the end of the transaction; other messages and reports that move nothing do not.
func TestCampaignMessagesAreToldOncePerTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	campaign := domain.NewID()
	outbound := func(wamid string, c *domain.ID) domain.ID {
		m := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: domain.NewID(), Direction: domain.Outbound,
			Status: domain.StatusQueued, WAMID: wamid, CampaignID: c}
		b.mem.Messages[m.ID] = &m
		return m.ID
	}
	a, bb := outbound("wamid.CA", &campaign), outbound("wamid.CB", &campaign)
	outbound("wamid.plain", nil)
	report := func(wamid, status string, ts int64) domain.Notification {
		return reported(domain.StatusReport{WAMID: wamid, Status: status, At: unix(ts)})
	}
	require.Equal(t, make([]error, 5), b.svc.ProcessAll(ctx, []domain.Notification{
		report("wamid.CA", "sent", 1768003000), report("wamid.CB", "delivered", 1768003001), report("wamid.plain", "sent", 1768003002),
		report("wamid.CA", "read", 1768003003), report("wamid.CB", "sent", 1768003004), // late: moves nothing
	}))
	require.Len(t, b.mem.CampaignCalls, 1, "one call per transaction")
	var got []string
	for _, m := range b.mem.CampaignCalls[0] {
		require.Equal(t, campaign, *m.CampaignID)
		name := map[domain.ID]string{a: "a", bb: "b"}[m.ID]
		got = append(got, name+":"+string(m.Status))
	}
	// The batch is processed sorted by wamid (LocksInOneOrder).
	require.Equal(t, []string{"a:sent", "a:read", "b:delivered"}, got)

	// A transaction that fails tells nothing.
	b.mem.FailNext = errors.New("commit failed")
	require.Error(t, b.svc.Process(ctx, report("wamid.CB", "read", 1768003005)))
	require.Len(t, b.mem.CampaignCalls, 1)
}

func TestApplyStatus(t *testing.T) {
	t.Parallel()
	at := func(s int64) time.Time { return time.Unix(1768000000+s, 0).UTC() }
	failed := &domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "d"}

	tests := []struct {
		name  string
		steps []domain.MessageStatus
		want  domain.MessageStatus
	}{
		{"in order", []domain.MessageStatus{domain.StatusSent, domain.StatusDelivered, domain.StatusRead}, domain.StatusRead},
		{"read first", []domain.MessageStatus{domain.StatusRead, domain.StatusSent, domain.StatusDelivered}, domain.StatusRead},
		{"failed is terminal", []domain.MessageStatus{domain.StatusSent, domain.StatusFailed, domain.StatusDelivered}, domain.StatusFailed},
		{"failed after read", []domain.MessageStatus{domain.StatusRead, domain.StatusFailed}, domain.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := domain.Message{Status: domain.StatusQueued}
			for i, s := range tt.steps {
				var st *domain.MessageError
				if s == domain.StatusFailed {
					st = failed
				}
				inbound.ApplyStatus(&m, s, at(int64(i)), st, nil)
			}
			require.Equal(t, tt.want, m.Status)
			for i, s := range tt.steps {
				var ts *time.Time
				switch s {
				case domain.StatusSent:
					ts = m.SentAt
				case domain.StatusDelivered:
					ts = m.DeliveredAt
				case domain.StatusRead:
					ts = m.ReadAt
				case domain.StatusFailed:
					ts = m.FailedAt
					require.Equal(t, &domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "d"}, m.Error)
				}
				require.Equal(t, at(int64(i)), *ts, "each report keeps its own time")
			}
		})
	}
}

func TestAccountEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const display = "15550783881" // the number's display number, in WhatsApp's digits
	restriction := accountNews(1768006700, domain.AccountUpdate{Field: "account_update", Event: "ACCOUNT_RESTRICTION",
		Payload: json.RawMessage(`{"event":"ACCOUNT_RESTRICTION","restriction_info":[{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING"}]}`)})
	for i, n := range []domain.Notification{
		templateApproved(),
		templateNews(1768006300, domain.TemplateUpdate{Name: "weekly_deals", Language: "en_US", MetaTemplateID: "1689556908129834",
			QualityScore: "YELLOW"}),
		templateNews(1768006400, domain.TemplateUpdate{Name: "order_shipped", Language: "en_US", MetaTemplateID: "1689556908129836",
			Category: "MARKETING"}),
		accountNews(1768006500, domain.AccountUpdate{Field: "phone_number_quality_update", Event: "UPGRADE",
			Payload: json.RawMessage(`{"display_phone_number":"15550783881","event":"UPGRADE","current_limit":"TIER_10K"}`),
			Number:  &domain.NumberUpdate{DisplayPhoneNumber: display, MessagingLimitTier: "TIER_10K"}}),
		accountNews(1768006600, domain.AccountUpdate{Field: "phone_number_name_update", Event: "APPROVED",
			Payload: json.RawMessage(`{"display_phone_number":"15550783881","decision":"APPROVED"}`),
			Number:  &domain.NumberUpdate{DisplayPhoneNumber: display, NameStatus: "APPROVED", VerifiedName: "Panadería José"}}),
		accountNews(1768007000, domain.AccountUpdate{Field: "business_capability_update",
			Payload: json.RawMessage(`{"max_daily_conversations_per_business":2000}`), LimitTier: "TIER_2K"}),
		restriction,
		accountNews(1768006900, domain.AccountUpdate{Field: "account_alerts", Event: "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED",
			Payload: json.RawMessage(`{"entity_type":"BUSINESS","alert_info":{"alert_severity":"WARNING"}}`)}),
		restriction,
	} {
		require.NoError(t, b.svc.Process(ctx, n), i)
	}
	tpl := b.mem.Templates[inboundtest.TemplateKey{WABAID: wabaID, Name: "order_confirmation", Language: "en_US"}]
	require.Equal(t, "APPROVED", tpl.Status)
	require.Equal(t, "1689556908129832", tpl.MetaTemplateID)
	require.Equal(t, b.ws, tpl.WorkspaceID)

	changes := b.mem.NumberChanges[b.number]
	require.Contains(t, changes, inbound.NumberChange{MessagingLimitTier: "TIER_10K"})
	require.Contains(t, changes, inbound.NumberChange{MessagingLimitTier: "TIER_2K"})
	require.Contains(t, changes, inbound.NumberChange{NameStatus: "APPROVED", VerifiedName: "Panadería José"})
	// quality, name, capability, restriction (delivered twice: kept once), alerts.
	require.Len(t, b.mem.Accounts, 5)

	// A quality event for a display number the WABA does not have is counted.
	other := accountNews(1768007100, domain.AccountUpdate{Field: "phone_number_quality_update", Event: "UPGRADE",
		Payload: json.RawMessage(`{"display_phone_number":"15550000000","event":"UPGRADE","current_limit":"TIER_1K"}`),
		Number:  &domain.NumberUpdate{DisplayPhoneNumber: "15550000000", MessagingLimitTier: "TIER_1K"}})
	require.NoError(t, b.svc.Process(ctx, other))
	require.Equal(t, 1, b.metrics.unrouted["number"])
}

// An older FLAGGED quality event stores the number's quality as RED, where campaigns read
// it.
func TestFlaggedNumberIsRed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flagged := accountNews(1768006500, domain.AccountUpdate{Field: "phone_number_quality_update", Event: "FLAGGED",
		Payload: json.RawMessage(`{"display_phone_number":"15550783881","event":"FLAGGED"}`),
		Number:  &domain.NumberUpdate{DisplayPhoneNumber: "15550783881", QualityRating: "RED"}})
	require.NoError(t, b.svc.Process(context.Background(), flagged))
	require.Contains(t, b.mem.NumberChanges[b.number], inbound.NumberChange{QualityRating: "RED"})
}

func TestUserPreferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	stop := number(domain.Change{Preferences: []domain.PreferenceChange{{
		Sender: domain.Sender{WaID: "16505551234", Name: "Sheena Nelson"}, Stop: true, Category: "marketing_messages"}}})
	require.NoError(t, b.svc.Process(ctx, stop))
	c := b.contact(t, "+16505551234")
	require.True(t, c.MarketingOptedOut)
	require.False(t, c.OptedOut, "a marketing stop is not a full opt-out")
	require.Equal(t, []string{"contact.created", "contact.marketing_opted_out"}, actions(b.mem.Audit))
	require.NoError(t, b.svc.Process(ctx, stop))
	require.Len(t, b.mem.Audit, 2, "no change, no audit")
}

func TestNewIdentity(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+16505551234", inbound.NewIdentity("16505551234", "", " Sheena ").Phone)
	require.Equal(t, "Sheena", inbound.NewIdentity("16505551234", "", " Sheena ").Name)
	// WhatsApp's Mexican wa_id form is not a valid number for libphonenumber: kept as is.
	require.Equal(t, "+5215512345678", inbound.NewIdentity("5215512345678", "", "").Phone)
	require.Empty(t, inbound.NewIdentity("", "BR.1", "").Phone)
	long := strings.Repeat("é", domain.MaxContactNameRunes+5)
	require.Equal(t, strings.Repeat("é", domain.MaxContactNameRunes), inbound.NewIdentity("16505551234", "", long).Name,
		"a profile name is cut to a contact name's limit, in characters")
}

func TestEventIDIsStable(t *testing.T) {
	t.Parallel()
	require.Equal(t, inbound.EventID("a", "b"), inbound.EventID("a", "b"))
	require.NotEqual(t, inbound.EventID("a", "b"), inbound.EventID("ab", ""))
}

func kinds(os []domain.Occurrence) []domain.EventKind {
	out := make([]domain.EventKind, len(os))
	for i, o := range os {
		out[i] = o.Event.Kind()
	}
	return out
}

func actions(es []domain.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}
