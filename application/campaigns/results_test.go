package campaigns_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// lastMessageTo is the campaign's latest message to contact (its current attempt's).
func (b *bundle) lastMessageTo(t *testing.T, c domain.Campaign, contact domain.ID) domain.Message {
	t.Helper()
	var last *domain.Message
	for i, m := range b.mem.messages {
		if *m.CampaignID == c.ID && m.ContactID == contact {
			last = &b.mem.messages[i]
		}
	}
	require.NotNil(t, last, "a message to %s", contact)
	return *last
}

// sentTo launches "hello" to contacts of those names and queues its first batch.
func (b *bundle) sentTo(t *testing.T, names ...string) (domain.Campaign, []domain.ID) {
	t.Helper()
	var ids []domain.ID
	for _, n := range names {
		ids = append(ids, b.contact(n, "all"))
	}
	c := b.launched(t, "hello", "all")
	_, err := b.svc.SendBatch(context.Background(), b.ws, c.ID)
	require.NoError(t, err)
	return c, ids
}

// progressed tells the results of statuses and inbound messages, in one transaction.
func (b *bundle) progressed(t *testing.T, ms []domain.Message, arrivals ...domain.Arrival) {
	t.Helper()
	require.NoError(t, b.mem.InTx(context.Background(), func(ctx context.Context, r campaigns.Repos) error {
		return campaigns.ResultsInTx(r.Progress, b.clock.now).Progressed(ctx, ms, arrivals)
	}))
}

// failedWith is m failed with Meta's code; accepted says whether Meta took it first (a
// status webhook reports the failure) or refused it in answer to the send.
func failedWith(m domain.Message, code int, accepted bool) domain.Message {
	m.Status, m.Error = domain.StatusFailed, &domain.MessageError{Code: code, Title: "Meta says no"}
	if accepted {
		m.WAMID = "wamid." + m.ID.String()
	}
	return m
}

// 131049 schedules the recipient a day later, for at most the workspace's retry days; the
// throttling codes back off by minutes when Meta reported them after taking the message,
// and are final when the send worker got them (it backed off already); other codes are
// final. A retry detaches the message: its late status moves nothing. The campaign waits
// for its retries, which go out in the batch after they come due.
func TestResultsScheduleRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	c, ids := b.sentTo(t, "Ana", "Bo", "Cy", "Di")
	ana, bo, cy, di := ids[0], ids[1], ids[2], ids[3]
	start := b.clock.now()
	first := b.lastMessageTo(t, c, ana)
	b.progressed(t, []domain.Message{failedWith(first, domain.MarketingLimitCode, true),
		failedWith(b.lastMessageTo(t, c, bo), 130429, true), failedWith(b.lastMessageTo(t, c, cy), 131056, false),
		failedWith(b.lastMessageTo(t, c, di), 131026, true)})

	r := b.recipient(c, ana)
	require.Equal(t, domain.RecipientRetryScheduled, r.Status)
	require.Equal(t, start.Add(24*time.Hour), *r.NextAttemptAt)
	require.Nil(t, r.MessageID, "detached from the failed message")
	require.Equal(t, domain.MarketingLimitCode, r.Error.Code, "Meta's reason is kept")
	require.Equal(t, start.Add(time.Minute), *b.recipient(c, bo).NextAttemptAt, "throttled: a minute")
	require.Equal(t, domain.RecipientFailed, b.recipient(c, cy).Status, "the send worker backed off already")
	require.Equal(t, domain.RecipientFailed, b.recipient(c, di).Status)
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignStats{Recipients: 4, Failed: 2, RetryScheduled: 2}, got.Stats)

	late := first
	late.Status = domain.StatusDelivered
	b.progressed(t, []domain.Message{late})
	require.Equal(t, domain.RecipientRetryScheduled, b.recipient(c, ana).Status, "the old message's late status finds nothing")

	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.Step{Wait: campaigns.InFlightWait, Reason: "messages in flight or retries waiting"}, step,
		"not due yet, and not done")

	b.clock.advance(time.Minute)
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, step.Queued, "bo's retry is due")
	r = b.recipient(c, bo)
	require.Equal(t, domain.RecipientPending, r.Status)
	require.Equal(t, 2, r.Attempts)
	require.Nil(t, r.NextAttemptAt)
	require.Equal(t, b.lastMessageTo(t, c, bo).ID, *r.MessageID)

	// Ana: refused again 24, 48 and 72 hours after her first attempt; the last is her
	// third day's end.
	for day := 1; day <= 3; day++ {
		b.clock.advance(b.recipient(c, ana).NextAttemptAt.Sub(b.clock.now()))
		step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
		require.NoError(t, err)
		require.Equal(t, 1, step.Queued, "day %d", day)
		m := b.lastMessageTo(t, c, ana)
		require.NotEqual(t, first.ID, m.ID, "a new message")
		require.Equal(t, day+1, b.recipient(c, ana).Attempts)
		b.progressed(t, []domain.Message{failedWith(m, domain.MarketingLimitCode, true)})
	}
	r = b.recipient(c, ana)
	require.Equal(t, domain.RecipientFailed, r.Status, "three days after the first attempt: final")
	require.Nil(t, r.NextAttemptAt)
	require.Equal(t, domain.MarketingLimitCode, r.Error.Code)
	got, _ = b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignStats{Recipients: 4, Pending: 1, Failed: 3}, got.Stats)
}

