package domain

import (
	"encoding/json"
	"time"
)

// Template is a message template of a WhatsApp Business Account, as Meta last described
// it. Outside the 24-hour window only templates may be sent, so the send path checks a
// template send against it.
type Template struct {
	ID             ID
	WorkspaceID    ID
	WABAID         string
	MetaTemplateID string
	Name           string
	Language       string
	Category       string // MARKETING, UTILITY, AUTHENTICATION (Meta's words)
	Status         string // Meta's word: APPROVED, PENDING, REJECTED, PAUSED, ...
	RejectedReason string
	QualityRating  string // GREEN, YELLOW, RED, UNKNOWN, or "" when Meta gave none
	// ParameterFormat is ParametersPositional ({{1}}) or ParametersNamed ({{order_id}}).
	ParameterFormat string
	Components      []TemplateComponent
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// When Meta last reported the status, the quality and the category: a report older
	// than these does not apply (Meta's webhooks may arrive out of order).
	StatusAt, QualityAt, CategoryAt *time.Time
}

// Template categories and the statuses the product acts on.
const (
	CategoryMarketing      = "MARKETING"
	CategoryUtility        = "UTILITY"
	CategoryAuthentication = "AUTHENTICATION"

	TemplateApproved = "APPROVED"
	TemplatePending  = "PENDING"
	TemplateRejected = "REJECTED"
	TemplatePaused   = "PAUSED"
	TemplateDisabled = "DISABLED"

	ParametersPositional = "positional"
	ParametersNamed      = "named"
)

// TemplateComponent is a HEADER, BODY, FOOTER or BUTTONS component, in the Graph API's
// shape (which the API shows as it is). Example keeps Meta's example object as JSON: its
// shape depends on the component and the parameter format.
type TemplateComponent struct {
	Type    string           `json:"type"`
	Format  string           `json:"format,omitempty"` // header: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION
	Text    string           `json:"text,omitempty"`
	Example json.RawMessage  `json:"example,omitempty"`
	Buttons []TemplateButton `json:"buttons,omitempty"`
	// Authentication templates.
	AddSecurityRecommendation bool `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     int  `json:"code_expiration_minutes,omitempty"`
}

// TemplateButton is a button of a BUTTONS component.
type TemplateButton struct {
	Type        string          `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, ...
	Text        string          `json:"text,omitempty"`
	URL         string          `json:"url,omitempty"`
	PhoneNumber string          `json:"phone_number,omitempty"`
	OTPType     string          `json:"otp_type,omitempty"`
	FlowID      string          `json:"flow_id,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
}

// TemplateDraft is a template a workspace asks Meta to review.
type TemplateDraft struct {
	Name            string
	Language        string
	Category        string
	ParameterFormat string // "" is positional
	Components      []TemplateComponent
}

// MessagingSettings are a workspace's rules for its outbound messages.
type MessagingSettings struct {
	// Marketing templates one contact may receive in the last 24 hours and 7 days.
	MarketingPerContactPerDay  int
	MarketingPerContactPerWeek int
	// Keywords that opt a contact out and back in (the defaults when empty).
	OptOutKeywords []string
	OptInKeywords  []string
	// CampaignRetryDays is how many days a campaign tries again a recipient Meta refused
	// with 131049 (CampaignRetry).
	CampaignRetryDays int
}

// Default frequency caps (API.md, Templates).
const (
	DefaultMarketingPerDay  = 2
	DefaultMarketingPerWeek = 6
	// MarketingHold is how long no marketing template goes to a contact after Meta answered
	// 131049 (its per-user marketing limit) for them.
	MarketingHold = 24 * time.Hour
)
