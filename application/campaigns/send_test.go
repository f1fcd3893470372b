package campaigns_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// launched creates and launches a campaign of template to the contacts tagged tag.
func (b *bundle) launched(t *testing.T, template, tag string) domain.Campaign {
	t.Helper()
	c := b.create(t, template, &campaigns.AudienceInput{Tags: []string{tag}})
	c, err := b.svc.Launch(context.Background(), b.owner, c.ID)
	require.NoError(t, err)
	return c
}

// recipient reads a recipient of the campaign as the store holds it.
func (b *bundle) recipient(c domain.Campaign, contact domain.ID) domain.Recipient {
	return b.mem.recipients[c.ID][contact]
}

// messageTo is the campaign's message to contact (ok false when none).
func (b *bundle) messageTo(c domain.Campaign, contact domain.ID) (domain.Message, bool) {
	for _, m := range b.mem.messages {
		if *m.CampaignID == c.ID && m.ContactID == contact {
			return m, true
		}
	}
	return domain.Message{}, false
}

// Each recipient is sent to or skipped with the send API's reasons, in its order.
func TestSendBatchDecidesEachRecipient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ana := b.contact("Ana", "sale")
	nameless := b.contact("", "sale")
	out := b.contact("Out", "sale")
	marketingOut := b.contact("No ads", "sale")
	capped := b.contact("Capped", "sale")
	gone := b.contact("Gone", "sale")
	noAddress := b.contact("Nowhere", "sale")
	set := func(id domain.ID, f func(*domain.Contact)) {
		c := b.mem.contacts[id]
		f(&c)
		b.mem.contacts[id] = c
	}
	set(out, func(c *domain.Contact) { c.OptedOut = true })
	set(marketingOut, func(c *domain.Contact) { c.MarketingOptedOut = true })
	set(noAddress, func(c *domain.Contact) { c.Phone, c.WaID = "", "" })
	b.mem.history[capped] = []time.Time{b.clock.now().Add(-time.Hour)} // one a day allowed

	in := b.input("sale", &campaigns.AudienceInput{Tags: []string{"sale"}})
	in.Template.Components = bodyParam("{{contact.name}}")
	c, err := b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	c, err = b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	delete(b.mem.contacts, gone) // deleted after the audience was taken

	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.Step{Wait: campaigns.BatchInterval, Queued: 1, Skipped: 6}, step)
	want := map[domain.ID]string{nameless: domain.SkipMissingField + "contact.name", out: domain.SkipOptedOut,
		marketingOut: domain.SkipMarketingOptedOut, capped: domain.SkipFrequencyCapped, gone: domain.SkipContactDeleted,
		noAddress: domain.SkipNoAddress}
	for id, reason := range want {
		r := b.recipient(c, id)
		require.Equal(t, domain.RecipientSkipped, r.Status)
		require.Equal(t, reason, r.Reason, "%s", b.mem.contacts[id].Name)
		require.Nil(t, r.MessageID)
	}
	require.NotEmpty(t, b.mem.locked, "a marketing batch locks its contacts (the caps)")

	m, ok := b.messageTo(c, ana)
	require.True(t, ok)
	require.Equal(t, domain.StatusQueued, m.Status)
	require.Equal(t, domain.CategoryMarketing, m.Category)
	require.Equal(t, numberID, m.PhoneNumberID)
	var content struct {
		Name       string `json:"name"`
		Language   struct{ Code string }
		Components []struct {
			Parameters []struct{ Text string }
		}
	}
	require.NoError(t, json.Unmarshal(m.Content, &content))
	require.Equal(t, "sale", content.Name)
	require.Equal(t, "en_US", content.Language.Code)
	require.Equal(t, "Ana", content.Components[0].Parameters[0].Text, "the contact's name bound")
	require.Equal(t, campaigns.SendPriority, b.mem.msgJobs[m.ID], "below every API send")
	r := b.recipient(c, ana)
	require.Equal(t, domain.RecipientPending, r.Status, "queued: pending until Meta takes it")
	require.Equal(t, m.ID, *r.MessageID)
	require.Equal(t, 1, r.Attempts)
	var queuedEvents int
	for _, o := range b.mem.events {
		if o.Event.Kind() == domain.EventMessageQueued {
			queuedEvents++
			require.Equal(t, domain.ActorSystem, o.Actor.Type)
		}
	}
	require.Equal(t, 1, queuedEvents)
}

