// Package campaigns holds broadcast campaigns: one template sent from one business number
// to an audience of contacts (API.md "Campaigns"). A campaign is created as a draft (or
// scheduled), edited while it has not started, launched, paused, resumed and cancelled by
// the API; its send job (SendBatch) queues its messages batch by batch at the pace the
// number and the plan allow; and Results moves its recipients as their messages are sent,
// delivered, read or fail.
//
// The audience is taken into recipients once, in one set-based statement, when the
// campaign first runs (at launch, or when its scheduled time comes): until then a draft or
// scheduled campaign may still be edited. Every change of a campaign locks its row first,
// and so does each batch, so a batch never races a pause, a cancel or another batch.
//
// Exactly once: a batch takes only recipients that are pending and have no message, and in
// its one transaction it queues their messages (rows and send jobs) and gives each
// recipient its message id. A crash before the commit leaves nothing; after it, the
// recipients have their messages and are never taken again. The send worker then sends a
// queued message at most once (messaging.Dispatcher.Deliver).
package campaigns

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Deps are what the use cases need.
type Deps struct {
	Tx         TxRunner
	Store      Store // outside transactions
	Numbers    Numbers
	Templates  Templates
	Workspaces Workspaces
	Quota      Quota
	Imports    ImportSlots
	Authz      authz.Authorizer
	Clock      domain.Clock // nil: time.Now
}

// Service is the campaign use cases.
type Service struct {
	d   Deps
	now domain.Clock
}

// NewService returns the campaign use cases.
func NewService(d Deps) *Service {
	now := d.Clock
	if now == nil {
		now = time.Now
	}
	return &Service{d: d, now: now}
}

// TemplateInput is a campaign's template as the API gives it: Language is a code or
// Graph's {"code": ...}, Components Graph's array.
type TemplateInput struct {
	Name       string
	Language   json.RawMessage
	Components json.RawMessage
}

// AudienceInput is a campaign's audience as the API gives it.
type AudienceInput struct {
	All        bool
	Tags       []string
	ContactIDs []string
}

// CreateInput is a new campaign.
type CreateInput struct {
	Name          string
	PhoneNumberID string
	Template      TemplateInput
	Audience      *AudienceInput
	ScheduledAt   *time.Time
}

// UpdateInput changes the fields that are set. SetScheduledAt changes scheduled_at to
// ScheduledAt, nil included (no schedule: a draft).
type UpdateInput struct {
	Name           *string
	Template       *TemplateInput
	Audience       *AudienceInput
	SetScheduledAt bool
	ScheduledAt    *time.Time
}

// Create stores a draft, or a scheduled campaign when ScheduledAt is set (its template
// must then be approved, as for a launch: it will start on its own).
func (s *Service) Create(ctx context.Context, c domain.Caller, in CreateInput) (domain.Campaign, error) {
	if err := authz.Require(s.d.Authz, c, access.CampaignsManage); err != nil {
		return domain.Campaign{}, err
	}
	now := s.now().UTC()
	cp := domain.Campaign{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, Status: domain.CampaignDraft,
		CreatedAt: now, UpdatedAt: now}
	if c.Type == domain.ActorUser {
		id := c.ID
		cp.CreatedBy = &id
	}
	var v domain.Validator
	cp.Name = checkName(in.Name, &v)
	cp.PhoneNumberID = strings.TrimSpace(in.PhoneNumberID)
	v.Check(cp.PhoneNumberID != "" && len(cp.PhoneNumberID) <= 32, "phone_number_id", "is required: Meta's id of a connected number")
	cp.Template = checkTemplate(in.Template, &v)
	if in.Audience != nil {
		cp.Audience = checkAudience(*in.Audience, &v)
	}
	cp.ScheduledAt = checkSchedule(in.ScheduledAt, now, &v)
	if err := v.Err(); err != nil {
		return domain.Campaign{}, err
	}
	if _, err := s.connectedNumber(ctx, cp); err != nil {
		return domain.Campaign{}, err
	}
	if cp.ScheduledAt != nil {
		cp.Status = domain.CampaignScheduled
	}
	if err := s.schedulable(ctx, cp); err != nil {
		return domain.Campaign{}, err
	}
	err := s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Campaigns.Insert(ctx, cp); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.CampaignCreated{CampaignID: cp.ID, Name: cp.Name,
			PhoneNumberID: cp.PhoneNumberID, Template: cp.Template.Name, Status: string(cp.Status)}))
	})
	return cp, err
}

