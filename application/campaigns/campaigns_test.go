package campaigns_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type bundle struct {
	mem           *memory
	w             *world
	clock         *clock
	svc           *campaigns.Service
	ws            domain.ID
	owner, viewer domain.Caller
	agent         domain.Caller
}

const numberID = "1065"

func setup(t *testing.T) *bundle {
	t.Helper()
	ws := domain.NewID()
	tpl := func(name, category, status, body string) domain.Template {
		return domain.Template{Name: name, Language: "en_US", WABAID: "waba1", Category: category, Status: status,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: body}}}
	}
	w := &world{plan: domain.PlanEnterprise, grant: -1, reset: time.Unix(1768000060, 0).UTC(),
		numbers: []domain.PhoneNumber{{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: numberID, WABAID: "waba1",
			Status: domain.NumberConnected}},
		templates: map[[2]string]domain.Template{}}
	for _, t := range []domain.Template{
		tpl("hello", domain.CategoryUtility, domain.TemplateApproved, "Hi {{1}}"),
		tpl("sale", domain.CategoryMarketing, domain.TemplateApproved, "Sale for {{1}}"),
		tpl("draft_one", domain.CategoryUtility, domain.TemplatePending, "Later {{1}}"),
	} {
		w.templates[[2]string{t.Name, t.Language}] = t
	}
	b := &bundle{mem: newMemory(), w: w, clock: &clock{t: time.Unix(1768000000, 0).UTC()}, ws: ws}
	grants := authztest.Grants{
		access.Owner:  {access.CampaignsRead, access.CampaignsManage, access.CampaignsLaunch},
		access.Viewer: {access.CampaignsRead},
	}
	b.svc = campaigns.NewService(campaigns.Deps{Tx: b.mem, Store: b.mem, Numbers: w, Templates: w, Workspaces: w, Quota: w,
		Imports: b.mem, Authz: grants, Clock: b.clock.now})
	caller := func(role access.Role) domain.Caller {
		return domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: role}
	}
	b.owner, b.viewer, b.agent = caller(access.Owner), caller(access.Viewer), caller(access.Agent)
	return b
}

// contact adds a contact of the workspace.
func (b *bundle) contact(name string, tags ...string) domain.ID {
	id := domain.NewID()
	n := len(b.mem.contacts) + 1
	b.mem.contacts[id] = domain.Contact{ID: id, WorkspaceID: b.ws, Name: name, Tags: tags,
		Phone: fmt.Sprintf("+1415555%04d", n), WaID: fmt.Sprintf("1415555%04d", n)}
	return id
}

// bodyParam is a components array with one body text parameter.
func bodyParam(text string) json.RawMessage {
	b, _ := json.Marshal([]any{map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": text}}}})
	return b
}

func (b *bundle) input(template string, a *campaigns.AudienceInput) campaigns.CreateInput {
	return campaigns.CreateInput{Name: "Spring", PhoneNumberID: numberID, Audience: a,
		Template: campaigns.TemplateInput{Name: template, Language: json.RawMessage(`"en_US"`), Components: bodyParam("{{contact.name|friend}}")}}
}

func (b *bundle) create(t *testing.T, template string, a *campaigns.AudienceInput) domain.Campaign {
	t.Helper()
	c, err := b.svc.Create(context.Background(), b.owner, b.input(template, a))
	require.NoError(t, err)
	return c
}

func requireKind(t *testing.T, kind domain.Kind, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, kind, domain.KindOf(err), "%v", err)
}

// requireField requires a validation error naming field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	requireKind(t, domain.KindValidation, err)
	var de *domain.Error
	require.True(t, errors.As(err, &de))
	var fields []string
	for _, f := range de.Fields {
		fields = append(fields, f.Field)
	}
	require.Contains(t, fields, field)
}

// kinds are the kinds of the events appended so far that concern campaigns.
func (b *bundle) kinds() []domain.EventKind {
	var out []domain.EventKind
	for _, o := range b.mem.events {
		if o.Event.Subject().ResourceType == "campaign" {
			out = append(out, o.Event.Kind())
		}
	}
	return out
}

