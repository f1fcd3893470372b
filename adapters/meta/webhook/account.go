package webhook

import "encoding/json"

// The values of account-level fields. They carry no metadata: route them by
// Change.WABAID. Change.Raw keeps every field, typed here or not.

// TemplateStatusUpdate is the value of message_template_status_update.
type TemplateStatusUpdate struct {
	// Event is the new status: APPROVED, REJECTED, PENDING, PAUSED, DISABLED, FLAGGED,
	// REINSTATED, IN_APPEAL, ARCHIVED, UNARCHIVED, DELETED, PENDING_DELETION,
	// LIMIT_EXCEEDED, LOCKED, or one Meta adds later.
	Event string `json:"event"`
	// TemplateID is a JSON number of 16 digits in the payload; json.Number keeps it exact
	// (it is a string: compare with the template id the Graph API returned).
	TemplateID json.Number `json:"message_template_id"`
	Name       string      `json:"message_template_name"`
	Language   string      `json:"message_template_language"`
	Category   string      `json:"message_template_category,omitempty"`
	// Reason is nil when Meta sends null (templates scheduled for deletion) or nothing;
	// "NONE" is also used for pauses.
	Reason        *string        `json:"reason"`
	DisableInfo   *DisableInfo   `json:"disable_info,omitempty"`
	OtherInfo     *OtherInfo     `json:"other_info,omitempty"`
	RejectionInfo *RejectionInfo `json:"rejection_info,omitempty"`
}

// DisableInfo says when a template was disabled.
type DisableInfo struct {
	DisableDate Scalar `json:"disable_date,omitempty"`
}

// OtherInfo explains pauses: Title is FIRST_PAUSE, SECOND_PAUSE, RATE_LIMITING_PAUSE,
// UNPAUSE or DISABLED.
type OtherInfo struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// RejectionInfo explains INVALID_FORMAT rejections.
type RejectionInfo struct {
	Reason         string `json:"reason,omitempty"`
	Recommendation string `json:"recommendation,omitempty"`
}

// TemplateQualityUpdate is the value of message_template_quality_update. Scores are
// GREEN, YELLOW, RED or UNKNOWN.
type TemplateQualityUpdate struct {
	PreviousQualityScore string      `json:"previous_quality_score,omitempty"`
	NewQualityScore      string      `json:"new_quality_score"`
	TemplateID           json.Number `json:"message_template_id"`
	Name                 string      `json:"message_template_name"`
	Language             string      `json:"message_template_language"`
}

// TemplateCategoryUpdate is the value of template_category_update: Meta re-categorised a
// template.
type TemplateCategoryUpdate struct {
	TemplateID       json.Number `json:"message_template_id"`
	Name             string      `json:"message_template_name"`
	Language         string      `json:"message_template_language"`
	PreviousCategory string      `json:"previous_category,omitempty"`
	NewCategory      string      `json:"new_category"`
	CorrectCategory  string      `json:"correct_category,omitempty"`
}

// PhoneNumberQualityUpdate is the value of phone_number_quality_update. It names the
// number only by DisplayPhoneNumber. Event is ONBOARDING or THROUGHPUT_UPGRADE on current
// versions (older: FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE); accept any string.
type PhoneNumberQualityUpdate struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	Event              string `json:"event"`
	// CurrentLimit and OldLimit (TIER_250 ... TIER_UNLIMITED) are being removed in favour
	// of MaxDailyConversationsPerBusiness, the portfolio's limit.
	CurrentLimit string `json:"current_limit,omitempty"`
	OldLimit     string `json:"old_limit,omitempty"`
	// MaxDailyConversationsPerBusiness is a tier string ("TIER_10K") or, in some payloads,
	// a number (2000).
	MaxDailyConversationsPerBusiness Scalar `json:"max_daily_conversations_per_business,omitempty"`
}

// PhoneNumberNameUpdate is the value of phone_number_name_update: the display name review
// outcome. Decision is APPROVED, DEFERRED, PENDING or REJECTED.
type PhoneNumberNameUpdate struct {
	DisplayPhoneNumber    string  `json:"display_phone_number"`
	Decision              string  `json:"decision"`
	RequestedVerifiedName string  `json:"requested_verified_name,omitempty"`
	RejectionReason       *string `json:"rejection_reason"`
}

// Account update events (AccountUpdate.Event) this product acts on. Others are kept as
// strings.
const (
	AccountEventViolation             = "ACCOUNT_VIOLATION"
	AccountEventRestriction           = "ACCOUNT_RESTRICTION"
	AccountEventDisabledUpdate        = "DISABLED_UPDATE"
	AccountEventDeleted               = "ACCOUNT_DELETED"
	AccountEventPartnerAdded          = "PARTNER_ADDED"
	AccountEventPartnerAppInstalled   = "PARTNER_APP_INSTALLED"
	AccountEventPartnerAppUninstalled = "PARTNER_APP_UNINSTALLED"
	AccountEventPartnerRemoved        = "PARTNER_REMOVED"
	AccountEventOffboarded            = "ACCOUNT_OFFBOARDED"
	AccountEventReconnected           = "ACCOUNT_RECONNECTED"
)

