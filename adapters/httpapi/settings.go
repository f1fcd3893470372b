package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/optout"
)

// messagingSettingsDTO is GET/PUT .../settings/messaging. The keyword lists are the
// workspace's own; the default keywords (read-only) apply besides them.
type messagingSettingsDTO struct {
	MarketingPerContactPerDay  int      `json:"marketing_per_contact_per_day"`
	MarketingPerContactPerWeek int      `json:"marketing_per_contact_per_week"`
	OptOutKeywords             []string `json:"opt_out_keywords"`
	OptInKeywords              []string `json:"opt_in_keywords"`
	DefaultOptOutKeywords      []string `json:"default_opt_out_keywords"`
	DefaultOptInKeywords       []string `json:"default_opt_in_keywords"`
	CampaignRetryDays          int      `json:"campaign_retry_days"`
}

func toMessagingSettings(s domain.MessagingSettings) messagingSettingsDTO {
	orEmpty := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return messagingSettingsDTO{MarketingPerContactPerDay: s.MarketingPerContactPerDay, MarketingPerContactPerWeek: s.MarketingPerContactPerWeek,
		OptOutKeywords: orEmpty(s.OptOutKeywords), OptInKeywords: orEmpty(s.OptInKeywords),
		DefaultOptOutKeywords: optout.DefaultOptOutKeywords(), DefaultOptInKeywords: optout.DefaultOptInKeywords(),
		CampaignRetryDays: s.CampaignRetryDays}
}

func (a *API) getMessagingSettings(c echo.Context) error {
	s, err := a.Workspaces.MessagingSettings(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMessagingSettings(s))
}

func (a *API) putMessagingSettings(c echo.Context) error {
	var req struct {
		MarketingPerContactPerDay  *int     `json:"marketing_per_contact_per_day"`
		MarketingPerContactPerWeek *int     `json:"marketing_per_contact_per_week"`
		OptOutKeywords             []string `json:"opt_out_keywords"` // absent: none beside the defaults
		OptInKeywords              []string `json:"opt_in_keywords"`
		CampaignRetryDays          *int     `json:"campaign_retry_days"` // absent: the default
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	var v domain.Validator
	v.Check(req.MarketingPerContactPerDay != nil, "marketing_per_contact_per_day", "is required")
	v.Check(req.MarketingPerContactPerWeek != nil, "marketing_per_contact_per_week", "is required")
	if err := v.Err(); err != nil {
		return err
	}
	retryDays := domain.DefaultCampaignRetryDays
	if req.CampaignRetryDays != nil {
		retryDays = *req.CampaignRetryDays
	}
	s, err := a.Workspaces.UpdateMessagingSettings(c.Request().Context(), caller(c), domain.MessagingSettings{
		MarketingPerContactPerDay: *req.MarketingPerContactPerDay, MarketingPerContactPerWeek: *req.MarketingPerContactPerWeek,
		OptOutKeywords: req.OptOutKeywords, OptInKeywords: req.OptInKeywords, CampaignRetryDays: retryDays})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMessagingSettings(s))
}