func (b *bundle) lastEvent(t *testing.T) domain.Occurrence {
	t.Helper()
	require.NotEmpty(t, b.mem.events)
	return b.mem.events[len(b.mem.events)-1]
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	vip := b.contact("Ana", "vip")
	c := b.create(t, "hello", &campaigns.AudienceInput{Tags: []string{" vip ", "vip"}, ContactIDs: []string{vip.String()}})
	require.Equal(t, domain.CampaignDraft, c.Status)
	require.Equal(t, []string{"vip"}, c.Audience.Tags, "tags are normalized")
	require.Equal(t, []domain.ID{vip}, c.Audience.ContactIDs)
	require.Equal(t, "en_US", c.Template.Language)
	require.Equal(t, b.owner.ID, *c.CreatedBy)
	require.Equal(t, []domain.EventKind{domain.EventCampaignCreated}, b.kinds())
	got, err := b.svc.Get(ctx, b.viewer, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.Name, got.Name)

	// Graph's {"code": ...} form of the language, and no audience (a draft may have none).
	in := b.input("hello", nil)
	in.Template.Language = json.RawMessage(`{"code":"en_US"}`)
	c, err = b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	require.Equal(t, "en_US", c.Template.Language)
	require.True(t, c.Audience.Empty())

	// Scheduled: it will start by itself, so it needs what a launch needs.
	in = b.input("hello", &campaigns.AudienceInput{All: true})
	at := b.clock.now().Add(time.Hour)
	in.ScheduledAt = &at
	c, err = b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignScheduled, c.Status)
	require.Equal(t, at, *c.ScheduledAt)
	in.Audience = nil
	requireField(t, errOf(b.svc.Create(ctx, b.owner, in)), "audience")
	in = b.input("draft_one", &campaigns.AudienceInput{All: true})
	in.ScheduledAt = &at
	requireKind(t, domain.KindTemplateNotApproved, errOf(b.svc.Create(ctx, b.owner, in)))
}

func errOf(_ domain.Campaign, err error) error { return err }

func TestCreateRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'x'
	}
	past := b.clock.now().Add(-time.Minute)
	for _, tt := range []struct {
		name  string
		edit  func(*campaigns.CreateInput)
		field string
	}{
		{"no name", func(in *campaigns.CreateInput) { in.Name = "  " }, "name"},
		{"a long name", func(in *campaigns.CreateInput) { in.Name = string(long) }, "name"},
		{"no number", func(in *campaigns.CreateInput) { in.PhoneNumberID = "" }, "phone_number_id"},
		{"no template name", func(in *campaigns.CreateInput) { in.Template.Name = "" }, "template.name"},
		{"no language", func(in *campaigns.CreateInput) { in.Template.Language = nil }, "template.language"},
		{"components not an array", func(in *campaigns.CreateInput) { in.Template.Components = json.RawMessage(`{"type":"body"}`) }, "template.components"},
		{"an unknown contact field", func(in *campaigns.CreateInput) { in.Template.Components = bodyParam("Hi {{contact.nmae}}") }, "template.components"},
		{"a placeholder outside a text parameter", func(in *campaigns.CreateInput) {
			in.Template.Components = json.RawMessage(`[{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"payload","payload":"{{contact.name}}"}]}]`)
		}, "template.components"},
		{"all and tags", func(in *campaigns.CreateInput) {
			in.Audience = &campaigns.AudienceInput{All: true, Tags: []string{"vip"}}
		}, "audience.all"},
		{"a bad contact id", func(in *campaigns.CreateInput) { in.Audience = &campaigns.AudienceInput{ContactIDs: []string{"nope"}} }, "audience.contact_ids"},
		{"a repeated contact id", func(in *campaigns.CreateInput) {
			id := domain.NewID().String()
			in.Audience = &campaigns.AudienceInput{ContactIDs: []string{id, id}}
		}, "audience.contact_ids"},
		{"an empty tag", func(in *campaigns.CreateInput) { in.Audience = &campaigns.AudienceInput{Tags: []string{""}} }, "audience.tags"},
		{"a time in the past", func(in *campaigns.CreateInput) { in.ScheduledAt = &past }, "scheduled_at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := b.input("hello", &campaigns.AudienceInput{All: true})
			tt.edit(&in)
			requireField(t, errOf(b.svc.Create(ctx, b.owner, in)), tt.field)
		})
	}
	in := b.input("hello", nil)
	in.PhoneNumberID = "9999"
	requireKind(t, domain.KindNotConnected, errOf(b.svc.Create(ctx, b.owner, in)))
	b.w.numbers[0].Status = domain.NumberNeedsReconnect
	requireKind(t, domain.KindNotConnected, errOf(b.svc.Create(ctx, b.owner, b.input("hello", nil))))
	requireKind(t, domain.KindForbidden, errOf(b.svc.Create(ctx, b.viewer, b.input("hello", nil))))
	requireKind(t, domain.KindForbidden, errOf(b.svc.Get(ctx, b.agent, domain.NewID())))
	require.Empty(t, b.mem.campaigns)
}

func TestUpdateOnlyBeforeItStarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contact("Ana", "vip")
	c := b.create(t, "hello", nil)
	name := "Renamed"
	at := b.clock.now().Add(time.Hour)
	got, err := b.svc.Update(ctx, b.owner, c.ID, campaigns.UpdateInput{Name: &name,
		Audience: &campaigns.AudienceInput{Tags: []string{"vip"}}, SetScheduledAt: true, ScheduledAt: &at})
	require.NoError(t, err)
	require.Equal(t, domain.CampaignScheduled, got.Status, "a scheduled time schedules it")
	require.Equal(t, "Renamed", got.Name)
	ev := b.lastEvent(t).Event.(domain.CampaignUpdated)
	require.Equal(t, []string{"name", "audience", "scheduled_at"}, ev.Fields)

	got, err = b.svc.Update(ctx, b.owner, c.ID, campaigns.UpdateInput{SetScheduledAt: true})
	require.NoError(t, err)
	require.Equal(t, domain.CampaignDraft, got.Status, "no time: a draft again")
	require.Nil(t, got.ScheduledAt)

	requireField(t, errOf(b.svc.Update(ctx, b.owner, c.ID, campaigns.UpdateInput{Template: &campaigns.TemplateInput{Name: "hello"}})),
		"template.language")
	requireKind(t, domain.KindForbidden, errOf(b.svc.Update(ctx, b.viewer, c.ID, campaigns.UpdateInput{Name: &name})))
	requireKind(t, domain.KindNotFound, errOf(b.svc.Update(ctx, b.owner, domain.NewID(), campaigns.UpdateInput{Name: &name})))

	_, err = b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Update(ctx, b.owner, c.ID, campaigns.UpdateInput{Name: &name})))
}

