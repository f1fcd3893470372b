package messaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/messaging/messagingtest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type testBundle struct {
	db                   *messagingtest.Memory
	contacts             *contactstest.Memory // db's
	quota                *quota
	svc                  *messaging.Service
	ws                   domain.ID
	owner, agent, viewer domain.Caller
	open, closed         domain.Contact
	number               domain.PhoneNumber // the workspace's connected number
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	cs := contactstest.NewMemory()
	db, q := messagingtest.NewMemory(cs), newQuota()
	ws := domain.NewID()
	db.PutWorkspace(domain.Workspace{ID: ws, Name: "Acme", Plan: domain.PlanFree})
	b := &testBundle{db: db, contacts: cs, quota: q, svc: newService(db, q), ws: ws,
		owner:  domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Owner},
		agent:  domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Agent},
		viewer: domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Viewer},
	}
	later := time.Now().Add(time.Hour)
	b.open = domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: "+14155550101", WaID: "14155550101", ServiceWindowExpiresAt: &later}
	b.closed = domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: "+14155550102", WaID: "14155550102"}
	cs.Put(b.open)
	cs.Put(b.closed)
	b.number = domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "1001", WABAID: "2001", Status: domain.NumberConnected}
	db.PutNumber(b.number)
	putTemplate(b, "hello_world", domain.CategoryUtility)
	return b
}

