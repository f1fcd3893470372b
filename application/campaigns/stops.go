package campaigns

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// StopRules pauses the campaigns it is unsafe to go on with: their template paused or
// disabled by Meta (template_paused), or moved to MARKETING from another category
// (template_recategorized: every message would cost more than the business planned), or
// their recipients opting out past domain.OptOutSpike (opt_out_spike). It reads the event
// log (neither templates nor inbound call campaigns), so it acts within the dispatcher's
// delay (a second); messages already queued still go out.
type StopRules struct{ s *Service }

// StopRules returns the subscriber of the service's stop rules.
func (s *Service) StopRules() *StopRules { return &StopRules{s: s} }

// Name implements events.Subscriber.
func (*StopRules) Name() string { return "campaigns-stop-rules" }

// templateChange is what a template.status_changed event's payload says.
type templateChange struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Status   *struct {
		To string `json:"to"`
	} `json:"status"`
	Category *struct {
		From, To string
	} `json:"category"`
}

// StopReason is the pause a template change calls for ("" for none).
func StopReason(status, categoryFrom, categoryTo string) domain.PauseReason {
	switch strings.ToUpper(status) {
	case domain.TemplatePaused, domain.TemplateDisabled:
		return domain.PauseTemplatePaused
	}
	if domain.IsMarketing(categoryTo) && categoryFrom != "" && !domain.IsMarketing(categoryFrom) {
		return domain.PauseTemplateRecategorized
	}
	return ""
}

// Handle implements events.Subscriber: idempotent, as a batch may come again (a
// campaign already paused is left alone).
func (r *StopRules) Handle(ctx context.Context, batch []events.Logged) error {
	for _, e := range batch {
		if e.WorkspaceID.IsZero() {
			continue
		}
		if e.Kind == domain.EventContactOptedOut {
			if err := r.optedOut(ctx, e); err != nil {
				return err
			}
			continue
		}
		if e.Kind != domain.EventTemplateStatusChanged {
			continue
		}
		var ch templateChange
		if err := json.Unmarshal(e.Payload, &ch); err != nil {
			continue // not a payload this rule reads
		}
		var status, from, to string
		if ch.Status != nil {
			status = ch.Status.To
		}
		if ch.Category != nil {
			from, to = ch.Category.From, ch.Category.To
		}
		reason := StopReason(status, from, to)
		if reason == "" {
			continue
		}
		refs, err := r.s.d.Store.Sending(ctx, e.WorkspaceID, ch.Name, ch.Language)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if err := r.s.stop(ctx, ref, reason, e.At); err != nil {
				return err
			}
		}
	}
	return nil
}

// optedOut counts a customer's own opt-out (not one the business made through the API)
// against the running campaigns that reached them, and pauses those past the rule.
func (r *StopRules) optedOut(ctx context.Context, e events.Logged) error {
	var d struct {
		Source string `json:"source"`
	}
	if json.Unmarshal(e.Payload, &d) != nil || d.Source == string(domain.OptOutAPI) || e.ContactID == nil {
		return nil
	}
	counts, err := r.s.d.Store.OptedOut(ctx, e.WorkspaceID, *e.ContactID, e.At)
	if err != nil {
		return err
	}
	for _, c := range counts {
		if c.OptOuts < domain.MinOptOutsForSpike {
			continue // most opt-outs stop here, without reading the stats
		}
		cp, err := r.s.d.Store.Get(ctx, c.WorkspaceID, c.ID)
		if err != nil {
			return err
		}
		if domain.OptOutSpike(c.OptOuts, cp.Stats.Delivered) {
			if err := r.s.stop(ctx, c.Ref, domain.PauseOptOutSpike, e.At); err != nil {
				return err
			}
		}
	}
	return nil
}

// stop pauses a scheduled or running campaign for reason, as the system, unless it changed
// after the template did (created, or resumed by a person, knowing the change; a batch
// delivered again, or a new subscriber reading old events, must not undo that).
func (s *Service) stop(ctx context.Context, ref Ref, reason domain.PauseReason, changedAt time.Time) error {
	now := s.now().UTC()
	return s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cp, err := r.Campaigns.Lock(ctx, ref.WorkspaceID, ref.ID)
		if err != nil {
			return err
		}
		if domain.CheckCampaignMove(cp.Status, domain.CampaignPause) != nil || cp.UpdatedAt.After(changedAt) {
			return nil // paused, cancelled, completed or resumed since
		}
		return pause(ctx, r, cp, reason, now)
	})
}

// pause moves a locked campaign to paused for reason, as the system (audited, and the
// inbox's campaign.updated).
func pause(ctx context.Context, r Repos, cp domain.Campaign, reason domain.PauseReason, now time.Time) error {
	cp.Status, cp.PauseReason, cp.UpdatedAt = domain.CampaignPaused, reason, now
	if err := r.Campaigns.Update(ctx, cp); err != nil {
		return err
	}
	return r.Events.Append(ctx, domain.Occurred(domain.SystemIn(cp.WorkspaceID), now,
		domain.CampaignMoved{CampaignID: cp.ID, Action: domain.CampaignPause, Status: cp.Status, Reason: reason}))
}