// Get returns one campaign with its stats.
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (domain.Campaign, error) {
	if err := authz.Require(s.d.Authz, c, access.CampaignsRead); err != nil {
		return domain.Campaign{}, err
	}
	return s.d.Store.Get(ctx, c.WorkspaceID, id)
}

// List pages through the workspace's campaigns, newest first.
func (s *Service) List(ctx context.Context, c domain.Caller, f Filter, limit int) (domain.Page[domain.Campaign], error) {
	if err := authz.Require(s.d.Authz, c, access.CampaignsRead); err != nil {
		return domain.Page[domain.Campaign]{}, err
	}
	if f.Status != "" && !knownStatus(f.Status) {
		var v domain.Validator
		v.Add("status", "must be draft, scheduled, running, paused, completed or cancelled")
		return domain.Page[domain.Campaign]{}, v.Err()
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Campaign, error) {
		return s.d.Store.List(ctx, c.WorkspaceID, f, n)
	}, func(cp domain.Campaign) domain.ID { return cp.ID })
}

// Recipients pages through a campaign's recipients.
func (s *Service) Recipients(ctx context.Context, c domain.Caller, id domain.ID, f RecipientFilter, limit int) (domain.Page[domain.Recipient], error) {
	if err := authz.Require(s.d.Authz, c, access.CampaignsRead); err != nil {
		return domain.Page[domain.Recipient]{}, err
	}
	if f.Status != "" && !knownRecipientStatus(f.Status) {
		var v domain.Validator
		v.Add("status", "must be pending, sent, delivered, read, replied, failed, skipped or retry_scheduled")
		return domain.Page[domain.Recipient]{}, v.Err()
	}
	if _, err := s.d.Store.Get(ctx, c.WorkspaceID, id); err != nil {
		return domain.Page[domain.Recipient]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Recipient, error) {
		return s.d.Store.Recipients(ctx, c.WorkspaceID, id, f, n)
	}, func(r domain.Recipient) domain.ID { return r.ContactID })
}

// Update edits a draft or scheduled campaign (409 invalid_state otherwise). It is a draft
// afterwards without a scheduled time, scheduled with one (which, as at creation, needs an
// audience and an approved template).
func (s *Service) Update(ctx context.Context, c domain.Caller, id domain.ID, in UpdateInput) (domain.Campaign, error) {
	if err := authz.Require(s.d.Authz, c, access.CampaignsManage); err != nil {
		return domain.Campaign{}, err
	}
	cur, err := s.d.Store.Get(ctx, c.WorkspaceID, id)
	if err != nil {
		return domain.Campaign{}, err
	}
	if err := domain.CheckCampaignMove(cur.Status, domain.CampaignEdit); err != nil {
		return domain.Campaign{}, err
	}
	now := s.now().UTC()
	var v domain.Validator
	var p edit
	if in.Name != nil {
		name := checkName(*in.Name, &v)
		p.name, p.fields = &name, append(p.fields, "name")
	}
	if in.Template != nil {
		t := checkTemplate(*in.Template, &v)
		p.template, p.fields = &t, append(p.fields, "template")
	}
	if in.Audience != nil {
		a := checkAudience(*in.Audience, &v)
		p.audience, p.fields = &a, append(p.fields, "audience")
	}
	if in.SetScheduledAt {
		p.setScheduledAt, p.scheduledAt, p.fields = true, checkSchedule(in.ScheduledAt, now, &v), append(p.fields, "scheduled_at")
	}
	if err := v.Err(); err != nil {
		return domain.Campaign{}, err
	}
	if err := s.schedulable(ctx, p.apply(cur, now)); err != nil {
		return domain.Campaign{}, err
	}
	var out domain.Campaign
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cp, err := r.Campaigns.Lock(ctx, c.WorkspaceID, id)
		if err != nil {
			return err
		}
		if err := domain.CheckCampaignMove(cp.Status, domain.CampaignEdit); err != nil {
			return err
		}
		out = p.apply(cp, now)
		if err := r.Campaigns.Update(ctx, out); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.CampaignUpdated{CampaignID: id, Fields: p.fields, Status: out.Status}))
	})
	return out, err
}

