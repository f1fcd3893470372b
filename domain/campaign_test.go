package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestCampaignMoves(t *testing.T) {
	t.Parallel()
	all := []domain.CampaignStatus{domain.CampaignDraft, domain.CampaignScheduled, domain.CampaignRunning,
		domain.CampaignPaused, domain.CampaignCompleted, domain.CampaignCancelled}
	allowed := map[domain.CampaignAction][]domain.CampaignStatus{
		domain.CampaignEdit:     {domain.CampaignDraft, domain.CampaignScheduled},
		domain.CampaignLaunch:   {domain.CampaignDraft, domain.CampaignScheduled},
		domain.CampaignPause:    {domain.CampaignScheduled, domain.CampaignRunning},
		domain.CampaignResume:   {domain.CampaignPaused},
		domain.CampaignCancel:   {domain.CampaignDraft, domain.CampaignScheduled, domain.CampaignRunning, domain.CampaignPaused},
		domain.CampaignComplete: {domain.CampaignRunning},
	}
	for action, ok := range allowed {
		for _, s := range all {
			err := domain.CheckCampaignMove(s, action)
			want := false
			for _, o := range ok {
				want = want || o == s
			}
			if want {
				require.NoError(t, err, "%s a %s campaign", action, s)
			} else {
				require.True(t, domain.IsKind(err, domain.KindInvalidState), "%s a %s campaign: %v", action, s, err)
			}
		}
	}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	require.Equal(t, domain.CampaignRunning, domain.LaunchStatus(nil, now))
	require.Equal(t, domain.CampaignRunning, domain.LaunchStatus(&earlier, now))
	require.Equal(t, domain.CampaignRunning, domain.LaunchStatus(&now, now))
	require.Equal(t, domain.CampaignScheduled, domain.LaunchStatus(&later, now))
}

func TestAdvanceRecipient(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to, want domain.RecipientStatus
		moved          bool
	}{
		{domain.RecipientPending, domain.RecipientSent, domain.RecipientSent, true},
		{domain.RecipientPending, domain.RecipientRead, domain.RecipientRead, true}, // a read can arrive first
		{domain.RecipientRead, domain.RecipientSent, domain.RecipientRead, false},   // a late sent
		{domain.RecipientRead, domain.RecipientDelivered, domain.RecipientRead, false},
		{domain.RecipientDelivered, domain.RecipientReplied, domain.RecipientReplied, true},
		{domain.RecipientReplied, domain.RecipientRead, domain.RecipientReplied, false},
		{domain.RecipientSent, domain.RecipientFailed, domain.RecipientFailed, true},
		{domain.RecipientDelivered, domain.RecipientFailed, domain.RecipientDelivered, false},
		{domain.RecipientFailed, domain.RecipientDelivered, domain.RecipientFailed, false},
		{domain.RecipientSkipped, domain.RecipientSent, domain.RecipientSkipped, false},
		{domain.RecipientPending, domain.RecipientSkipped, domain.RecipientSkipped, true},
		{domain.RecipientSent, domain.RecipientSkipped, domain.RecipientSent, false},
		{domain.RecipientPending, domain.RecipientRetryScheduled, domain.RecipientRetryScheduled, true},
		{domain.RecipientSent, domain.RecipientRetryScheduled, domain.RecipientRetryScheduled, true}, // failed after Meta took it
		{domain.RecipientDelivered, domain.RecipientRetryScheduled, domain.RecipientDelivered, false},
		{domain.RecipientSkipped, domain.RecipientRetryScheduled, domain.RecipientSkipped, false},
		{domain.RecipientRetryScheduled, domain.RecipientPending, domain.RecipientPending, true},
		{domain.RecipientSent, domain.RecipientPending, domain.RecipientSent, false},
		{domain.RecipientSent, domain.RecipientSent, domain.RecipientSent, false},
	}
	for _, c := range cases {
		got, moved := domain.AdvanceRecipient(c.from, c.to)
		require.Equal(t, c.want, got, "%s + %s", c.from, c.to)
		require.Equal(t, c.moved, moved, "%s + %s", c.from, c.to)
	}
}

