package campaigns_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// Reach, over the messages the memory holds.

func (m *memory) RunningOn(_ context.Context, ws domain.ID, phoneNumberID string) (int, error) {
	n := 0
	for _, c := range m.campaigns {
		if c.WorkspaceID == ws && c.PhoneNumberID == phoneNumberID && c.Status == domain.CampaignRunning {
			n++
		}
	}
	return n, nil
}

func (m *memory) Reached(_ context.Context, ws domain.ID, phoneNumberID string, since time.Time) (int, error) {
	m.reached++
	seen := map[domain.ID]bool{}
	for _, msg := range m.messages {
		if msg.WorkspaceID == ws && msg.PhoneNumberID == phoneNumberID && msg.Direction == domain.Outbound &&
			msg.Type == "template" && msg.Status != domain.StatusFailed && msg.CreatedAt.After(since) {
			seen[msg.ContactID] = true
		}
	}
	return len(seen), nil
}

// sentBefore records template sends of the number to n new contacts (the API's, or
// another campaign's), at the clock's time.
func (b *bundle) sentBefore(n int) {
	for range n {
		b.mem.messages = append(b.mem.messages, domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: domain.NewID(),
			PhoneNumberID: numberID, Direction: domain.Outbound, Type: "template", Status: domain.StatusSent, CreatedAt: b.clock.now()})
	}
}

// tier sets the messaging limit tier of the workspace's number.
func (b *bundle) tier(tier string) { b.w.numbers[0].MessagingLimitTier = tier }

// requireSystemPause requires c paused for reason by the system, its last event.
func (b *bundle) requireSystemPause(t *testing.T, c domain.Campaign, reason domain.PauseReason) {
	t.Helper()
	got, err := b.svc.Get(context.Background(), b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignPaused, got.Status)
	require.Equal(t, reason, got.PauseReason)
	ev := b.lastEvent(t)
	require.Equal(t, domain.EventCampaignPaused, ev.Event.Kind())
	require.Equal(t, domain.ActorSystem, ev.Actor.Type)
	require.Equal(t, string(reason), ev.Event.Subject().Details["reason"])
}

// resumeAndSend resumes c, which must run, and sends its next batch.
func (b *bundle) resumeAndSend(t *testing.T, c domain.Campaign) campaigns.Step {
	t.Helper()
	got, err := b.svc.Resume(context.Background(), b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, got.Status)
	step, err := b.svc.SendBatch(context.Background(), b.ws, c.ID)
	require.NoError(t, err)
	return step
}

func (b *bundle) contacts(n int, tag string) {
	for i := range n {
		b.contact(fmt.Sprintf("Kim %d", i), tag)
	}
}

// The number's reach counts distinct contacts sent a template in the last 24 hours: a
// contact messaged twice counts once; failed sends, other messages and other numbers not.
func TestReachCountsUniqueContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := b.clock.now()
	ana := domain.NewID()
	msg := func(contact domain.ID, typ string, status domain.MessageStatus, number string, at time.Time) domain.Message {
		return domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: contact, PhoneNumberID: number,
			Direction: domain.Outbound, Type: typ, Status: status, CreatedAt: at}
	}
	b.mem.messages = append(b.mem.messages,
		msg(ana, "template", domain.StatusRead, numberID, now.Add(-time.Hour)),
		msg(ana, "template", domain.StatusQueued, numberID, now),
		msg(domain.NewID(), "template", domain.StatusFailed, numberID, now),
		msg(domain.NewID(), "text", domain.StatusSent, numberID, now),
		msg(domain.NewID(), "template", domain.StatusSent, "other", now),
		msg(domain.NewID(), "template", domain.StatusSent, numberID, now.Add(-25*time.Hour)))
	n, err := b.mem.Reached(context.Background(), b.ws, numberID, now.Add(-domain.MessagingWindow))
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// A launch whose recipients would pass the number's limit is refused, saying how many fit,
// and leaves the campaign as it was; with split it runs, each batch within what is left,
// waits (running) while nothing is, and goes on as the window frees.
func TestLaunchWithinTheMessagingLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.tier("TIER_250")
	b.sentBefore(200) // 50 left
	b.contacts(60, "all")
	c := b.create(t, "hello", &campaigns.AudienceInput{Tags: []string{"all"}})
	events := len(b.mem.events)

	err := errOf(b.svc.Launch(ctx, b.owner, c.ID))
	requireKind(t, domain.KindCapacityExceeded, err)
	require.ErrorContains(t, err, "60 recipients")
	require.ErrorContains(t, err, "50 fit now")
	require.ErrorContains(t, err, "split:true")
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignDraft, got.Status)
	require.Nil(t, got.SnapshotAt)
	require.Empty(t, b.mem.recipients[c.ID], "the audience taken is rolled back")
	require.Len(t, b.mem.events, events)

	got, err = b.svc.LaunchWith(ctx, b.owner, c.ID, campaigns.LaunchOptions{Split: true})
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, got.Status)
	require.True(t, got.Split)
	require.Equal(t, true, b.lastEvent(t).Event.Subject().Details["split"])

	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 50, step.Queued, "what is left of the limit, not the number's 80 a second")
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.Step{Wait: campaigns.CapacityWait, Reason: "messaging limit reached"}, step)
	got, _ = b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignRunning, got.Status, "it waits, running")

	b.clock.advance(domain.MessagingWindow + time.Second) // the earlier sends leave the window
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 10, step.Queued)
	require.Len(t, b.mem.messages, 200+60)
}