// edit is a validated change of a campaign's fields.
type edit struct {
	name           *string
	template       *domain.CampaignTemplate
	audience       *domain.Audience
	setScheduledAt bool
	scheduledAt    *time.Time
	fields         []string // the API's names of what changes
}

// apply returns cp edited: a draft without a scheduled time, scheduled with one.
func (p edit) apply(cp domain.Campaign, now time.Time) domain.Campaign {
	if p.name != nil {
		cp.Name = *p.name
	}
	if p.template != nil {
		cp.Template = *p.template
	}
	if p.audience != nil {
		cp.Audience = *p.audience
	}
	if p.setScheduledAt {
		cp.ScheduledAt = p.scheduledAt
	}
	cp.Status = domain.CampaignDraft
	if cp.ScheduledAt != nil {
		cp.Status = domain.CampaignScheduled
	}
	cp.UpdatedAt = now
	return cp
}

// schedulable checks a campaign about to be scheduled: it will start on its own, so it
// needs an audience and what a launch needs.
func (s *Service) schedulable(ctx context.Context, cp domain.Campaign) error {
	if cp.Status != domain.CampaignScheduled {
		return nil
	}
	if cp.Audience.Empty() && cp.Stats.Recipients == 0 {
		var v domain.Validator
		v.Add("audience", "is required to schedule a campaign: all, tags or contact_ids, or uploaded recipients")
		return v.Err()
	}
	_, _, err := s.sendable(ctx, cp)
	return err
}

// Launch starts a draft or scheduled campaign: it runs now (its audience taken into
// recipients and its send job queued), or waits for its scheduled time. Refusals: 409
// invalid_state (also for a number rated RED), 422 for a campaign without an audience, 409
// whatsapp_not_connected, 422 template_not_found, template_not_approved, or
// validation_failed when the parameters do not fit the template; 409 capacity_exceeded
// when its recipients would pass the number's messaging limit, unless split, which sends
// what fits and the rest as the limit frees.
func (s *Service) Launch(ctx context.Context, c domain.Caller, id domain.ID) (domain.Campaign, error) {
	return s.LaunchWith(ctx, c, id, LaunchOptions{})
}

// LaunchOptions are a launch's choices (its body).
type LaunchOptions struct {
	// Split sends what fits in the number's messaging limit now and the rest as the limit
	// frees, where a launch that does not fit is refused.
	Split bool
}

// LaunchWith is Launch with its options.
func (s *Service) LaunchWith(ctx context.Context, c domain.Caller, id domain.ID, o LaunchOptions) (domain.Campaign, error) {
	return s.move(ctx, c, id, domain.CampaignLaunch, o.Split)
}

// Resume goes on with a paused campaign, as a launch would (a paused scheduled campaign
// waits for its time again, with the split it was launched with); its template must still
// be approved and its number not rated RED.
func (s *Service) Resume(ctx context.Context, c domain.Caller, id domain.ID) (domain.Campaign, error) {
	return s.move(ctx, c, id, domain.CampaignResume, false)
}