// A batch is one second of the number's throughput, or of the plan's minute spread over it
// when that is less, and no more than the plan's quota grants; what is left waits for the next batch, and a spent quota waits for its window.
func TestSendBatchPacing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for i := range 100 {
		b.contact(fmt.Sprintf("Kim %d", i), "all")
	}
	c := b.launched(t, "hello", "all")
	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 80, step.Queued, "a default number sends 80 a second")
	require.Equal(t, []int{80}, b.w.asked)
	require.Equal(t, b.w.plan.MessagesPerMinute()*campaigns.QuotaLeftToAPI/100, b.w.keepSeen, "part of the quota stays for the API")

	b.w.grant = 7
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 7, step.Queued)
	require.Equal(t, campaigns.BatchInterval, step.Wait)

	b.w.grant = 0
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Zero(t, step.Queued)
	require.Equal(t, b.w.reset.Sub(b.clock.now()), step.Wait, "until the quota's window ends")
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, 100, got.Stats.Pending)
	require.Len(t, b.mem.messages, 87)

	// A HIGH number: a thousand a second.
	b.w.grant, b.w.numbers[0].ThroughputLevel = -1, "HIGH"
	for range 1200 {
		b.contact("More", "more")
	}
	big := b.launched(t, "hello", "more")
	step, err = b.svc.SendBatch(ctx, b.ws, big.ID)
	require.NoError(t, err)
	require.Equal(t, 75, step.Queued, "the number's thousand a second is more than the plan's minute spread over it "+
		"(9,000 a minute: 150 a second), and half of that: the first campaign still runs on the number")
	require.Equal(t, 150, campaigns.CampaignPace(b.w.numbers[0], domain.PlanEnterprise.MessagesPerMinute()))
	require.Equal(t, 80, campaigns.CampaignPace(domain.PhoneNumber{}, domain.PlanEnterprise.MessagesPerMinute()), "a default number's 80")

	// A small plan's campaign still takes MinBatch a batch, not 1.5 a second (90 a minute).
	b.w.plan = domain.PlanFree
	step, err = b.svc.SendBatch(ctx, b.ws, big.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.MinBatch, step.Queued)
}

// A batch that fails leaves nothing: no message, no recipient with a message; the next run
// takes the same recipients.
func TestSendBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for i := range 3 {
		b.contact(fmt.Sprintf("Kim %d", i), "all")
	}
	c := b.launched(t, "hello", "all")
	b.mem.failQueue = errors.New("crash")
	_, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.ErrorContains(t, err, "crash")
	require.Empty(t, b.mem.messages)
	require.Empty(t, b.mem.msgJobs)
	for _, r := range b.mem.recipients[c.ID] {
		require.Nil(t, r.MessageID)
	}
	b.mem.failQueue = nil
	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 3, step.Queued)
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Zero(t, step.Queued, "every recipient has its message: none is taken again")
	require.Len(t, b.mem.messages, 3)
}

// The campaign completes once no recipient is pending, queued ones included; a sent
// recipient is done.
func TestSendBatchCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ana, bo := b.contact("Ana", "all"), b.contact("", "all")
	in := b.input("hello", &campaigns.AudienceInput{Tags: []string{"all"}})
	in.Template.Components = bodyParam("{{contact.name}}")
	c, err := b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	c, err = b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	_, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.Step{Wait: campaigns.InFlightWait, Reason: "messages in flight or retries waiting"}, step)

	m, _ := b.messageTo(c, ana)
	m.Status = domain.StatusSent
	require.NoError(t, b.mem.InTx(ctx, func(ctx context.Context, r campaigns.Repos) error {
		return campaigns.ResultsInTx(r.Progress, b.clock.now).Advanced(ctx, []domain.Message{m})
	}))
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done)
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignCompleted, got.Status)
	require.Equal(t, b.clock.now(), *got.CompletedAt)
	require.Equal(t, domain.CampaignStats{Recipients: 2, Sent: 1, Skipped: 1}, got.Stats)
	ev := b.lastEvent(t)
	require.Equal(t, domain.EventCampaignCompleted, ev.Event.Kind())
	require.Equal(t, got.Stats, ev.Event.(domain.CampaignMoved).Stats)
	require.Equal(t, domain.SkipMissingField+"contact.name", b.recipient(c, bo).Reason)

	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done, "a completed campaign's job ends")
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Pause(ctx, b.owner, c.ID)))
}