// putTemplate puts an approved template without parameters on the number's WABA.
func putTemplate(b *testBundle, name, category string) {
	b.db.PutTemplate(domain.Template{ID: domain.NewID(), WorkspaceID: b.ws, WABAID: "2001", Name: name, Language: "en_US",
		Category: category, Status: domain.TemplateApproved, ParameterFormat: domain.ParametersPositional,
		Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hello"}}})
}

func text(to, body string) messaging.SendInput {
	return messaging.SendInput{To: to, Type: "text", Content: json.RawMessage(`{"body":` + mustQuote(body) + `}`)}
}

func tmpl(to, name string) messaging.SendInput {
	return messaging.SendInput{To: to, Type: "template", Content: json.RawMessage(`{"name":"` + name + `","language":{"code":"en_US"}}`)}
}

func mustQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func kind(err error) domain.Kind {
	if err == nil {
		return ""
	}
	return domain.KindOf(err)
}

func TestSendQueuesInOneTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.svc.Send(context.Background(), b.owner, text(b.open.ID.String(), "hello"))
	require.NoError(t, err)
	m := res.Message
	require.Equal(t, domain.StatusQueued, m.Status)
	require.Equal(t, "1001", m.PhoneNumberID)
	require.Equal(t, b.open.ID, m.ContactID)
	stored, ok := b.db.Message(b.ws, m.ID)
	require.True(t, ok)
	require.Equal(t, b.open.ID, stored.ContactID)
	require.Equal(t, 1, b.db.Jobs()[m.ID], "a single reply gets the first priority")
	evs := b.db.Events()
	require.Equal(t, domain.EventMessageQueued, evs[len(evs)-1].Event.Kind())
	require.Equal(t, 99, res.Quota.Remaining)
}

func TestSendChecksInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	b := setup(t)
	// forbidden before anything is counted.
	_, err := b.svc.Send(ctx, b.viewer, messaging.SendInput{})
	require.Equal(t, domain.KindForbidden, kind(err))
	require.Zero(t, b.quota.taken())
	// an agent: 404 for a contact not theirs, before the quota.
	_, err = b.svc.Send(ctx, b.agent, text(b.open.ID.String(), "x"))
	require.Equal(t, domain.KindNotFound, kind(err))
	_, err = b.svc.Send(ctx, b.agent, text(b.open.Phone, "x"))
	require.Equal(t, domain.KindNotFound, kind(err))
	require.Zero(t, b.quota.taken())

	// rate limited before not-connected, opted-out, window and validation.
	b.quota.set(100)
	gone := b.number
	gone.Status = domain.NumberNeedsReconnect // no connected number left
	b.db.PutNumber(gone)
	optedOut := domain.Contact{ID: domain.NewID(), WorkspaceID: b.ws, Phone: "+14155550103", WaID: "14155550103", OptedOut: true}
	b.contacts.Put(optedOut)
	res, err := b.svc.Send(ctx, b.owner, messaging.SendInput{To: optedOut.ID.String(), Type: "bogus"})
	require.Equal(t, domain.KindRateLimited, kind(err))
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Positive(t, de.RetryAfter)
	require.NotNil(t, res.Quota)
	require.True(t, res.Quota.Reached)

	b.quota.set(0)
	_, err = b.svc.Send(ctx, b.owner, messaging.SendInput{To: optedOut.ID.String(), Type: "bogus"})
	require.Equal(t, domain.KindNotConnected, kind(err))

	b = setup(t)
	optedOut.WorkspaceID = b.ws
	b.contacts.Put(optedOut)
	_, err = b.svc.Send(ctx, b.owner, messaging.SendInput{To: optedOut.ID.String(), Type: "bogus"})
	require.Equal(t, domain.KindOptedOut, kind(err))
	// window before validation; a template passes the window.
	_, err = b.svc.Send(ctx, b.owner, messaging.SendInput{To: b.closed.ID.String(), Type: "bogus"})
	require.Equal(t, domain.KindOutsideWindow, kind(err))
	_, err = b.svc.Send(ctx, b.owner, tmpl(b.closed.ID.String(), "hello_world"))
	require.NoError(t, err)
	_, err = b.svc.Send(ctx, b.owner, messaging.SendInput{To: b.open.ID.String(), Type: "bogus"})
	require.Equal(t, domain.KindValidation, kind(err))
	// another phone_number_id than the connected one.
	in := text(b.open.ID.String(), "x")
	in.PhoneNumberID = "999"
	_, err = b.svc.Send(ctx, b.owner, in)
	require.Equal(t, domain.KindNotConnected, kind(err))
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	to := b.open.ID.String()
	cases := map[string]struct {
		in    messaging.SendInput
		field string
	}{
		"empty":           {messaging.SendInput{}, "to"},
		"unknown type":    {messaging.SendInput{To: to, Type: "location"}, "type"},
		"text too long":   {text(to, strings.Repeat("é", 4097)), "text.body"},
		"empty text":      {text(to, " "), "text.body"},
		"template name":   {messaging.SendInput{To: to, Type: "template", Content: json.RawMessage(`{"language":{"code":"en_US"}}`)}, "template.name"},
		"template lang":   {messaging.SendInput{To: to, Type: "template", Content: json.RawMessage(`{"name":"x"}`)}, "template.language"},
		"bad link":        {messaging.SendInput{To: to, Type: "image", Content: json.RawMessage(`{"link":"javascript:alert(1)"}`)}, "image.link"},
		"no media":        {messaging.SendInput{To: to, Type: "audio", Content: json.RawMessage(`{}`)}, "audio"},
		"audio caption":   {messaging.SendInput{To: to, Type: "audio", Content: json.RawMessage(`{"media_id":"1","caption":"x"}`)}, "audio.caption"},
		"type not object": {messaging.SendInput{To: to, Type: "text", Content: json.RawMessage(`"hi"`)}, "text"},
		"list rows": {messaging.SendInput{To: to, Type: "interactive", Content: json.RawMessage(
			`{"type":"list","body":{"text":"pick"},"action":{"button":"Go","sections":[{"rows":[]}]}}`)}, "interactive.action.sections"},
	}
	for name, c := range cases {
		_, err := b.svc.Send(context.Background(), b.owner, c.in)
		var de *domain.Error
		require.ErrorAs(t, err, &de, name)
		require.Equal(t, domain.KindValidation, de.Kind, name)
		var fields []string
		for _, f := range de.Fields {
			fields = append(fields, f.Field)
		}
		require.Contains(t, fields, c.field, name)
	}
	// 4,096 characters (not bytes) is fine; a template's language may be the shorthand string.
	_, err := b.svc.Send(context.Background(), b.owner, text(to, strings.Repeat("é", 4096)))
	require.NoError(t, err)
	res, err := b.svc.Send(context.Background(), b.owner, messaging.SendInput{To: to, Type: "template",
		Content: json.RawMessage(`{"name":"hello_world","language":"en_US"}`)})
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"hello_world","language":{"code":"en_US"}}`, string(res.Message.Content))
}

func TestSendNewNumberCreatesContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.svc.Send(context.Background(), b.agent, tmpl("(415) 555-0199", "hello_world"))
	require.Error(t, err, "without a country code the number is not E.164")
	res, err = b.svc.Send(context.Background(), b.agent, tmpl("+1 415 555 0199", "hello_world"))
	require.NoError(t, err)
	c, ok := b.contacts.Contact(b.ws, res.Message.ContactID)
	require.True(t, ok)
	require.Equal(t, "+14155550199", c.Phone)
	require.Equal(t, b.agent.ID, *c.AssignedTo, "an agent's new contact is theirs")
	// A text to a new number has no window.
	_, err = b.svc.Send(context.Background(), b.owner, text("+14155550198", "hi"))
	require.Equal(t, domain.KindOutsideWindow, kind(err))
}

func TestSendMarketingOptOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open
	c.MarketingOptedOut = true
	b.contacts.Put(c)
	putTemplate(b, "summer_sale", "MARKETING")
	putTemplate(b, "receipt", "UTILITY")
	_, err := b.svc.Send(context.Background(), b.owner, tmpl(c.ID.String(), "summer_sale"))
	require.Equal(t, domain.KindOptedOut, kind(err))
	_, err = b.svc.Send(context.Background(), b.owner, tmpl(c.ID.String(), "receipt"))
	require.NoError(t, err)
	_, err = b.svc.Send(context.Background(), b.owner, tmpl(c.ID.String(), "unknown_to_us"))
	require.Equal(t, domain.KindTemplateNotFound, kind(err), "an uncatalogued template")
	_, err = b.svc.Send(context.Background(), b.owner, text(c.ID.String(), "still fine"))
	require.NoError(t, err)
}

func TestSendIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := text(b.open.ID.String(), "once")
	in.IdempotencyKey, in.RequestHash = "k1", []byte("hash-1")
	first, err := b.svc.Send(context.Background(), b.owner, in)
	require.NoError(t, err)
	again, err := b.svc.Send(context.Background(), b.owner, in)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.Message.ID, again.Message.ID)
	require.Equal(t, first.Message.CreatedAt, again.Message.CreatedAt)
	require.JSONEq(t, string(first.Message.Content), string(again.Message.Content))
	require.Len(t, b.db.Messages(), 1)
	require.Equal(t, 1, b.quota.taken(), "a replay does not count against the quota")

	in.RequestHash = []byte("hash-2")
	_, err = b.svc.Send(context.Background(), b.owner, in)
	require.Equal(t, domain.KindIdempotencyMismatch, kind(err))

	in.IdempotencyKey = strings.Repeat("k", 256)
	_, err = b.svc.Send(context.Background(), b.owner, in)
	require.Equal(t, domain.KindValidation, kind(err))
}

func TestSendIdempotencyKeyExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.PutIdempotency(messaging.IdempotencyRecord{WorkspaceID: b.ws, Key: "k1", RequestHash: []byte("another body"), Status: 202,
		Body: []byte(`{}`), CreatedAt: time.Now().Add(-messaging.IdempotencyTTL - time.Minute), ExpiresAt: time.Now().Add(-time.Minute)})
	in := text(b.open.ID.String(), "once")
	in.IdempotencyKey, in.RequestHash = "k1", []byte("hash-1")
	res, err := b.svc.Send(context.Background(), b.owner, in)
	require.NoError(t, err, "an expired key neither replays nor mismatches")
	require.False(t, res.Replayed)
	again, err := b.svc.Send(context.Background(), b.owner, in)
	require.NoError(t, err)
	require.True(t, again.Replayed, "the key holds the new answer")
	require.Equal(t, res.Message.ID, again.Message.ID)
}

func TestSendPriorityFollowsWorkspaceLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.PutWorkspace(domain.Workspace{ID: b.ws, Name: "Acme", Plan: domain.PlanEnterprise})
	b.quota.set(5000)
	res, err := b.svc.Send(context.Background(), b.owner, text(b.open.ID.String(), "bulk"))
	require.NoError(t, err)
	require.Equal(t, 4, b.db.Jobs()[res.Message.ID], "a workspace sending thousands a minute queues behind single replies")
}

func TestReadRespectsAgentView(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.svc.Send(context.Background(), b.owner, text(b.open.ID.String(), "x"))
	require.NoError(t, err)
	_, err = b.svc.Get(context.Background(), b.agent, res.Message.ID)
	require.Equal(t, domain.KindNotFound, kind(err))
	_, err = b.svc.Get(context.Background(), b.viewer, res.Message.ID)
	require.NoError(t, err)
	_, err = b.svc.ListByContact(context.Background(), b.agent, b.open.ID, 10, domain.NilID)
	require.Equal(t, domain.KindNotFound, kind(err))
	page, err := b.svc.ListByContact(context.Background(), b.viewer, b.open.ID, 10, domain.NilID)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, res.Message.ID, page.Items[0].ID)
}

// outboxOf is an outbox holding m.
func outboxOf(m messaging.MessageToSend) *messagingtest.Outbox {
	o := messagingtest.NewOutbox()
	o.Put(m)
	return o
}

func deliver(t *testing.T, o *messagingtest.Outbox, m messaging.MessageToSend, g *fakeGraph, p *fakePacer, last bool) (messaging.Outcome, error) {
	t.Helper()
	d := messaging.NewDispatcher(o, g, fakeVault{}, p, slog.New(slog.DiscardHandler))
	return d.Deliver(context.Background(), m.WorkspaceID, m.ID, last)
}

// stored is m as the outbox holds it now.
func stored(t *testing.T, o *messagingtest.Outbox, m messaging.MessageToSend) domain.Message {
	t.Helper()
	got, ok := o.Message(m.WorkspaceID, m.ID)
	require.True(t, ok)
	return got
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	t.Run("SendsOnceWithOurID", func(t *testing.T) {
		t.Parallel()
		m, g := messagingtest.Queued(), &fakeGraph{}
		o := outboxOf(m)
		out, err := deliver(t, o, m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSent, out.Result)
		require.Equal(t, "wamid.TEST", stored(t, o, m).WAMID)
		require.Equal(t, m.ID, g.sent.ID, "our id, for biz_opaque_callback_data")
		out, err = deliver(t, o, m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSkipped, out.Result, "a message with a wamid is never sent again")
		require.Equal(t, 1, g.calls)
	})
	t.Run("EarlyWebhooksAreFolded", func(t *testing.T) {
		t.Parallel()
		m := messagingtest.Queued()
		o := outboxOf(m)
		o.Report("wamid.TEST", messaging.ReportedStatus{Status: "read", At: time.Now()})
		o.Report("wamid.TEST", messaging.ReportedStatus{Status: "delivered", At: time.Now()})
		_, err := deliver(t, o, m, &fakeGraph{}, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, domain.StatusRead, stored(t, o, m).Status, "a late sent never overwrites read")
	})
	t.Run("PacedBySnoozing", func(t *testing.T) {
		t.Parallel()
		m, g := messagingtest.Queued(), &fakeGraph{}
		out, err := deliver(t, outboxOf(m), m, g, &fakePacer{wait: 300 * time.Millisecond}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSnoozed, out.Result)
		require.Equal(t, 300*time.Millisecond, out.Wait)
		require.Zero(t, g.calls)
	})
	t.Run("PairLimitBacksOffPerRecipient", func(t *testing.T) {
		t.Parallel()
		m, p := messagingtest.Queued(), &fakePacer{}
		o := outboxOf(m)
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaThrottled, Code: 131056, RetryAfter: time.Second}}
		var waits []time.Duration
		for range 3 {
			out, err := deliver(t, o, m, g, p, false)
			require.NoError(t, err)
			require.Equal(t, messaging.ResultSnoozed, out.Result)
			waits = append(waits, out.Wait)
		}
		require.Equal(t, []time.Duration{time.Second, 4 * time.Second, 16 * time.Second}, waits)
	})
	t.Run("Throttled", func(t *testing.T) {
		t.Parallel()
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaThrottled, Code: 130429, RetryAfter: time.Second}}
		m := messagingtest.Queued()
		out, err := deliver(t, outboxOf(m), m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSnoozed, out.Result)
		require.GreaterOrEqual(t, out.Wait, time.Second)
		require.Equal(t, 130429, out.Code)
	})
	t.Run("TransientRetriesThenFails", func(t *testing.T) {
		t.Parallel()
		m := messagingtest.Queued()
		o := outboxOf(m)
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaRetry, Code: 131000, Title: "Something went wrong"}}
		_, err := deliver(t, o, m, g, &fakePacer{}, false)
		require.Error(t, err)
		require.Nil(t, stored(t, o, m).Error)
		out, err := deliver(t, o, m, g, &fakePacer{}, true)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultFailed, out.Result)
		require.Equal(t, 131000, stored(t, o, m).Error.Code)
	})
	t.Run("FinalKeepsMetasReason", func(t *testing.T) {
		t.Parallel()
		m := messagingtest.Queued()
		o := outboxOf(m)
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaFinal, Code: 131026, Title: "Message undeliverable", Detail: "Message Undeliverable."}}
		out, err := deliver(t, o, m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultFailed, out.Result)
		require.Equal(t, &domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "Message Undeliverable."}, stored(t, o, m).Error)
	})
	t.Run("MarketingLimitHoldsTheContact", func(t *testing.T) {
		t.Parallel()
		m, other := messagingtest.Queued(), messagingtest.Queued()
		o := outboxOf(m)
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaFinal, Code: 131049, Title: "healthy ecosystem"}}
		before := time.Now()
		out, err := deliver(t, o, m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultFailed, out.Result)
		hold := o.Hold(m.WorkspaceID, m.ContactID)
		require.WithinDuration(t, before.Add(domain.MarketingHold), hold, 5*time.Second, "24 hours from the failure")
		require.True(t, o.Hold(other.WorkspaceID, other.ContactID).IsZero())
		g.err = &domain.MetaError{Class: domain.MetaFinal, Code: 131026}
		m2 := messagingtest.Queued()
		o2 := outboxOf(m2)
		_, err = deliver(t, o2, m2, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.True(t, o2.Hold(m2.WorkspaceID, m2.ContactID).IsZero(), "other failures hold nothing")
	})
	t.Run("AuthFlagsTheNumber", func(t *testing.T) {
		t.Parallel()
		m := messagingtest.Queued()
		o := outboxOf(m)
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaAuth, Code: 190, Title: "Invalid OAuth access token"}}
		out, err := deliver(t, o, m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultFailed, out.Result)
		status, reason := o.Number(m.WorkspaceID, m.Number.ID)
		require.Equal(t, domain.NumberNeedsReconnect, status)
		require.Contains(t, reason, "190")
	})
	t.Run("OptOutsAreHonouredAtSendTime", func(t *testing.T) {
		t.Parallel()
		m := messagingtest.Queued()
		m.OptedOut = true
		g := &fakeGraph{}
		out, _ := deliver(t, outboxOf(m), m, g, &fakePacer{}, false)
		require.Equal(t, messaging.ResultFailed, out.Result)
		m = messagingtest.Queued()
		m.Type, m.Content, m.MarketingOptedOut, m.TemplateCategory = "template", json.RawMessage(`{"name":"sale","language":{"code":"en"}}`), true, "MARKETING"
		o := outboxOf(m)
		out, _ = deliver(t, o, m, g, &fakePacer{}, false)
		require.Equal(t, messaging.ResultFailed, out.Result)
		require.Equal(t, 131050, stored(t, o, m).Error.Code)
		require.Zero(t, g.calls)

		// The confirmation of the opt-out itself is the one message that still goes.
		m = messagingtest.Queued()
		m.OptedOut, m.Purpose = true, domain.PurposeOptOutConfirmation
		out, err := deliver(t, outboxOf(m), m, g, &fakePacer{}, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSent, out.Result)
		require.Equal(t, 1, g.calls)
	})
}

// What becomes of a campaign's message is told to campaigns in the transaction that
// records it: sent (with what Meta reported before the wamid was stored), or failed with
// Meta's error. Other messages take no transaction of their own.
func TestDeliverTellsCampaigns(t *testing.T) {
	t.Parallel()
	run := func(m messaging.MessageToSend, g *fakeGraph, reports ...string) (*campaignResults, *messagingtest.Outbox) {
		o := outboxOf(m)
		for _, r := range reports {
			o.Report("wamid.TEST", messaging.ReportedStatus{Status: r, At: time.Now()})
		}
		res := &campaignResults{o: o}
		d := messaging.NewDispatcher(o, g, fakeVault{}, &fakePacer{}, slog.New(slog.DiscardHandler)).WithResults(res)
		_, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		return res, o
	}
	campaign := domain.NewID()
	told := func(res *campaignResults) []string {
		var out []string
		for _, call := range res.calls {
			for _, m := range call {
				require.Equal(t, campaign, *m.CampaignID)
				s := string(m.Status)
				if m.Error != nil {
					s += fmt.Sprintf(" %d", m.Error.Code)
				}
				if m.WAMID != "" { // Meta took it: campaigns may retry what a webhook reports failed since
					s += " taken"
				}
				if m.DeliveredAt != nil {
					s += " delivered_at"
				}
				out = append(out, s)
			}
		}
		return out
	}
	m := messagingtest.Queued()
	m.CampaignID = &campaign
	res, _ := run(m, &fakeGraph{})
	require.Equal(t, []string{"sent taken"}, told(res))

	m = messagingtest.Queued()
	m.CampaignID = &campaign
	res, o := run(m, &fakeGraph{}, "delivered", "read")
	require.Equal(t, []string{"read taken delivered_at"}, told(res), "what Meta reported first is folded in")
	require.Equal(t, domain.StatusRead, stored(t, o, m).Status)

	m = messagingtest.Queued()
	m.CampaignID = &campaign
	res, _ = run(m, &fakeGraph{err: &domain.MetaError{Class: domain.MetaFinal, Code: 131026, Title: "Message undeliverable"}})
	require.Equal(t, []string{"failed 131026"}, told(res))

	m = messagingtest.Queued()
	m.CampaignID = &campaign
	m.OptedOut = true
	res, _ = run(m, &fakeGraph{})
	require.Equal(t, []string{"failed 0"}, told(res), "refused before Meta: failed too")

	res, _ = run(messagingtest.Queued(), &fakeGraph{})
	require.Zero(t, res.txs, "a message of no campaign")
	res, _ = run(messagingtest.Queued(), &fakeGraph{err: &domain.MetaError{Class: domain.MetaFinal, Code: 131026}})
	require.Zero(t, res.txs)
}

func TestPurgeIdempotencyKeysInBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	for i := range 12001 {
		b.db.PutIdempotency(messaging.IdempotencyRecord{Key: fmt.Sprint("old", i), ExpiresAt: past})
	}
	b.db.PutIdempotency(messaging.IdempotencyRecord{Key: "fresh", ExpiresAt: future})
	n, err := b.svc.PurgeIdempotencyKeys(context.Background())
	require.NoError(t, err)
	require.Equal(t, 12001, n, "three batches, the last one short")
	require.Equal(t, 1, b.db.IdempotencyRecords())
}

func TestFoldEarlyStatuses(t *testing.T) {
	t.Parallel()
	at := func(s int64) time.Time { return time.Unix(1768000000+s, 0).UTC() }
	d, r := at(1), at(2)
	u := messaging.Fold(domain.StatusSent, []messaging.ReportedStatus{
		{Status: "read", At: at(2)}, {Status: "delivered", At: at(1)}, {Status: "deleted", At: at(3)},
	})
	require.Equal(t, messaging.DeliveryUpdate{Status: domain.StatusRead, DeliveredAt: &d, ReadAt: &r}, u)

	e := &domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "d"}
	u = messaging.Fold(domain.StatusSent, []messaging.ReportedStatus{{Status: "delivered", At: at(3), Error: e}})
	require.Nil(t, u.Error, "only a failure records an error")
	u = messaging.Fold(domain.StatusSent, []messaging.ReportedStatus{{Status: "failed", At: at(4), Error: e}})
	require.Equal(t, domain.StatusFailed, u.Status)
	require.Equal(t, at(4), *u.FailedAt)
	require.Equal(t, e, u.Error)
}

// A number no contact has may be a deleted contact's: their opt-outs still hold, and a
// refused send creates no contact.
func TestSendToASuppressedNumber(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contacts.Suppress(b.ws, "+14155550190", domain.Suppression{OptedOut: true}, time.Now())
	_, err := b.svc.Send(ctx, b.owner, tmpl("+14155550190", "hello_world"))
	require.Equal(t, domain.KindOptedOut, kind(err))

	b.contacts.Suppress(b.ws, "+14155550191", domain.Suppression{MarketingOptedOut: true}, time.Now())
	putTemplate(b, "hello_world", "MARKETING")
	_, err = b.svc.Send(ctx, b.owner, tmpl("+14155550191", "hello_world"))
	require.Equal(t, domain.KindOptedOut, kind(err), "a marketing template to a marketing stop")
	putTemplate(b, "hello_world", "UTILITY")
	res, err := b.svc.Send(ctx, b.owner, tmpl("+14155550191", "hello_world"))
	require.NoError(t, err, "a utility template goes")
	c, ok := b.contacts.Contact(b.ws, res.Message.ContactID)
	require.True(t, ok)
	require.True(t, c.MarketingOptedOut, "the new contact starts with the stop")
	refused, err := b.contacts.Store().List(ctx, b.ws, contacts.Filter{Phone: "+14155550190"}, contacts.View{}, 10)
	require.NoError(t, err)
	require.Empty(t, refused)
}

// Two first sends to one new phone race to create its contact. The loser's transaction
// rolls back whole, its Idempotency-Key with it, so its second attempt queues the message
// to the winner's contact instead of replaying an answer whose message was never stored.
func TestSendLosingTheRaceForANewContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	winner := domain.Contact{ID: domain.NewID(), WorkspaceID: b.ws, Phone: "+14155550177", WaID: "14155550177"}
	svc := newServiceWith(b.db, &racingContacts{Contacts: b.db.Contacts(), race: func() { b.contacts.Put(winner) }}, b.quota)
	in := tmpl("+14155550177", "hello_world")
	in.IdempotencyKey, in.RequestHash = "k1", []byte("hash-1")
	res, err := svc.Send(context.Background(), b.owner, in)
	require.NoError(t, err)
	require.False(t, res.Replayed)
	require.Equal(t, winner.ID, res.Message.ContactID)
	stored, ok := b.db.Message(b.ws, res.Message.ID)
	require.True(t, ok)
	require.Equal(t, winner.ID, stored.ContactID)
	require.Len(t, b.db.Messages(), 1)
	again, err := svc.Send(context.Background(), b.owner, in)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, res.Message.ID, again.Message.ID)
}

// racingContacts lets another send create a contact right after the first List looked
// for it (and found none).
type racingContacts struct {
	messaging.Contacts
	once sync.Once
	race func()
}

func (r *racingContacts) List(ctx context.Context, ws domain.ID, f contacts.Filter, v contacts.View, limit int) ([]domain.Contact, error) {
	list, err := r.Contacts.List(ctx, ws, f, v, limit)
	r.once.Do(r.race)
	return list, err
}

// The attempt is recorded before the Graph call; after an attempt Meta did not answer, the
// message waits for Meta's status webhook before it is sent again.
func TestDeliverWaitsForMetaAfterAnUnansweredAttempt(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dispatcher := func(o *messagingtest.Outbox, g *fakeGraph, now *time.Time) *messaging.Dispatcher {
		return messaging.NewDispatcher(o, g, fakeVault{}, &fakePacer{}, slog.New(slog.DiscardHandler)).
			WithClock(func() time.Time { return *now })
	}
	attempted := func(t *testing.T, o *messagingtest.Outbox, m messaging.MessageToSend) *time.Time {
		got, err := o.ToSend(context.Background(), m.WorkspaceID, m.ID)
		require.NoError(t, err)
		return got.AttemptedAt
	}
	lost := &domain.MetaError{Class: domain.MetaRetry, Title: "connection reset", MayHaveActed: true}

	t.Run("RecordedBeforeTheCall", func(t *testing.T) {
		t.Parallel()
		m, now := messagingtest.Queued(), t0
		o := outboxOf(m)
		g := &fakeGraph{}
		g.during = func() {
			at := attempted(t, o, m)
			require.NotNil(t, at, "recorded before Meta is asked")
			require.True(t, t0.Equal(*at))
		}
		out, err := dispatcher(o, g, &now).Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSent, out.Result)
	})

	t.Run("WaitsForTheWebhookThenSendsAgain", func(t *testing.T) {
		t.Parallel()
		m, now := messagingtest.Queued(), t0
		o := outboxOf(m)
		g := &fakeGraph{err: lost}
		d := dispatcher(o, g, &now)
		_, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.Error(t, err, "retried with backoff")
		require.NotNil(t, attempted(t, o, m), "the attempt stays")

		g.err = nil // Meta would take it now: it is not asked until the wait is over
		for _, step := range []time.Duration{0, time.Second, messaging.OutcomeWait - 2*time.Second} {
			now = now.Add(step)
			out, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
			require.NoError(t, err)
			require.Equal(t, messaging.ResultSnoozed, out.Result, "waiting at %s", now.Sub(t0))
			require.Equal(t, min(messaging.OutcomeCheck, t0.Add(messaging.OutcomeWait).Sub(now)), out.Wait, "never past the wait's end")
		}
		require.Equal(t, 1, g.calls)
		now = now.Add(time.Second)
		out, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSent, out.Result, "no word from Meta: it never had it")
		require.Equal(t, 2, g.calls)
		require.Equal(t, "wamid.TEST", stored(t, o, m).WAMID)
	})

	t.Run("TheLastTryFailsWithoutSendingAgain", func(t *testing.T) {
		t.Parallel()
		m, now := messagingtest.Queued(), t0
		o := outboxOf(m)
		g := &fakeGraph{err: lost}
		out, err := dispatcher(o, g, &now).Deliver(context.Background(), m.WorkspaceID, m.ID, true)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultFailed, out.Result)
		require.Equal(t, 1, g.calls)
	})

	t.Run("TheWebhookEndsTheWait", func(t *testing.T) {
		t.Parallel()
		m, now := messagingtest.Queued(), t0
		o := outboxOf(m)
		g := &fakeGraph{err: lost}
		d := dispatcher(o, g, &now)
		_, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.Error(t, err)
		// Meta's `sent` webhook names our message: inbound processing stores its wamid.
		ok, _, err := o.MarkSent(context.Background(), m.WorkspaceID, m.ID, "wamid.LATE", t0, domain.StatusQueued, domain.StatusSent)
		require.NoError(t, err)
		require.True(t, ok)
		out, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSkipped, out.Result)
		require.Equal(t, 1, g.calls)
		require.Equal(t, domain.StatusSent, stored(t, o, m).Status)
	})

	t.Run("ADeadProcessesAttemptWaitsFromTheRestart", func(t *testing.T) {
		t.Parallel()
		m, now := messagingtest.Queued(), t0
		m.AttemptedAt = &t0 // by a process that died
		o := outboxOf(m)
		g := &fakeGraph{}
		now = t0.Add(time.Hour) // back an hour later: the webhooks Meta kept come now
		d := dispatcher(o, g, &now)
		out, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSnoozed, out.Result)
		now = now.Add(messaging.OutcomeWait)
		out, err = d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSent, out.Result)
		require.Equal(t, 1, g.calls)
	})

	t.Run("ARefusalIsTriedAgain", func(t *testing.T) {
		t.Parallel()
		m, now := messagingtest.Queued(), t0
		o := outboxOf(m)
		g := &fakeGraph{err: &domain.MetaError{Class: domain.MetaThrottled, Code: 130429, RetryAfter: time.Second}}
		d := dispatcher(o, g, &now)
		out, err := d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSnoozed, out.Result)
		require.Nil(t, attempted(t, o, m), "Meta answered: nothing was sent")
		g.err = &domain.MetaError{Class: domain.MetaRetry, Code: 131000, Title: "Something went wrong"}
		_, err = d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.Error(t, err, "retried with backoff")
		require.Nil(t, attempted(t, o, m))
		g.err = nil
		out, err = d.Deliver(context.Background(), m.WorkspaceID, m.ID, false)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSent, out.Result)
		require.Equal(t, 3, g.calls)
	})
}
