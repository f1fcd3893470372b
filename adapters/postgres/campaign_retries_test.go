package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// retryRow is what a recipient holds about its attempts.
type retryRow struct {
	Status         string
	MessageID      *domain.ID
	Attempts       int
	NextAttemptAt  *time.Time
	FirstAttemptAt *time.Time
	DeliveredAt    *time.Time
	ErrorCode      *int
}

func (b *campaignBundle) retryRow(t *testing.T, campaignID, contact domain.ID) retryRow {
	t.Helper()
	var r retryRow
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT status, message_id, attempts, next_attempt_at, first_attempt_at,
			delivered_at, error_code
		FROM campaign_recipients WHERE workspace_id = $1 AND campaign_id = $2 AND contact_id = $3`, b.ws, campaignID, contact).
		Scan(&r.Status, &r.MessageID, &r.Attempts, &r.NextAttemptAt, &r.FirstAttemptAt, &r.DeliveredAt, &r.ErrorCode))
	for _, p := range []**time.Time{&r.NextAttemptAt, &r.FirstAttemptAt, &r.DeliveredAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	return r
}

// progressed tells the results of statuses and inbound messages in one transaction, at at.
func (b *campaignBundle) progressed(t *testing.T, at time.Time, ms []domain.Message, arrivals ...domain.Arrival) {
	t.Helper()
	require.NoError(t, b.tx().InTx(context.Background(), func(ctx context.Context, r campaigns.Repos) error {
		return campaigns.ResultsInTx(r.Progress, func() time.Time { return at }).Progressed(ctx, ms, arrivals)
	}))
}

// message is the campaign message mid as the results see it, at status s.
func (b *campaignBundle) message(c domain.Campaign, contact, mid domain.ID, s domain.MessageStatus) domain.Message {
	return domain.Message{WorkspaceID: b.ws, ID: mid, ContactID: contact, CampaignID: &c.ID, Status: s, WAMID: "wamid." + mid.String()}
}

// A 131049 schedules the recipient's retry a day later and detaches its message (whose
// late status then moves nothing); once due, the next batch queues a new message, the
// recipient pending again with one more attempt; the workspace's retry days end it. The
// counters equal a count of the recipients at every step.
func TestCampaignRetryIsQueuedAgainWithANewMessage(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	ana, bo := b.contact(t, b.ws, "Ana", "spring"), b.contact(t, b.ws, "Bo", "spring")
	clock := now()
	world := &campaignWorld{number: domain.PhoneNumber{WorkspaceID: b.ws, PhoneNumberID: "1065", WABAID: "waba", Status: domain.NumberConnected},
		template: domain.Template{Name: "hello", Language: "en_US", Category: domain.CategoryMarketing, Status: domain.TemplateApproved,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hi {{1}}"}}},
		perCall: 10}
	svc := campaigns.NewService(campaigns.Deps{Tx: b.tx(), Store: b.repo, Numbers: world, Templates: world,
		Workspaces: postgres.NewWorkspaceRepo(b.pool), Quota: world, Clock: func() time.Time { return clock }})
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{Tags: []string{"spring"}})
	_, err := b.repo.Snapshot(ctx, c, clock)
	require.NoError(t, err)
	exact := func() {
		t.Helper()
		require.Equal(t, b.recipientCounts(t, c.ID), b.counters(t, c.ID))
	}

	step, err := svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 2, step.Queued)
	first := b.retryRow(t, c.ID, ana)
	require.Equal(t, clock, *first.FirstAttemptAt)
	failed := b.message(c, ana, *first.MessageID, domain.StatusFailed)
	failed.Error = &domain.MessageError{Code: domain.MarketingLimitCode, Title: "Healthy ecosystem"}
	b.progressed(t, clock, []domain.Message{failed})
	r := b.retryRow(t, c.ID, ana)
	require.Equal(t, "retry_scheduled", r.Status)
	require.Nil(t, r.MessageID)
	require.Equal(t, clock.Add(24*time.Hour), *r.NextAttemptAt)
	require.Equal(t, domain.MarketingLimitCode, *r.ErrorCode)
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 1, domain.RecipientRetryScheduled: 1}, b.counters(t, c.ID))
	exact()

	late := b.message(c, ana, *first.MessageID, domain.StatusDelivered)
	b.progressed(t, clock, []domain.Message{late})
	require.Equal(t, "retry_scheduled", b.retryRow(t, c.ID, ana).Status, "the old message finds nothing")

	// Not due: nothing is queued, and the campaign waits.
	step, err = svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Zero(t, step.Queued)
	require.Equal(t, campaigns.InFlightWait, step.Wait)
	require.False(t, step.Done)

	clock = clock.Add(24 * time.Hour)
	step, err = svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, step.Queued, "the due retry")
	r = b.retryRow(t, c.ID, ana)
	require.Equal(t, "pending", r.Status)
	require.NotNil(t, r.MessageID)
	require.NotEqual(t, *first.MessageID, *r.MessageID, "a new message")
	require.Equal(t, 2, r.Attempts)
	require.Nil(t, r.NextAttemptAt)
	require.Equal(t, *first.FirstAttemptAt, *r.FirstAttemptAt, "the days count from the first attempt")
	var messages int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ana).Scan(&messages))
	require.Equal(t, 2, messages)
	exact()

	b.progressed(t, clock, []domain.Message{late})
	require.Equal(t, "pending", b.retryRow(t, c.ID, ana).Status, "the old message still finds nothing")

	// One retry day: the second refusal, a day after the first attempt, is final.
	_, err = b.pool.Exec(ctx, `UPDATE workspaces SET campaign_retry_days = 1 WHERE id = $1`, b.ws)
	require.NoError(t, err)
	again := b.message(c, ana, *r.MessageID, domain.StatusFailed)
	again.Error = failed.Error
	b.progressed(t, clock, []domain.Message{again})
	r = b.retryRow(t, c.ID, ana)
	require.Equal(t, "failed", r.Status)
	require.Nil(t, r.NextAttemptAt)
	exact()

	// The other recipient is delivered (its time kept for replies); the campaign completes.
	delivered := b.message(c, bo, *b.retryRow(t, c.ID, bo).MessageID, domain.StatusDelivered)
	at := clock.Add(-time.Hour)
	delivered.DeliveredAt = &at
	b.progressed(t, clock, []domain.Message{delivered})
	require.Equal(t, at, *b.retryRow(t, c.ID, bo).DeliveredAt)
	step, err = svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done)
	got, err := b.repo.Get(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignStats{Recipients: 2, Sent: 1, Delivered: 1, Failed: 1}, got.Stats)
	exact()
}

// A contact's message within 72 hours of its recipient's delivery makes the recipient
// replied (in every campaign that reached it so), after 73 hours it does not; a recipient
// waiting for a retry is left alone; the counters stay exact.
func TestCampaignRepliesWithin72Hours(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	ana, bo, cy := b.contact(t, b.ws, "Ana"), b.contact(t, b.ws, "Bo"), b.contact(t, b.ws, "Cy")
	spring := b.campaign(t, domain.CampaignRunning, domain.Audience{All: true})
	autumn := b.campaign(t, domain.CampaignRunning, domain.Audience{ContactIDs: []domain.ID{ana}})
	for _, c := range []domain.Campaign{spring, autumn} {
		_, err := b.repo.Snapshot(ctx, c, now())
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `UPDATE campaign_recipients SET message_id = gen_random_uuid(), attempts = 1 WHERE workspace_id = $1`, b.ws)
	require.NoError(t, err)
	mid := func(c domain.Campaign, contact domain.ID) domain.ID { return *b.retryRow(t, c.ID, contact).MessageID }

	delivered := now().Add(-100 * time.Hour)
	var ms []domain.Message
	for _, who := range []struct {
		c       domain.Campaign
		contact domain.ID
		status  domain.MessageStatus
	}{{spring, ana, domain.StatusDelivered}, {autumn, ana, domain.StatusRead}, {spring, bo, domain.StatusRead}} {
		m := b.message(who.c, who.contact, mid(who.c, who.contact), who.status)
		m.DeliveredAt = &delivered
		ms = append(ms, m)
	}
	cyFailed := b.message(spring, cy, mid(spring, cy), domain.StatusFailed)
	cyFailed.Error = &domain.MessageError{Code: 130429, Title: "Rate limit hit"}
	ms = append(ms, cyFailed)
	b.progressed(t, now(), ms)
	require.Equal(t, "retry_scheduled", b.retryRow(t, spring.ID, cy).Status)

	reply := func(contact domain.ID, after time.Duration) domain.Arrival {
		return domain.Arrival{Touch: true, Message: domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: contact,
			Direction: domain.Inbound, Status: domain.StatusReceived, CreatedAt: delivered.Add(after)}}
	}
	b.progressed(t, now(), nil, reply(ana, 72*time.Hour), reply(bo, 73*time.Hour), reply(cy, time.Hour))
	require.Equal(t, "replied", b.retryRow(t, spring.ID, ana).Status)
	require.Equal(t, "replied", b.retryRow(t, autumn.ID, ana).Status, "every campaign that reached her")
	require.Equal(t, "read", b.retryRow(t, spring.ID, bo).Status, "73 hours after the delivery")
	require.Equal(t, "retry_scheduled", b.retryRow(t, spring.ID, cy).Status)
	for _, c := range []domain.Campaign{spring, autumn} {
		require.Equal(t, b.recipientCounts(t, c.ID), b.counters(t, c.ID))
	}
	got, err := b.repo.Get(ctx, b.ws, spring.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignStats{Recipients: 3, Sent: 2, Delivered: 2, Read: 2, Replied: 1, RetryScheduled: 1}, got.Stats)

	// Replied again: nothing moves twice.
	b.progressed(t, now(), nil, reply(ana, 72*time.Hour))
	require.Equal(t, b.recipientCounts(t, spring.ID), b.counters(t, spring.ID))
}