// Pause stops a running or scheduled campaign from queueing more messages; those already
// queued go out.
func (s *Service) Pause(ctx context.Context, c domain.Caller, id domain.ID) (domain.Campaign, error) {
	return s.move(ctx, c, id, domain.CampaignPause, false)
}

// Cancel ends a campaign for good: its recipients without a message are skipped
// (reason cancelled); messages already queued go out and their results still count.
func (s *Service) Cancel(ctx context.Context, c domain.Caller, id domain.ID) (domain.Campaign, error) {
	return s.move(ctx, c, id, domain.CampaignCancel, false)
}

// move checks and applies action by c: outside the transaction first (the refusals that
// need Meta's catalogue), then again under the campaign's lock. split is a launch's.
func (s *Service) move(ctx context.Context, c domain.Caller, id domain.ID, action domain.CampaignAction, split bool) (domain.Campaign, error) {
	if err := authz.Require(s.d.Authz, c, access.CampaignsLaunch); err != nil {
		return domain.Campaign{}, err
	}
	cur, err := s.d.Store.Get(ctx, c.WorkspaceID, id)
	if err != nil {
		return domain.Campaign{}, err
	}
	if err := domain.CheckCampaignMove(cur.Status, action); err != nil {
		return domain.Campaign{}, err
	}
	starts := action == domain.CampaignLaunch || action == domain.CampaignResume
	var number domain.PhoneNumber
	var tmpl domain.Template
	if starts {
		if cur.Audience.Empty() && cur.SnapshotAt == nil && cur.Stats.Recipients == 0 {
			var v domain.Validator
			v.Add("audience", "is required to launch: all, tags or contact_ids, or uploaded recipients")
			return domain.Campaign{}, v.Err()
		}
		if number, tmpl, err = s.sendable(ctx, cur); err != nil {
			return domain.Campaign{}, err
		}
		if domain.QualityLow(number.QualityRating) && domain.LaunchStatus(cur.ScheduledAt, s.now()) == domain.CampaignRunning {
			return domain.Campaign{}, domain.Errorf(domain.KindInvalidState, "the number's quality rating is RED: "+
				"its campaigns cannot run until Meta rates it higher (a sync of the number reads the rating)")
		}
	}
	now := s.now().UTC()
	var out domain.Campaign
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cp, err := r.Campaigns.Lock(ctx, c.WorkspaceID, id)
		if err != nil {
			return err
		}
		if err := domain.CheckCampaignMove(cp.Status, action); err != nil {
			return err
		}
		if starts {
			if action == domain.CampaignLaunch {
				cp.Split = split
			}
			out, err = s.start(ctx, r, c, cp, number, tmpl, action, now)
			return err
		}
		ev := domain.CampaignMoved{CampaignID: id, Action: action}
		switch action {
		case domain.CampaignPause:
			cp.Status, cp.PauseReason = domain.CampaignPaused, domain.PauseManual
			ev.Reason = domain.PauseManual
		case domain.CampaignCancel:
			n, err := r.Batches.SkipPending(ctx, c.WorkspaceID, id, domain.SkipCancelled, now)
			if err != nil {
				return err
			}
			cp.Status, cp.PauseReason, cp.CompletedAt, ev.Skipped = domain.CampaignCancelled, "", &now, n
		}
		cp.UpdatedAt, ev.Status = now, cp.Status
		if err := r.Campaigns.Update(ctx, cp); err != nil {
			return err
		}
		out = cp
		return r.Events.Append(ctx, domain.Occurred(c, now, ev))
	})
	if err != nil {
		return domain.Campaign{}, err
	}
	// The stats as they are after the move (a cancel skipped recipients, a start took them).
	return s.d.Store.Get(ctx, c.WorkspaceID, out.ID)
}

