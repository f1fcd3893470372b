package domain

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// CampaignStatus is where a broadcast campaign stands.
type CampaignStatus string

// The campaign statuses (API.md, Campaigns).
const (
	CampaignDraft     CampaignStatus = "draft"
	CampaignScheduled CampaignStatus = "scheduled"
	CampaignRunning   CampaignStatus = "running"
	CampaignPaused    CampaignStatus = "paused"
	CampaignCompleted CampaignStatus = "completed"
	CampaignCancelled CampaignStatus = "cancelled"
)

// PauseReason says why a campaign is paused.
type PauseReason string

// The pause reasons: by hand, or one of the stop rules.
const (
	PauseManual                PauseReason = "manual"
	PauseTemplatePaused        PauseReason = "template_paused"        // Meta paused or disabled the template
	PauseTemplateRecategorized PauseReason = "template_recategorized" // e.g. UTILITY to MARKETING: a cost surprise
	PauseQualityLow            PauseReason = "quality_low"            // the number's quality is RED
	PauseOptOutSpike           PauseReason = "opt_out_spike"          // OptOutSpike
	PauseInsufficientBalance   PauseReason = "insufficient_balance"
	PauseCapacity              PauseReason = "capacity" // the number's 24-hour messaging limit is reached
)

// CampaignAction is something done to a campaign's status.
type CampaignAction string

// The actions on a campaign.
const (
	CampaignEdit     CampaignAction = "edit"
	CampaignLaunch   CampaignAction = "launch"
	CampaignPause    CampaignAction = "pause"
	CampaignResume   CampaignAction = "resume"
	CampaignCancel   CampaignAction = "cancel"
	CampaignComplete CampaignAction = "complete"
)

// campaignMoves lists, per action, the statuses it applies to.
var campaignMoves = map[CampaignAction][]CampaignStatus{
	CampaignEdit:     {CampaignDraft, CampaignScheduled},
	CampaignLaunch:   {CampaignDraft, CampaignScheduled},
	CampaignPause:    {CampaignScheduled, CampaignRunning},
	CampaignResume:   {CampaignPaused},
	CampaignCancel:   {CampaignDraft, CampaignScheduled, CampaignRunning, CampaignPaused},
	CampaignComplete: {CampaignRunning},
}

// CheckCampaignMove is nil when action applies to a campaign in status s, and a
// KindInvalidState error otherwise.
func CheckCampaignMove(s CampaignStatus, action CampaignAction) error {
	for _, from := range campaignMoves[action] {
		if from == s {
			return nil
		}
	}
	return Errorf(KindInvalidState, "a %s campaign cannot %s", s, action)
}

// LaunchStatus is what a launched campaign becomes: scheduled until scheduledAt when it
// is later than now, running otherwise.
func LaunchStatus(scheduledAt *time.Time, now time.Time) CampaignStatus {
	if scheduledAt != nil && scheduledAt.After(now) {
		return CampaignScheduled
	}
	return CampaignRunning
}

// RecipientStatus is where one recipient of a campaign stands.
type RecipientStatus string

// The recipient statuses.
const (
	RecipientPending        RecipientStatus = "pending"
	RecipientSent           RecipientStatus = "sent"
	RecipientDelivered      RecipientStatus = "delivered"
	RecipientRead           RecipientStatus = "read"
	RecipientReplied        RecipientStatus = "replied"
	RecipientFailed         RecipientStatus = "failed"
	RecipientSkipped        RecipientStatus = "skipped"
	RecipientRetryScheduled RecipientStatus = "retry_scheduled"
)

// recipientRank orders the delivery progress: a report never moves a recipient back.
var recipientRank = map[RecipientStatus]int{
	RecipientPending: 0, RecipientRetryScheduled: 0, RecipientSent: 1, RecipientDelivered: 2, RecipientRead: 3,
	RecipientReplied: 4,
}