// A workspace that retries 0 days fails 131049 at once; a retry comes no earlier than a
// day after Meta's report, even when Meta's clock runs ahead; a cancelled campaign skips
// the recipients waiting for a retry.
func TestResultsRetryDaysAndCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	c, ids := b.sentTo(t, "Ana", "Bo", "Cy")
	ana, bo, cy := ids[0], ids[1], ids[2]
	b.mem.retryDays = 0
	b.progressed(t, []domain.Message{failedWith(b.lastMessageTo(t, c, ana), domain.MarketingLimitCode, true)})
	require.Equal(t, domain.RecipientFailed, b.recipient(c, ana).Status)
	b.mem.retryDays = 1
	ahead := b.clock.now().Add(5 * time.Second)
	m := failedWith(b.lastMessageTo(t, c, cy), domain.MarketingLimitCode, true)
	m.FailedAt = &ahead
	b.progressed(t, []domain.Message{m})
	require.Equal(t, ahead.Add(24*time.Hour), *b.recipient(c, cy).NextAttemptAt, "when the contact's hold ends")

	b.progressed(t, []domain.Message{failedWith(b.lastMessageTo(t, c, bo), 131057, true)})
	require.Equal(t, domain.RecipientRetryScheduled, b.recipient(c, bo).Status)
	_, err := b.svc.Cancel(ctx, b.owner, c.ID)
	require.NoError(t, err)
	for _, who := range []domain.ID{bo, cy} {
		r := b.recipient(c, who)
		require.Equal(t, domain.RecipientSkipped, r.Status)
		require.Equal(t, domain.SkipCancelled, r.Reason)
		require.Nil(t, r.NextAttemptAt)
	}
}

// A contact's message within 72 hours of its recipient's delivery makes the recipient
// replied, also when the delivery is reported in the same batch; a later one, a system
// notice, or another contact's do not.
func TestResultsReplied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, ids := b.sentTo(t, "Ana", "Bo", "Cy", "Di")
	ana, bo, cy, di := ids[0], ids[1], ids[2], ids[3]
	at := b.clock.now()
	status := func(contact domain.ID, s domain.MessageStatus) domain.Message {
		m := b.lastMessageTo(t, c, contact)
		m.Status, m.DeliveredAt = s, &at
		return m
	}
	reply := func(contact domain.ID, after time.Duration, touch bool) domain.Arrival {
		return domain.Arrival{Touch: touch, Message: domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: contact,
			Direction: domain.Inbound, Status: domain.StatusReceived, CreatedAt: at.Add(after)}}
	}
	b.progressed(t, []domain.Message{status(ana, domain.StatusDelivered), status(bo, domain.StatusRead), status(cy, domain.StatusDelivered)})
	b.clock.advance(80 * time.Hour)
	b.progressed(t, nil, reply(ana, 71*time.Hour, true), reply(bo, 73*time.Hour, true), reply(cy, time.Hour, false))
	require.Equal(t, domain.RecipientReplied, b.recipient(c, ana).Status)
	require.Equal(t, domain.RecipientRead, b.recipient(c, bo).Status, "73 hours after the delivery")
	require.Equal(t, domain.RecipientDelivered, b.recipient(c, cy).Status, "a system notice is no reply")

	// Delivered and answered in one batch.
	b.progressed(t, []domain.Message{status(di, domain.StatusDelivered)}, reply(di, time.Minute, true))
	require.Equal(t, domain.RecipientReplied, b.recipient(c, di).Status)
	got, _ := b.svc.Get(context.Background(), b.owner, c.ID)
	require.Equal(t, domain.CampaignStats{Recipients: 4, Sent: 4, Delivered: 4, Read: 3, Replied: 2}, got.Stats)
}
