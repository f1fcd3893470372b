package workspaces

import (
	"context"
	"slices"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
	"github.com/wabaplatform/waba/domain/optout"
)

// MessagingSettingsStore reads and writes a workspace's messaging settings.
type MessagingSettingsStore interface {
	// MessagingSettings reads them; lock holds the workspace's row until the transaction
	// ends (two updates then see each other's changes). A deleted workspace is KindNotFound.
	MessagingSettings(ctx context.Context, workspaceID domain.ID, lock bool) (domain.MessagingSettings, error)
	SetMessagingSettings(ctx context.Context, workspaceID domain.ID, s domain.MessagingSettings) error
}

// MessagingSettings returns the workspace's caps and keywords (its own keywords: the
// defaults of domain/optout apply besides them).
func (s *Service) MessagingSettings(ctx context.Context, c domain.Caller) (domain.MessagingSettings, error) {
	if err := authz.Require(s.authz, c, access.WorkspaceRead); err != nil {
		return domain.MessagingSettings{}, err
	}
	return s.settings.MessagingSettings(ctx, c.WorkspaceID, false)
}

// UpdateMessagingSettings replaces the settings with in (domain.NormalizeMessagingSettings;
// a keyword may not be a default keyword of the other list either) and records
// MessagingSettingsChanged with the names of the fields that changed, when any did.
func (s *Service) UpdateMessagingSettings(ctx context.Context, c domain.Caller, in domain.MessagingSettings) (domain.MessagingSettings, error) {
	if err := authz.Require(s.authz, c, access.WorkspaceUpdate); err != nil {
		return domain.MessagingSettings{}, err
	}
	in, err := domain.NormalizeMessagingSettings(in)
	var v domain.Validator
	for _, k := range in.OptInKeywords {
		v.Check(!slices.Contains(optout.DefaultOptOutKeywords(), k), "opt_in_keywords", "must not be a default opt-out keyword: "+k)
	}
	for _, k := range in.OptOutKeywords {
		v.Check(!slices.Contains(optout.DefaultOptInKeywords(), k), "opt_out_keywords", "must not be a default opt-in keyword: "+k)
	}
	if err != nil || v.Err() != nil {
		return domain.MessagingSettings{}, mergeValidation(err, v.Err())
	}
	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		old, err := r.Settings.MessagingSettings(ctx, c.WorkspaceID, true)
		if err != nil {
			return err
		}
		var changed []string
		if old.MarketingPerContactPerDay != in.MarketingPerContactPerDay {
			changed = append(changed, "marketing_per_contact_per_day")
		}
		if old.MarketingPerContactPerWeek != in.MarketingPerContactPerWeek {
			changed = append(changed, "marketing_per_contact_per_week")
		}
		if !slices.Equal(old.OptOutKeywords, in.OptOutKeywords) {
			changed = append(changed, "opt_out_keywords")
		}
		if !slices.Equal(old.OptInKeywords, in.OptInKeywords) {
			changed = append(changed, "opt_in_keywords")
		}
		if old.CampaignRetryDays != in.CampaignRetryDays {
			changed = append(changed, "campaign_retry_days")
		}
		if changed == nil {
			return nil
		}
		if err := r.Settings.SetMessagingSettings(ctx, c.WorkspaceID, in); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, s.now().UTC(), domain.MessagingSettingsChanged{WorkspaceID: c.WorkspaceID, Fields: changed}))
	})
	return in, err
}

// mergeValidation joins the field errors of two validation errors (either may be nil).
func mergeValidation(errs ...error) error {
	var v domain.Validator
	for _, err := range errs {
		if de, ok := err.(*domain.Error); ok {
			for _, f := range de.Fields {
				v.Add(f.Field, f.Message)
			}
		}
	}
	return v.Err()
}