func TestCampaignRetry(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// 131049: a day later, while the first attempt is less than the retry days old.
	for _, c := range []struct {
		attempts  int
		now       time.Duration // after the first attempt
		retryDays int
		retry     bool
	}{
		{1, time.Minute, 3, true},
		{2, day + time.Minute, 3, true},
		{3, 2*day + time.Minute, 3, true}, // the third day's failure: once more
		{4, 3*day + time.Minute, 3, false},
		{4, 3 * day, 3, false}, // exactly three days: over
		{1, time.Minute, 1, true},
		{2, day + time.Minute, 1, false},
		{1, 0, 0, false}, // 0: never
	} {
		now := first.Add(c.now)
		next, retry := domain.CampaignRetry(domain.MarketingLimitCode, c.attempts, first, now, c.retryDays)
		require.Equal(t, c.retry, retry, "%+v", c)
		if retry {
			require.Equal(t, now.Add(day), next)
		}
	}
	// The throttling codes back off 1, 2, 4, 8, 16 minutes: five retries, then final.
	for _, code := range []int{130429, 131056, 131057} {
		for attempts, wait := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute,
			4: 8 * time.Minute, 5: 16 * time.Minute} {
			next, retry := domain.CampaignRetry(code, attempts, first, first, 0)
			require.True(t, retry, "%d after %d attempts", code, attempts)
			require.Equal(t, first.Add(wait), next, "%d after %d attempts", code, attempts)
		}
		_, retry := domain.CampaignRetry(code, domain.CampaignBackoffRetries+1, first, first, 3)
		require.False(t, retry, "%d: five retries at most", code)
	}
	for _, code := range []int{131026, 132001, 131047, 0} {
		_, retry := domain.CampaignRetry(code, 1, first, first, 3)
		require.False(t, retry, "%d is final", code)
	}
}

func TestOptOutSpike(t *testing.T) {
	t.Parallel()
	require.False(t, domain.OptOutSpike(19, 100), "fewer than 20 opt-outs never trip it")
	require.True(t, domain.OptOutSpike(20, 999), "20 of 999 is over 2%")
	require.False(t, domain.OptOutSpike(20, 1000), "exactly 2% does not pass it")
	require.True(t, domain.OptOutSpike(21, 1000))
}

func TestBindContact(t *testing.T) {
	t.Parallel()
	c := domain.Contact{Name: " Ana ", Phone: "+5215512345678", Attributes: map[string]any{"city": "CDMX", "orders": 3.0}}
	comps := json.RawMessage(`[{"type":"body","parameters":[
		{"type":"text","text":"{{contact.name}}"},
		{"type":"text","text":"Hola {{ contact.name | amigo }}, from {{contact.attributes.city}} ({{contact.attributes.orders}})"},
		{"type":"text","text":"{{contact.attributes.tier|regular}}"},
		{"type":"text","text":"{{contact.phone}}"},
		{"type":"currency","currency":{"code":"MXN","amount_1000":1000}}]}]`)
	got, missing, err := domain.BindContact(comps, c)
	require.NoError(t, err)
	require.Empty(t, missing)
	require.JSONEq(t, `[{"type":"body","parameters":[
		{"type":"text","text":"Ana"},
		{"type":"text","text":"Hola Ana, from CDMX (3)"},
		{"type":"text","text":"regular"},
		{"type":"text","text":"+5215512345678"},
		{"type":"currency","currency":{"code":"MXN","amount_1000":1000}}]}]`, string(got))

	_, missing, err = domain.BindContact(json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"{{contact.attributes.tier}}"}]}]`), c)
	require.NoError(t, err)
	require.Equal(t, "contact.attributes.tier", missing, "no value and no default")

	plain := json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"fixed"}]}]`)
	got, _, err = domain.BindContact(plain, c)
	require.NoError(t, err)
	require.Equal(t, string(plain), string(got), "nothing to bind: unchanged")

	require.Empty(t, domain.CheckPlaceholders("Hi {{contact.name|there}} {{contact.attributes.a_b-c}}"))
	require.Contains(t, domain.CheckPlaceholders("Hi {{contact.email}}"), "unknown contact field")
	require.Contains(t, domain.CheckPlaceholders("Hi {{contact.attributes.}}"), "unknown contact field")
}