// AdvanceRecipient is the recipient's status after a report of to: monotonic along
// sent, delivered, read, replied (a late "sent" after "read" changes nothing); failed
// (or retry_scheduled) ends the attempt of a recipient not yet delivered; skipped and
// failed are final. ok is false when the status does not change.
func AdvanceRecipient(from, to RecipientStatus) (RecipientStatus, bool) {
	if from == RecipientFailed || from == RecipientSkipped || from == to {
		return from, false
	}
	switch to {
	case RecipientFailed, RecipientRetryScheduled:
		if recipientRank[from] >= recipientRank[RecipientDelivered] {
			return from, false
		}
		return to, true
	case RecipientSkipped:
		if recipientRank[from] > 0 {
			return from, false
		}
		return to, true
	case RecipientPending:
		if from != RecipientRetryScheduled {
			return from, false
		}
		return to, true
	}
	if recipientRank[to] > recipientRank[from] {
		return to, true
	}
	return from, false
}

// Retries of a campaign's sends, and replies (API.md, Campaigns).
const (
	// MarketingLimitCode is Meta's 131049: the user's marketing limit ("healthy ecosystem
	// engagement"). No marketing template goes to them for MarketingHold after it, and a
	// campaign tries the recipient again a day later (CampaignRetry).
	MarketingLimitCode = 131049
	// DefaultCampaignRetryDays bounds the 131049 retries unless the workspace sets its
	// campaign_retry_days, from 0 (never) to MaxCampaignRetryDays.
	DefaultCampaignRetryDays = 3
	MaxCampaignRetryDays     = 3
	// CampaignBackoffRetries bounds the short retries of the throttling codes.
	CampaignBackoffRetries = 5
	// ReplyWindow is how long after its delivery an inbound message of the recipient
	// counts as a reply.
	ReplyWindow = 72 * time.Hour
)

// CampaignRetry decides whether a campaign recipient whose message failed with Meta's
// code is sent again, and when. attempts counts its sends so far, the failed one
// included; firstAttempt is when the first was queued. 131049 tries again 24 hours later
// while the first attempt is less than retryDays days old; 130429 (throughput), 131056
// (pair rate) and 131057 (account in maintenance) back off 1, 2, 4, 8 and 16 minutes,
// then give up; every other code is final.
func CampaignRetry(code, attempts int, firstAttempt, now time.Time, retryDays int) (next time.Time, retry bool) {
	switch code {
	case MarketingLimitCode:
		if retryDays <= 0 || now.Sub(firstAttempt) >= time.Duration(retryDays)*24*time.Hour {
			return time.Time{}, false
		}
		return now.Add(24 * time.Hour), true
	case 130429, 131056, 131057:
		if attempts > CampaignBackoffRetries {
			return time.Time{}, false
		}
		return now.Add(time.Minute << max(attempts-1, 0)), true
	}
	return time.Time{}, false
}

// The opt-out stop rule: a campaign pauses when its recipients' opt-outs pass 2% of
// its delivered messages, once there are at least MinOptOutsForSpike of them.
const (
	MinOptOutsForSpike = 20
	OptOutSpikePercent = 2
)

// OptOutSpike reports whether optOuts among delivered recipients trip the stop rule.
func OptOutSpike(optOuts, delivered int) bool {
	return optOuts >= MinOptOutsForSpike && optOuts*100 > delivered*OptOutSpikePercent
}

// placeholder is a campaign template parameter that names a contact field:
// {{contact.name}}, {{contact.phone}} or {{contact.attributes.KEY}}, with an optional
// |default.
var placeholder = regexp.MustCompile(`\{\{\s*contact\.(name|phone|attributes\.[A-Za-z0-9_\-]{1,64})\s*(?:\|([^{}]*))?\}\}`)

// CheckPlaceholders returns a reason for the first malformed contact placeholder in
// text ("" when every one is well formed): a "{{contact." that is not one of the fields.
func CheckPlaceholders(text string) string {
	rest := placeholder.ReplaceAllString(text, "")
	if i := strings.Index(rest, "{{contact."); i >= 0 {
		end := min(len(rest), i+40)
		return "names an unknown contact field near " + rest[i:end] +
			" (use contact.name, contact.phone or contact.attributes.KEY)"
	}
	return ""
}

