package campaigns

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// StopRules pauses the campaigns a template change makes unsafe to go on with: the
// template paused or disabled by Meta (template_paused), or moved to MARKETING from
// another category (template_recategorized: every message would cost more than the
// business planned). It reads the event log (templates never call campaigns), so it
// acts within the dispatcher's delay (a second) of the change; messages already queued
// still go out.
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
	case "PAUSED", "DISABLED":
		return domain.PauseTemplatePaused
	}
	if strings.EqualFold(categoryTo, "MARKETING") && categoryFrom != "" && !strings.EqualFold(categoryFrom, "MARKETING") {
		return domain.PauseTemplateRecategorized
	}
	return ""
}

// Handle implements events.Subscriber: idempotent, as a batch may come again (a
// campaign already paused is left alone).
func (r *StopRules) Handle(ctx context.Context, batch []events.Logged) error {
	for _, e := range batch {
		if e.Kind != domain.EventTemplateStatusChanged || e.WorkspaceID.IsZero() {
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
		cp.Status, cp.PauseReason, cp.UpdatedAt = domain.CampaignPaused, reason, now
		if err := r.Campaigns.Update(ctx, cp); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(domain.SystemIn(ref.WorkspaceID), now,
			domain.CampaignMoved{CampaignID: cp.ID, Action: domain.CampaignPause, Status: cp.Status, Reason: reason}))
	})
}