// A campaign whose template Meta no longer approves waits (the stop rules will pause it);
// one that is gone ends its job.
func TestSendBatchWaitsWhenItCannotSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contact("Ana", "all")
	c := b.launched(t, "hello", "all")
	tpl := b.w.templates[[2]string{"hello", "en_US"}]
	tpl.Status = domain.TemplatePaused
	b.w.templates[[2]string{"hello", "en_US"}] = tpl
	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.BlockedWait, step.Wait)
	require.Empty(t, b.mem.messages)

	step, err = b.svc.SendBatch(ctx, b.ws, domain.NewID())
	require.NoError(t, err)
	require.True(t, step.Done)
}

// Recipients follow their messages monotonically; a message of no campaign, or of an
// earlier attempt, moves nothing; a failure keeps Meta's error.
func TestResultsAdvanceRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ana, bo, cy := b.contact("Ana", "all"), b.contact("Bo", "all"), b.contact("Cy", "all")
	c := b.launched(t, "hello", "all")
	_, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	msg := func(contact domain.ID, s domain.MessageStatus) domain.Message {
		m, ok := b.messageTo(c, contact)
		require.True(t, ok)
		m.Status = s
		if s == domain.StatusFailed {
			m.Error = &domain.MessageError{Code: 131026, Title: "Message undeliverable"}
		}
		return m
	}
	advance := func(ms ...domain.Message) {
		t.Helper()
		require.NoError(t, b.mem.InTx(ctx, func(ctx context.Context, r campaigns.Repos) error {
			return campaigns.ResultsInTx(r.Progress, b.clock.now).Advanced(ctx, ms)
		}))
	}
	stale := msg(cy, domain.StatusRead)
	stale.ID = domain.NewID() // an earlier attempt's message
	plain := msg(cy, domain.StatusRead)
	plain.CampaignID = nil
	advance(msg(ana, domain.StatusSent), msg(ana, domain.StatusRead), msg(bo, domain.StatusFailed), stale, plain)
	require.Equal(t, domain.RecipientRead, b.recipient(c, ana).Status, "the message's latest state counts")
	require.Equal(t, domain.RecipientFailed, b.recipient(c, bo).Status)
	require.Equal(t, &domain.MessageError{Code: 131026, Title: "Message undeliverable"}, b.recipient(c, bo).Error)
	require.Equal(t, domain.RecipientPending, b.recipient(c, cy).Status)

	advance(msg(ana, domain.StatusDelivered), msg(bo, domain.StatusSent)) // late: nothing moves back
	require.Equal(t, domain.RecipientRead, b.recipient(c, ana).Status)
	require.Equal(t, domain.RecipientFailed, b.recipient(c, bo).Status)
	advance(msg(ana, domain.StatusFailed)) // after delivery: not a failure
	require.Equal(t, domain.RecipientRead, b.recipient(c, ana).Status)
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignStats{Recipients: 3, Pending: 1, Sent: 1, Delivered: 1, Read: 1, Failed: 1}, got.Stats)
}

func TestPrepaidCampaignIsPricedAndPausesWhenABatchCannotBePaid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for i := range 100 {
		b.contact(fmt.Sprintf("Kim %d", i), "all")
	}
	b.mem.wallet = &prepaid{m: b.mem, available: 99 * 10, price: 10}
	c := b.create(t, "hello", &campaigns.AudienceInput{Tags: []string{"all"}})
	_, err := b.svc.Launch(ctx, b.owner, c.ID)
	require.True(t, domain.IsKind(err, domain.KindInsufficientBalance), "got %v", err)
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignDraft, got.Status, "nothing started")
	require.Zero(t, got.Stats.Recipients, "the audience taken in the refused start is rolled back")

	b.mem.wallet.available = 100 * 10
	got, err = b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, &domain.Money{Currency: "USD", Micros: 1000}, got.EstimatedCost)

	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 80, step.Queued)
	b.mem.wallet.available = 10 * 10 // spent elsewhere meanwhile: 10 of the 20 left
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done)
	got, _ = b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignPaused, got.Status)
	require.Equal(t, domain.PauseInsufficientBalance, got.PauseReason)
	require.Equal(t, 100, got.Stats.Pending, "80 queued (not sent yet) and the 20 of the batch rolled back whole")
	require.Len(t, b.mem.messages, 80)
}