// Launched without split, a campaign that meets the limit mid-run (other sends took it)
// pauses with capacity as the system; it resumes only when what is left to send fits.
func TestCampaignPausesAtTheMessagingLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.tier("TIER_50")
	b.contacts(40, "all")
	c := b.launched(t, "hello", "all")
	require.False(t, c.Split)
	b.sentBefore(20) // the API's sends: 30 left

	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 30, step.Queued)
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done)
	b.requireSystemPause(t, c, domain.PauseCapacity)

	err = errOf(b.svc.Resume(ctx, b.owner, c.ID))
	requireKind(t, domain.KindCapacityExceeded, err)
	require.NotContains(t, err.Error(), "split", "a resume cannot choose split")
	b.clock.advance(domain.MessagingWindow + time.Second)
	require.Equal(t, 10, b.resumeAndSend(t, c).Queued)
}

// A scheduled campaign whose audience does not fit when its time comes pauses (capacity)
// without taking its audience; one launched with split starts.
func TestScheduledCampaignOverTheLimitPauses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.tier("TIER_50")
	b.contacts(60, "all")
	schedule := func() domain.Campaign {
		in := b.input("hello", &campaigns.AudienceInput{Tags: []string{"all"}})
		at := b.clock.now().Add(time.Hour)
		in.ScheduledAt = &at
		c, err := b.svc.Create(ctx, b.owner, in)
		require.NoError(t, err)
		return c
	}
	plain, split := schedule(), schedule()
	_, err := b.svc.LaunchWith(ctx, b.owner, split.ID, campaigns.LaunchOptions{Split: true})
	require.NoError(t, err, "the limit is checked when it starts")
	b.clock.advance(2 * time.Hour)
	started, err := b.svc.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, started)
	got, _ := b.svc.Get(ctx, b.owner, plain.ID)
	require.Equal(t, domain.CampaignPaused, got.Status)
	require.Equal(t, domain.PauseCapacity, got.PauseReason)
	require.Nil(t, got.SnapshotAt)
	got, _ = b.svc.Get(ctx, b.owner, split.ID)
	require.Equal(t, domain.CampaignRunning, got.Status)
	require.Equal(t, 60, got.Stats.Recipients)
}

// A number rated RED pauses its running campaign at its next batch (quality_low, as the
// system) and no message goes; a campaign cannot be resumed or launched to run while the
// number is RED, and can once Meta rates it higher.
func TestQualityRedPausesCampaigns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contacts(3, "all")
	c := b.launched(t, "hello", "all")
	b.w.numbers[0].QualityRating = "RED"

	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done)
	require.Empty(t, b.mem.messages)
	b.requireSystemPause(t, c, domain.PauseQualityLow)

	err = errOf(b.svc.Resume(ctx, b.owner, c.ID))
	requireKind(t, domain.KindInvalidState, err)
	require.ErrorContains(t, err, "RED")
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Launch(ctx, b.owner, b.create(t, "hello", &campaigns.AudienceInput{All: true}).ID)))
	in := b.input("hello", &campaigns.AudienceInput{All: true})
	later := b.clock.now().Add(time.Hour)
	in.ScheduledAt = &later
	scheduled, err := b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	got, err := b.svc.Launch(ctx, b.owner, scheduled.ID)
	require.NoError(t, err, "it starts later: the rating then decides")
	require.Equal(t, domain.CampaignScheduled, got.Status)

	b.w.numbers[0].QualityRating = "YELLOW"
	require.Equal(t, 3, b.resumeAndSend(t, c).Queued)
}

// Running campaigns of one number share its throughput equally; another number's campaign
// keeps its own. An unlimited number's batches never read the 24-hour count.
func TestCampaignsOfANumberShareItsThroughput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.w.numbers = append(b.w.numbers, domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: b.ws, PhoneNumberID: "2077",
		WABAID: "waba1", Status: domain.NumberConnected})
	b.contacts(100, "all")
	first, second := b.launched(t, "hello", "all"), b.launched(t, "hello", "all")
	in := b.input("hello", &campaigns.AudienceInput{Tags: []string{"all"}})
	in.PhoneNumberID = "2077"
	elsewhere, err := b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	_, err = b.svc.Launch(ctx, b.owner, elsewhere.ID)
	require.NoError(t, err)

	for _, c := range []domain.Campaign{first, second} {
		step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
		require.NoError(t, err)
		require.Equal(t, 40, step.Queued, "half of the number's 80 a second each")
	}
	step, err := b.svc.SendBatch(ctx, b.ws, elsewhere.ID)
	require.NoError(t, err)
	require.Equal(t, 80, step.Queued, "another number's pace is its own")
	require.Zero(t, b.mem.reached, "no limit, no count")

	_, err = b.svc.Pause(ctx, b.owner, second.ID)
	require.NoError(t, err)
	step, err = b.svc.SendBatch(ctx, b.ws, first.ID)
	require.NoError(t, err)
	require.Equal(t, 60, step.Queued, "alone again: the whole pace, up to what is left")
}