func TestLaunch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ana, bo := b.contact("Ana", "vip"), b.contact("Bo", "vip")
	b.contact("Cy", "other")

	empty := b.create(t, "hello", nil)
	requireField(t, errOf(b.svc.Launch(ctx, b.owner, empty.ID)), "audience")
	missing := b.create(t, "nope", &campaigns.AudienceInput{All: true})
	requireKind(t, domain.KindTemplateNotFound, errOf(b.svc.Launch(ctx, b.owner, missing.ID)))
	pending := b.create(t, "draft_one", &campaigns.AudienceInput{All: true})
	requireKind(t, domain.KindTemplateNotApproved, errOf(b.svc.Launch(ctx, b.owner, pending.ID)))
	tooMany := b.input("hello", &campaigns.AudienceInput{All: true})
	tooMany.Template.Components = json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]`)
	c, err := b.svc.Create(ctx, b.owner, tooMany)
	require.NoError(t, err)
	requireKind(t, domain.KindValidation, errOf(b.svc.Launch(ctx, b.owner, c.ID)))
	requireKind(t, domain.KindForbidden, errOf(b.svc.Launch(ctx, b.viewer, c.ID)))
	require.Empty(t, b.mem.sendJobs, "nothing refused started")

	c = b.create(t, "hello", &campaigns.AudienceInput{Tags: []string{"vip"}})
	got, err := b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, got.Status)
	require.Equal(t, b.clock.now(), *got.StartedAt)
	require.Equal(t, domain.CampaignStats{Recipients: 2, Pending: 2}, got.Stats)
	require.ElementsMatch(t, []domain.ID{ana, bo}, recipientIDs(b, c.ID))
	require.Equal(t, []campaignJob{{b.ws, c.ID}}, b.mem.sendJobs)
	ev := b.lastEvent(t)
	require.Equal(t, domain.EventCampaignLaunched, ev.Event.Kind())
	require.Equal(t, 2, ev.Event.(domain.CampaignMoved).Recipients)
	require.Equal(t, b.owner, ev.Actor)

	// Launched once: a contact tagged later is not added, and a second launch is refused.
	b.contact("Di", "vip")
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Launch(ctx, b.owner, c.ID)))
	require.Len(t, recipientIDs(b, c.ID), 2)
}

func recipientIDs(b *bundle, campaign domain.ID) []domain.ID {
	var out []domain.ID
	for id := range b.mem.recipients[campaign] {
		out = append(out, id)
	}
	return out
}

// A launch with a future time waits for it: the audience is taken when it starts (the
// leader's tick), as the system.
func TestScheduledCampaignStartsOnTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contact("Ana", "vip")
	c := b.create(t, "hello", &campaigns.AudienceInput{Tags: []string{"vip"}})
	at := b.clock.now().Add(time.Hour)
	_, err := b.svc.Update(ctx, b.owner, c.ID, campaigns.UpdateInput{SetScheduledAt: true, ScheduledAt: &at})
	require.NoError(t, err)
	got, err := b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignScheduled, got.Status)
	require.Nil(t, got.SnapshotAt)
	require.Empty(t, b.mem.sendJobs)

	started, err := b.svc.Tick(ctx)
	require.NoError(t, err)
	require.Zero(t, started, "not yet")
	b.contact("Bo", "vip") // tagged before the start: in the audience
	b.clock.advance(time.Hour)
	started, err = b.svc.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, started)
	got, err = b.svc.Get(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, got.Status)
	require.Equal(t, 2, got.Stats.Recipients)
	require.Equal(t, []campaignJob{{b.ws, c.ID}}, b.mem.sendJobs)
	ev := b.lastEvent(t)
	require.Equal(t, domain.EventCampaignLaunched, ev.Event.Kind())
	require.Equal(t, domain.ActorSystem, ev.Actor.Type)

	// A tick again changes nothing: it is running, and its send job is there already.
	started, err = b.svc.Tick(ctx)
	require.NoError(t, err)
	require.Zero(t, started)
	require.Len(t, b.mem.sendJobs, 1)
	b.mem.sendJobs = nil // the job was lost (a resume raced its end, or it was discarded)
	_, err = b.svc.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []campaignJob{{b.ws, c.ID}}, b.mem.sendJobs, "the tick gives a running campaign its job back")
}

func TestScheduledCampaignThatCannotSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.contact("Ana", "vip")
	in := b.input("hello", &campaigns.AudienceInput{All: true})
	at := b.clock.now().Add(time.Minute)
	in.ScheduledAt = &at
	c, err := b.svc.Create(ctx, b.owner, in)
	require.NoError(t, err)
	b.clock.advance(time.Hour)

	// Its number is disconnected: it waits, scheduled, for the number to come back.
	b.w.numbers[0].Status = domain.NumberNeedsReconnect
	started, err := b.svc.Tick(ctx)
	require.NoError(t, err)
	require.Zero(t, started)
	got, _ := b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignScheduled, got.Status)

	// Its template was paused by Meta: it pauses, and says why.
	b.w.numbers[0].Status = domain.NumberConnected
	tpl := b.w.templates[[2]string{"hello", "en_US"}]
	tpl.Status = domain.TemplatePaused
	b.w.templates[[2]string{"hello", "en_US"}] = tpl
	_, err = b.svc.Tick(ctx)
	require.NoError(t, err)
	got, _ = b.svc.Get(ctx, b.owner, c.ID)
	require.Equal(t, domain.CampaignPaused, got.Status)
	require.Equal(t, domain.PauseTemplatePaused, got.PauseReason)
	require.Zero(t, got.Stats.Recipients)
	require.Equal(t, domain.EventCampaignPaused, b.lastEvent(t).Event.Kind())
}

func TestPauseResumeCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for i := range 5 {
		b.contact(fmt.Sprintf("Kim %d", i), "vip")
	}
	c := b.create(t, "hello", &campaigns.AudienceInput{Tags: []string{"vip"}})
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Pause(ctx, b.owner, c.ID)))
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Resume(ctx, b.owner, c.ID)))
	_, err := b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	b.w.numbers[0].ThroughputLevel = "" // 80 a batch: all five at once
	b.w.grant = 2                       // but the quota lets two go
	step, err := b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 2, step.Queued)

	got, err := b.svc.Pause(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignPaused, got.Status)
	require.Equal(t, domain.PauseManual, got.PauseReason)
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Pause(ctx, b.owner, c.ID)))
	requireKind(t, domain.KindForbidden, errOf(b.svc.Pause(ctx, b.viewer, c.ID)))
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done, "a paused campaign's job ends")
	require.Len(t, b.mem.messages, 2, "the paused campaign queued nothing more")

	b.mem.sendJobs = nil
	got, err = b.svc.Resume(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, got.Status)
	require.Empty(t, got.PauseReason)
	require.Equal(t, 5, got.Stats.Recipients, "the audience is not taken again")
	require.Equal(t, []campaignJob{{b.ws, c.ID}}, b.mem.sendJobs, "resume queues the job again")
	step, err = b.svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, 2, step.Queued)

	got, err = b.svc.Cancel(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignCancelled, got.Status)
	require.NotNil(t, got.CompletedAt)
	require.Equal(t, domain.CampaignStats{Recipients: 5, Pending: 4, Skipped: 1}, got.Stats, "the queued ones stay pending: they go out")
	require.Equal(t, 1, b.lastEvent(t).Event.(domain.CampaignMoved).Skipped)
	for _, r := range b.mem.recipients[c.ID] {
		if r.Status == domain.RecipientSkipped {
			require.Equal(t, domain.SkipCancelled, r.Reason)
			require.Nil(t, r.MessageID)
		}
	}
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Cancel(ctx, b.owner, c.ID)))
	requireKind(t, domain.KindInvalidState, errOf(b.svc.Resume(ctx, b.owner, c.ID)))
	require.Equal(t, []domain.EventKind{domain.EventCampaignCreated, domain.EventCampaignLaunched, domain.EventCampaignPaused,
		domain.EventCampaignResumed, domain.EventCampaignCancelled}, b.kinds())
}

func TestListsAndRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for i := range 3 {
		b.contact(fmt.Sprintf("Kim %d", i), "vip")
	}
	first := b.create(t, "hello", &campaigns.AudienceInput{All: true})
	second := b.create(t, "hello", nil)
	_, err := b.svc.Launch(ctx, b.owner, first.ID)
	require.NoError(t, err)
	page, err := b.svc.List(ctx, b.viewer, campaigns.Filter{}, 1)
	require.NoError(t, err)
	require.Equal(t, second.ID, page.Items[0].ID, "newest first")
	require.NotNil(t, page.NextCursor)
	page, err = b.svc.List(ctx, b.viewer, campaigns.Filter{Status: domain.CampaignRunning}, 10)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, 3, page.Items[0].Stats.Pending)
	requireField(t, errOf2(b.svc.List(ctx, b.viewer, campaigns.Filter{Status: "done"}, 10)), "status")

	rs, err := b.svc.Recipients(ctx, b.viewer, first.ID, campaigns.RecipientFilter{Status: domain.RecipientPending}, 2)
	require.NoError(t, err)
	require.Len(t, rs.Items, 2)
	require.NotNil(t, rs.NextCursor)
	require.NotEmpty(t, rs.Items[0].Phone)
	rest, err := b.svc.Recipients(ctx, b.viewer, first.ID, campaigns.RecipientFilter{Cursor: *rs.NextCursor}, 2)
	require.NoError(t, err)
	require.Len(t, rest.Items, 1)
	_, err = b.svc.Recipients(ctx, b.viewer, first.ID, campaigns.RecipientFilter{Status: "lost"}, 2)
	requireField(t, err, "status")
	_, err = b.svc.Recipients(ctx, b.viewer, domain.NewID(), campaigns.RecipientFilter{}, 2)
	requireKind(t, domain.KindNotFound, err)
	_, err = b.svc.Recipients(ctx, b.agent, first.ID, campaigns.RecipientFilter{}, 2)
	requireKind(t, domain.KindForbidden, err)
}

func errOf2[T any](_ T, err error) error { return err }