// AccountUpdate is the value of account_update. Which of the optional parts is set
// depends on Event.
type AccountUpdate struct {
	Event string `json:"event"`
	// PhoneNumber is set on events about one number.
	PhoneNumber string `json:"phone_number,omitempty"`
	// Country is set on BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE.
	Country         string            `json:"country,omitempty"`
	ViolationInfo   *ViolationInfo    `json:"violation_info,omitempty"`
	RestrictionInfo []RestrictionInfo `json:"restriction_info,omitempty"`
	BanInfo         *BanInfo          `json:"ban_info,omitempty"`
	// WABAInfo is set on PARTNER_* events (Embedded Signup completion, uninstall),
	// AD_ACCOUNT_LINKED and MM_LITE_TERMS_SIGNED.
	WABAInfo                       *WABAInfo                       `json:"waba_info,omitempty"`
	VolumeTierInfo                 *VolumeTierInfo                 `json:"volume_tier_info,omitempty"`
	PartnerClientCertificationInfo *PartnerClientCertificationInfo `json:"partner_client_certification_info,omitempty"`
}

// ViolationInfo names the policy an ACCOUNT_VIOLATION is about.
type ViolationInfo struct {
	ViolationType string `json:"violation_type,omitempty"`
}

// RestrictionInfo is one restriction of an ACCOUNT_RESTRICTION: RestrictionType is
// RESTRICTED_BIZ_INITIATED_MESSAGING, RESTRICTED_CUSTOMER_INITIATED_MESSAGING,
// RESTRICTED_ADD_PHONE_NUMBER_ACTION, ...
type RestrictionInfo struct {
	RestrictionType string `json:"restriction_type,omitempty"`
	// Expiration is when the restriction ends (unix seconds).
	Expiration Scalar `json:"expiration,omitempty"`
}

// BanInfo is set on DISABLED_UPDATE: WABABanState is SCHEDULE_FOR_DISABLE, DISABLE or
// REINSTATE.
type BanInfo struct {
	WABABanState string `json:"waba_ban_state,omitempty"`
	WABABanDate  string `json:"waba_ban_date,omitempty"`
}

// WABAInfo identifies the customer's WABA on partner events.
type WABAInfo struct {
	WABAID                     string   `json:"waba_id,omitempty"`
	OwnerBusinessID            string   `json:"owner_business_id,omitempty"`
	PartnerAppID               string   `json:"partner_app_id,omitempty"`
	SolutionID                 string   `json:"solution_id,omitempty"`
	SolutionPartnerBusinessIDs []string `json:"solution_partner_business_ids,omitempty"`
	AdAccountLinked            string   `json:"ad_account_linked,omitempty"`
}

// VolumeTierInfo is set on VOLUME_BASED_PRICING_TIER_UPDATE.
type VolumeTierInfo struct {
	TierUpdateTime  Scalar `json:"tier_update_time,omitempty"`
	PricingCategory string `json:"pricing_category,omitempty"`
	Tier            string `json:"tier,omitempty"`
	EffectiveMonth  string `json:"effective_month,omitempty"`
	Region          string `json:"region,omitempty"`
}

// PartnerClientCertificationInfo is set on PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE.
type PartnerClientCertificationInfo struct {
	ClientBusinessID string   `json:"client_business_id,omitempty"`
	Status           string   `json:"status,omitempty"`
	RejectionReasons []string `json:"rejection_reasons,omitempty"`
}

// AccountAlert is the value of account_alerts: messaging-limit increase denied or
// deferred, Official Business Account decisions, profile photo removed.
type AccountAlert struct {
	EntityType string    `json:"entity_type"` // BUSINESS, PHONE_NUMBER, CURRENT_STATUS_ID
	EntityID   string    `json:"entity_id"`
	AlertInfo  AlertInfo `json:"alert_info"`
}

// AlertInfo describes an AccountAlert.
type AlertInfo struct {
	AlertSeverity    string `json:"alert_severity,omitempty"` // CRITICAL, WARNING, INFORMATIONAL
	AlertStatus      string `json:"alert_status,omitempty"`
	AlertType        string `json:"alert_type,omitempty"`
	AlertDescription string `json:"alert_description,omitempty"`
}

// AccountReviewUpdate is the value of account_review_update: Decision is APPROVED,
// REJECTED, PENDING or DEFERRED.
type AccountReviewUpdate struct {
	Decision string `json:"decision"`
}

// BusinessCapabilityUpdate is the value of business_capability_update. Meta sends the
// limits as numbers (2000, -1 for unlimited) or tier strings (TIER_2K); Scalar reads both.
type BusinessCapabilityUpdate struct {
	MaxDailyConversationsPerBusiness Scalar `json:"max_daily_conversations_per_business,omitempty"`
	// MaxDailyConversationPerPhone is being removed (Feb 2026).
	MaxDailyConversationPerPhone Scalar `json:"max_daily_conversation_per_phone,omitempty"`
	MaxPhoneNumbersPerBusiness   Scalar `json:"max_phone_numbers_per_business,omitempty"`
	MaxPhoneNumbersPerWABA       Scalar `json:"max_phone_numbers_per_waba,omitempty"`
}