func TestCampaignStats(t *testing.T) {
	t.Parallel()
	s := domain.StatsOf(map[domain.RecipientStatus]int{domain.RecipientPending: 5, domain.RecipientSent: 4,
		domain.RecipientDelivered: 3, domain.RecipientRead: 2, domain.RecipientReplied: 1, domain.RecipientFailed: 6,
		domain.RecipientSkipped: 7, domain.RecipientRetryScheduled: 8})
	require.Equal(t, domain.CampaignStats{Recipients: 36, Pending: 5, Sent: 10, Delivered: 6, Read: 3, Replied: 1, Failed: 6,
		Skipped: 7, RetryScheduled: 8}, s, "sent, delivered and read are a funnel; the rest add up")
	require.False(t, s.Done())
	require.True(t, domain.StatsOf(map[domain.RecipientStatus]int{domain.RecipientSent: 1, domain.RecipientSkipped: 1}).Done())
	require.False(t, domain.StatsOf(map[domain.RecipientStatus]int{domain.RecipientRetryScheduled: 1}).Done(), "a retry is still to come")
	require.True(t, domain.StatsOf(nil).Done())
}

func TestAudienceCheck(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	for _, tt := range []struct {
		a     domain.Audience
		field string
	}{
		{domain.Audience{All: true}, ""},
		{domain.Audience{Tags: []string{"vip"}, ContactIDs: []domain.ID{id}}, ""},
		{domain.Audience{All: true, Tags: []string{"vip"}}, "audience.all"},
		{domain.Audience{All: true, ContactIDs: []domain.ID{id}}, "audience.all"},
		{domain.Audience{Tags: []string{" "}}, "audience.tags"},
		{domain.Audience{ContactIDs: []domain.ID{id, id}}, "audience.contact_ids"},
		{domain.Audience{ContactIDs: []domain.ID{domain.NilID}}, "audience.contact_ids"},
		{domain.Audience{ContactIDs: make([]domain.ID, domain.MaxAudienceContactIDs+1)}, "audience.contact_ids"},
	} {
		field, why := tt.a.Check()
		require.Equal(t, tt.field, field, "%+v", tt.a)
		require.Equal(t, tt.field == "", why == "")
	}
	require.True(t, domain.Audience{}.Empty())
	require.False(t, domain.Audience{Tags: []string{"x"}}.Empty())
}

func TestRecipientStatusOf(t *testing.T) {
	t.Parallel()
	for s, want := range map[domain.MessageStatus]domain.RecipientStatus{domain.StatusSent: domain.RecipientSent,
		domain.StatusDelivered: domain.RecipientDelivered, domain.StatusRead: domain.RecipientRead, domain.StatusFailed: domain.RecipientFailed} {
		got, ok := domain.RecipientStatusOf(s)
		require.True(t, ok)
		require.Equal(t, want, got)
	}
	for _, s := range []domain.MessageStatus{domain.StatusQueued, domain.StatusReceived} {
		_, ok := domain.RecipientStatusOf(s)
		require.False(t, ok, s)
	}
}

func TestCampaignMovedKinds(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	for action, kind := range map[domain.CampaignAction]domain.EventKind{domain.CampaignLaunch: domain.EventCampaignLaunched,
		domain.CampaignPause: domain.EventCampaignPaused, domain.CampaignResume: domain.EventCampaignResumed,
		domain.CampaignCancel: domain.EventCampaignCancelled, domain.CampaignComplete: domain.EventCampaignCompleted} {
		e := domain.CampaignMoved{CampaignID: id, Action: action, Status: domain.CampaignRunning}
		require.Equal(t, kind, e.Kind())
		s := e.Subject()
		require.True(t, s.Audited)
		require.Equal(t, "campaign", s.ResourceType)
		require.Equal(t, id.String(), s.ResourceID)
	}
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	s := domain.CampaignMoved{Action: domain.CampaignLaunch, Status: domain.CampaignScheduled, ScheduledAt: &at}.Subject()
	require.Equal(t, map[string]any{"status": "scheduled", "scheduled_at": "2026-01-10T09:00:00Z"}, s.Details)
	s = domain.CampaignMoved{Action: domain.CampaignPause, Status: domain.CampaignPaused, Reason: domain.PauseManual}.Subject()
	require.Equal(t, "manual", s.Details["reason"])
}