// start moves a locked campaign (launched, resumed, or due) to running, or to scheduled
// while its time has not come. Running for the first time takes its audience. Without
// split, the recipients still to send must fit in what is left of the number's messaging
// limit (KindCapacityExceeded: the caller's transaction rolls back the audience taken).
func (s *Service) start(ctx context.Context, r Repos, c domain.Caller, cp domain.Campaign, number domain.PhoneNumber, tmpl domain.Template,
	action domain.CampaignAction, now time.Time) (domain.Campaign, error) {
	cp.Status, cp.PauseReason, cp.UpdatedAt = domain.LaunchStatus(cp.ScheduledAt, now), "", now
	ev := domain.CampaignMoved{CampaignID: cp.ID, Action: action, Status: cp.Status, ScheduledAt: cp.ScheduledAt,
		Split: cp.Split && action == domain.CampaignLaunch}
	if cp.Status == domain.CampaignRunning {
		if cp.StartedAt == nil {
			cp.StartedAt = &now
		}
		n := 0
		if cp.SnapshotAt == nil {
			var err error
			n, err = r.Campaigns.Snapshot(ctx, cp, now)
			if err != nil {
				return cp, err
			}
			cp.SnapshotAt = &now
		}
		ev.Recipients = cp.Stats.Recipients + n // uploaded ones included
		if err := fits(ctx, r, cp, number, action, cp.Stats.Pending+cp.Stats.RetryScheduled+n, now); err != nil {
			return cp, err
		}
		if err := s.affordable(ctx, r, &cp, tmpl, now); err != nil {
			return cp, err
		}
		if err := r.Jobs.EnqueueCampaignSend(ctx, cp.WorkspaceID, cp.ID); err != nil {
			return cp, err
		}
	}
	if err := r.Campaigns.Update(ctx, cp); err != nil {
		return cp, err
	}
	return cp, r.Events.Append(ctx, domain.Occurred(c, now, ev))
}

// affordable prices the recipients still to send (the campaign's estimated_cost) and, for a
// prepaid wallet, refuses a start the available balance cannot cover: 402
// insufficient_balance. Each batch then holds its own price (queue).
func (s *Service) affordable(ctx context.Context, r Repos, cp *domain.Campaign, tmpl domain.Template, now time.Time) error {
	if r.Costs == nil {
		return nil
	}
	cost, w, err := r.Costs.CampaignCost(ctx, cp.WorkspaceID, cp.ID, tmpl.Category, now)
	if err != nil {
		return err
	}
	cp.EstimatedCost = &cost
	if w.Mode == domain.BillingPrepaid && cost.Micros > w.Available() {
		return domain.Errorf(domain.KindInsufficientBalance, "the campaign's estimated cost (%d micros of %s) is more than the wallet's available balance (%d)",
			cost.Micros, cost.Currency, w.Available())
	}
	return nil
}

// sendable checks what a campaign needs to send, as Meta would: its number connected, its
// template in the catalogue, approved, and its parameters fitting it.
func (s *Service) sendable(ctx context.Context, cp domain.Campaign) (domain.PhoneNumber, domain.Template, error) {
	n, err := s.connectedNumber(ctx, cp)
	if err != nil {
		return n, domain.Template{}, err
	}
	t, err := s.d.Templates.Template(ctx, cp.WorkspaceID, n.WABAID, cp.Template.Name, cp.Template.Language)
	if domain.IsKind(err, domain.KindNotFound) {
		return n, t, messaging.TemplateNotFound(n.WABAID, cp.Template.Name, cp.Template.Language)
	}
	if err != nil {
		return n, t, err
	}
	return n, t, messaging.CheckTemplate(t, content(cp.Template, cp.Template.Components))
}

// connectedNumber is the campaign's number, which must be the workspace's and connected.
func (s *Service) connectedNumber(ctx context.Context, cp domain.Campaign) (domain.PhoneNumber, error) {
	nums, err := s.d.Numbers.List(ctx, cp.WorkspaceID)
	if err != nil {
		return domain.PhoneNumber{}, err
	}
	return messaging.ConnectedNumber(nums, cp.PhoneNumberID)
}