// BindContact fills the contact placeholders of the text parameters in components (the
// Graph API's template components) with c's fields; a field c lacks takes the default,
// and without one the binding fails: missing names the field (Meta refuses an empty
// parameter, so such a recipient is skipped).
func BindContact(components json.RawMessage, c Contact) (bound json.RawMessage, missing string, err error) {
	if len(components) == 0 || !strings.Contains(string(components), "{{") {
		return components, "", nil
	}
	var comps []map[string]any
	if err := json.Unmarshal(components, &comps); err != nil {
		return nil, "", err
	}
	for _, comp := range comps {
		params, _ := comp["parameters"].([]any)
		for _, p := range params {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			text, ok := pm["text"].(string)
			if !ok {
				continue
			}
			pm["text"] = placeholder.ReplaceAllStringFunc(text, func(m string) string {
				sub := placeholder.FindStringSubmatch(m)
				v := contactField(c, sub[1])
				if v == "" {
					v = strings.TrimSpace(sub[2])
				}
				if v == "" && missing == "" {
					missing = "contact." + sub[1]
				}
				return v
			})
		}
	}
	if missing != "" {
		return nil, missing, nil
	}
	bound, err = json.Marshal(comps)
	return bound, "", err
}

// contactField reads one placeholder field of c.
func contactField(c Contact, field string) string {
	switch field {
	case "name":
		return strings.TrimSpace(c.Name)
	case "phone":
		return c.Phone
	}
	key := strings.TrimPrefix(field, "attributes.")
	switch v := c.Attributes[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Limits on a campaign.
const (
	MaxCampaignNameRunes = 200
	// MaxAudienceContactIDs bounds the explicit ids of an audience (larger lists are
	// uploaded, not sent in the body).
	MaxAudienceContactIDs = 10000
)

// Audience is who a campaign goes to: every contact, or the contacts with any of Tags
// and the contacts ContactIDs names (both when both are given). A contact is a recipient
// once however many ways it is named.
type Audience struct {
	All        bool
	Tags       []string
	ContactIDs []ID
}

// Empty reports whether the audience names nobody.
func (a Audience) Empty() bool { return !a.All && len(a.Tags) == 0 && len(a.ContactIDs) == 0 }

// Check returns the reason a is malformed ("" when it is well formed): All excludes the
// others, tags follow the contacts' rules, ids are bounded and distinct.
func (a Audience) Check() (field, reason string) {
	if a.All && (len(a.Tags) > 0 || len(a.ContactIDs) > 0) {
		return "audience.all", "excludes tags and contact_ids"
	}
	if _, why := NormalizeTags(a.Tags); why != "" {
		return "audience.tags", why
	}
	if len(a.ContactIDs) > MaxAudienceContactIDs {
		return "audience.contact_ids", "at most 10000 ids (upload a list for more)"
	}
	seen := make(map[ID]bool, len(a.ContactIDs))
	for _, id := range a.ContactIDs {
		if id.IsZero() {
			return "audience.contact_ids", "must be contact ids"
		}
		if seen[id] {
			return "audience.contact_ids", "must not repeat an id"
		}
		seen[id] = true
	}
	return "", ""
}

// CampaignTemplate is the template a campaign sends: its name and language on the
// number's WABA, and Graph's components whose text parameters may name contact fields
// ({{contact.name|there}}), bound per recipient (BindContact).
type CampaignTemplate struct {
	Name       string
	Language   string
	Components json.RawMessage // a JSON array; empty for a template without parameters
}

// Campaign is a broadcast of one template to an audience from one business number.
type Campaign struct {
	ID            ID
	WorkspaceID   ID
	Name          string
	PhoneNumberID string // Meta's id of the business number
	Template      CampaignTemplate
	Audience      Audience
	Status        CampaignStatus
	PauseReason   PauseReason // "" unless paused
	ScheduledAt   *time.Time
	StartedAt     *time.Time
	CompletedAt   *time.Time // when it completed or was cancelled
	// SnapshotAt is when the audience was taken into recipients: once, when the campaign
	// first runs. Until then (a draft, a scheduled campaign) the audience may change.
	SnapshotAt *time.Time
	CreatedBy  *ID // the user who created it; nil for an API key
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Stats      CampaignStats

	// Split (launch's split:true) sends what fits in the number's messaging limit and the
	// rest as the limit frees; without it a launch that does not fit is refused, and a run
	// that meets the limit pauses (PauseCapacity).
	Split bool
	// EstimatedCost is the price of the recipients still to send when it last started (nil
	// before): one message each at the rate card of then, in the wallet's currency.
	EstimatedCost *Money
}

// CampaignStats are a campaign's recipients by where they stand. Sent, Delivered and
// Read are a funnel: a read recipient counts as sent and delivered too (and a replied one
// as all three), so each says how many got at least that far. Pending (not yet sent,
// queued ones included), Failed, Skipped and RetryScheduled are exclusive, and with Sent
// they add up to Recipients.
type CampaignStats struct {
	Recipients, Pending, Sent, Delivered, Read, Replied, Failed, Skipped, RetryScheduled int
}

// StatsOf builds the stats from the number of recipients in each status.
func StatsOf(by map[RecipientStatus]int) CampaignStats {
	s := CampaignStats{
		Pending: by[RecipientPending], Replied: by[RecipientReplied], Failed: by[RecipientFailed],
		Skipped: by[RecipientSkipped], RetryScheduled: by[RecipientRetryScheduled],
	}
	s.Read = by[RecipientRead] + s.Replied
	s.Delivered = by[RecipientDelivered] + s.Read
	s.Sent = by[RecipientSent] + s.Delivered
	s.Recipients = s.Pending + s.Sent + s.Failed + s.Skipped + s.RetryScheduled
	return s
}

// Done reports whether nothing is left to send or to hear back about before the campaign
// completes: no recipient is pending (waiting for its batch, or queued and not yet
// accepted by Meta) or waiting for a retry. A sent recipient is done: its delivery and
// read reports keep coming after the campaign completed.
func (s CampaignStats) Done() bool { return s.Pending == 0 && s.RetryScheduled == 0 }

// Why a recipient was skipped (Recipient.Reason).
const (
	SkipOptedOut          = "opted_out"
	SkipMarketingOptedOut = "marketing_opted_out"
	SkipFrequencyCapped   = "frequency_capped"
	SkipCancelled         = "cancelled"
	SkipContactDeleted    = "contact_deleted"
	SkipNoAddress         = "no_address"
	// SkipMissingField prefixes the placeholder a contact has no value for:
	// "missing_field:contact.name".
	SkipMissingField = "missing_field:"
)

// Recipient is one contact of a campaign's audience and what became of its message.
type Recipient struct {
	WorkspaceID   ID
	CampaignID    ID
	ContactID     ID
	Phone         string // the contact's phone now ("" when deleted or known only by BSUID)
	Name          string // the contact's name now
	Status        RecipientStatus
	Reason        string // why it was skipped
	MessageID     *ID
	Error         *MessageError // Meta's reason for a failure (code and title)
	Attempts      int
	NextAttemptAt *time.Time
	UpdatedAt     time.Time
}

// RecipientStatusOf is the recipient status a message status stands for; ok is false for
// queued (still pending) and received (not a send).
func RecipientStatusOf(s MessageStatus) (RecipientStatus, bool) {
	switch s {
	case StatusSent:
		return RecipientSent, true
	case StatusDelivered:
		return RecipientDelivered, true
	case StatusRead:
		return RecipientRead, true
	case StatusFailed:
		return RecipientFailed, true
	}
	return "", false
}
