package campaigns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

func TestStopReason(t *testing.T) {
	t.Parallel()
	require.Equal(t, domain.PauseTemplatePaused, campaigns.StopReason("PAUSED", "", ""))
	require.Equal(t, domain.PauseTemplatePaused, campaigns.StopReason("disabled", "", ""))
	require.Equal(t, domain.PauseTemplateRecategorized, campaigns.StopReason("", "UTILITY", "MARKETING"))
	require.Equal(t, domain.PauseTemplateRecategorized, campaigns.StopReason("", "AUTHENTICATION", "MARKETING"))
	require.Empty(t, campaigns.StopReason("APPROVED", "", ""))
	require.Empty(t, campaigns.StopReason("", "MARKETING", "UTILITY"), "cheaper is no surprise")
	require.Empty(t, campaigns.StopReason("", "", "MARKETING"), "a first category is no change")
}

// A template paused by Meta pauses the running and scheduled campaigns that send it, once,
// as the system; a campaign changed after the template did is left alone, and so are
// other templates' and other workspaces'.
func TestTemplateChangesPauseCampaigns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contact("Ana")
	running := b.create(t, "hello", &campaigns.AudienceInput{All: true})
	_, err := b.svc.Launch(ctx, b.owner, running.ID)
	require.NoError(t, err)
	later := b.clock.now().Add(time.Hour)
	in := b.input("hello", &campaigns.AudienceInput{All: true})
	in.ScheduledAt = &later
	scheduled, err := b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignScheduled, scheduled.Status)
	draft := b.create(t, "hello", &campaigns.AudienceInput{All: true})
	other := b.create(t, "sale", &campaigns.AudienceInput{All: true})
	_, err = b.svc.Launch(ctx, b.owner, other.ID)
	require.NoError(t, err)

	b.clock.advance(time.Minute)
	change := func(ws domain.ID, name string, details map[string]any) events.Logged {
		details["name"], details["language"] = name, "en_US"
		payload, _ := json.Marshal(details)
		return events.Logged{WorkspaceID: ws, Kind: domain.EventTemplateStatusChanged, Payload: payload, At: b.clock.now()}
	}
	paused := change(b.ws, "hello", map[string]any{"status": map[string]any{"from": "APPROVED", "to": "PAUSED"}})
	rules := b.svc.StopRules()
	before := len(b.mem.events)
	require.NoError(t, rules.Handle(ctx, []events.Logged{
		change(b.ws, "hello", map[string]any{"quality_rating": map[string]any{"from": "GREEN", "to": "YELLOW"}}),
		change(domain.NewID(), "hello", map[string]any{"status": map[string]any{"from": "APPROVED", "to": "PAUSED"}}),
		paused,
	}))
	for id, want := range map[domain.ID]domain.CampaignStatus{running.ID: domain.CampaignPaused, scheduled.ID: domain.CampaignPaused,
		draft.ID: domain.CampaignDraft, other.ID: domain.CampaignRunning} {
		c, err := b.svc.Get(ctx, b.viewer, id)
		require.NoError(t, err)
		require.Equal(t, want, c.Status)
		if want == domain.CampaignPaused {
			require.Equal(t, domain.PauseTemplatePaused, c.PauseReason)
		}
	}
	moved := b.mem.events[before:]
	require.Len(t, moved, 2)
	for _, o := range moved {
		require.Equal(t, domain.EventCampaignPaused, o.Event.Kind())
		require.Equal(t, domain.ActorSystem, o.Actor.Type)
	}

	// Delivered again after a person resumed it: the resume stands.
	b.clock.advance(time.Minute)
	_, err = b.svc.Resume(ctx, b.owner, running.ID)
	require.NoError(t, err)
	require.NoError(t, rules.Handle(ctx, []events.Logged{paused}))
	c, err := b.svc.Get(ctx, b.viewer, running.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, c.Status)

	// Recategorized to MARKETING: a cost surprise.
	require.NoError(t, rules.Handle(ctx, []events.Logged{
		change(b.ws, "hello", map[string]any{"category": map[string]any{"from": "UTILITY", "to": "MARKETING"}})}))
	c, err = b.svc.Get(ctx, b.viewer, running.ID)
	require.NoError(t, err)
	require.Equal(t, domain.PauseTemplateRecategorized, c.PauseReason)
}

// Customers opting out after a running campaign reached them pause it once they pass 2% of
// its delivered messages (at least 20): each counted once, the business's own opt-outs
// (the API) not at all.
func TestOptOutSpikePausesTheCampaign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	var contacts []domain.ID
	for i := range 30 {
		contacts = append(contacts, b.contact(fmt.Sprintf("C%d", i)))
	}
	c := b.create(t, "hello", &campaigns.AudienceInput{All: true})
	_, err := b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	for _, ct := range contacts {
		r := b.mem.recipients[c.ID][ct]
		r.Status = domain.RecipientDelivered
		b.mem.recipients[c.ID][ct] = r
	}
	optOut := func(contact domain.ID, source domain.OptOutSource) events.Logged {
		return events.Logged{WorkspaceID: b.ws, Kind: domain.EventContactOptedOut, ContactID: &contact, At: b.clock.now(),
			Payload: json.RawMessage(`{"source":"` + string(source) + `"}`)}
	}
	status := func() domain.Campaign {
		got, err := b.svc.Get(ctx, b.viewer, c.ID)
		require.NoError(t, err)
		return got
	}
	rules := b.svc.StopRules()
	b.clock.advance(time.Minute)
	var batch []events.Logged
	for _, ct := range contacts[:19] {
		batch = append(batch, optOut(ct, domain.OptOutKeyword))
	}
	batch = append(batch, optOut(contacts[0], domain.OptOutKeyword), optOut(contacts[25], domain.OptOutAPI))
	require.NoError(t, rules.Handle(ctx, batch))
	require.Equal(t, domain.CampaignRunning, status().Status, "19 customers' opt-outs (one twice) and the business's own")
	require.NoError(t, rules.Handle(ctx, []events.Logged{optOut(contacts[19], domain.OptOutKeyword)}))
	got := status()
	require.Equal(t, domain.CampaignPaused, got.Status, "20 of 30 delivered")
	require.Equal(t, domain.PauseOptOutSpike, got.PauseReason)
}