// content is the message content of a campaign's template with components: Graph's
// template object, as the send API stores it.
func content(t domain.CampaignTemplate, components json.RawMessage) json.RawMessage {
	out := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
	if len(components) > 0 {
		out["components"] = components
	}
	b, _ := json.Marshal(out) // a map of strings and valid JSON: cannot fail
	return b
}

func checkName(name string, v *domain.Validator) string {
	name = strings.TrimSpace(name)
	v.Check(name != "" && utf8.RuneCountInString(name) <= domain.MaxCampaignNameRunes, "name", "must be 1 to 200 characters")
	return name
}

// maxComponentsBytes bounds a campaign's components (Meta's are far smaller).
const maxComponentsBytes = 64 << 10

// checkTemplate validates a campaign's template: a name, a language, and components that
// are an array of objects whose contact placeholders are well formed and stand in text
// parameters only (the only place they are bound).
func checkTemplate(in TemplateInput, v *domain.Validator) domain.CampaignTemplate {
	t := domain.CampaignTemplate{Name: strings.TrimSpace(in.Name), Language: messaging.LanguageCode(in.Language)}
	v.Check(t.Name != "" && len(t.Name) <= 512, "template.name", "is required (at most 512 characters)")
	v.Check(t.Language != "" && len(t.Language) <= 16, "template.language", `is required: a code such as "en_US"`)
	raw := json.RawMessage(strings.TrimSpace(string(in.Components)))
	if len(raw) == 0 || string(raw) == "null" {
		return t
	}
	var comps []map[string]any
	switch {
	case len(raw) > maxComponentsBytes:
		v.Add("template.components", "must be at most 64 KiB")
		return t
	case json.Unmarshal(raw, &comps) != nil:
		v.Add("template.components", "must be an array of component objects")
		return t
	}
	for _, comp := range comps {
		params, _ := comp["parameters"].([]any)
		for _, p := range params {
			pm, _ := p.(map[string]any)
			if text, ok := pm["text"].(string); ok {
				if why := domain.CheckPlaceholders(text); why != "" {
					v.Add("template.components", why)
					return t
				}
				pm["text"] = "" // what is left must hold no placeholder
			}
		}
	}
	if rest, _ := json.Marshal(comps); strings.Contains(string(rest), "{{contact.") {
		v.Add("template.components", "contact placeholders may stand in text parameters only")
		return t
	}
	t.Components = raw
	return t
}

func checkAudience(in AudienceInput, v *domain.Validator) domain.Audience {
	a := domain.Audience{All: in.All}
	tags, why := domain.NormalizeTags(in.Tags)
	if why != "" {
		v.Add("audience.tags", why)
	}
	a.Tags = tags
	for _, s := range in.ContactIDs {
		id, err := domain.ParseID(strings.TrimSpace(s))
		if err != nil {
			v.Add("audience.contact_ids", "must be contact ids")
			return a
		}
		a.ContactIDs = append(a.ContactIDs, id)
	}
	if field, why := a.Check(); why != "" {
		v.Add(field, why)
	}
	return a
}

func checkSchedule(at *time.Time, now time.Time, v *domain.Validator) *time.Time {
	if at == nil {
		return nil
	}
	t := at.UTC().Truncate(time.Microsecond)
	v.Check(t.After(now), "scheduled_at", "must be in the future")
	return &t
}

func knownStatus(s domain.CampaignStatus) bool {
	switch s {
	case domain.CampaignDraft, domain.CampaignScheduled, domain.CampaignRunning, domain.CampaignPaused,
		domain.CampaignCompleted, domain.CampaignCancelled:
		return true
	}
	return false
}

func knownRecipientStatus(s domain.RecipientStatus) bool {
	switch s {
	case domain.RecipientPending, domain.RecipientSent, domain.RecipientDelivered, domain.RecipientRead,
		domain.RecipientReplied, domain.RecipientFailed, domain.RecipientSkipped, domain.RecipientRetryScheduled:
		return true
	}
	return false
}
