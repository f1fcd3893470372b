package postgres

import (
	"context"

	"github.com/wabaplatform/waba/domain"
)

// MessagingSettings implements workspaces.MessagingSettingsStore.
func (r *WorkspaceRepo) MessagingSettings(ctx context.Context, ws domain.ID, lock bool) (domain.MessagingSettings, error) {
	var s domain.MessagingSettings
	sql := `SELECT marketing_per_contact_per_day, marketing_per_contact_per_week, opt_out_keywords, opt_in_keywords,
			campaign_retry_days
		FROM workspaces WHERE id = $1 AND deleted_at IS NULL`
	if lock {
		sql += ` FOR UPDATE`
	}
	err := r.q.QueryRow(ctx, sql, ws).Scan(&s.MarketingPerContactPerDay, &s.MarketingPerContactPerWeek, &s.OptOutKeywords, &s.OptInKeywords,
		&s.CampaignRetryDays)
	return s, notFound(err, "workspace")
}

// SetMessagingSettings implements workspaces.MessagingSettingsStore.
func (r *WorkspaceRepo) SetMessagingSettings(ctx context.Context, ws domain.ID, s domain.MessagingSettings) error {
	out, in := s.OptOutKeywords, s.OptInKeywords
	if out == nil {
		out = []string{}
	}
	if in == nil {
		in = []string{}
	}
	_, err := r.q.Exec(ctx, `UPDATE workspaces SET marketing_per_contact_per_day = $2, marketing_per_contact_per_week = $3,
		opt_out_keywords = $4, opt_in_keywords = $5, campaign_retry_days = $6, updated_at = now() WHERE id = $1 AND deleted_at IS NULL`,
		ws, s.MarketingPerContactPerDay, s.MarketingPerContactPerWeek, out, in, s.CampaignRetryDays)
	return err
}
