package domain

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// OptOutSource says how a contact opted out.
type OptOutSource string

const (
	OptOutKeyword OptOutSource = "keyword"
	OptOutAPI     OptOutSource = "api"
)

// Contact is a customer of a workspace, known by phone number, by Meta's business-scoped
// user id (BSUID), or both.
type Contact struct {
	ID                     ID
	WorkspaceID            ID
	Phone                  string // E.164, "" for a BSUID-only contact
	WaID                   string // Phone without the +
	BSUID                  string
	Name                   string
	Tags                   []string
	Attributes             map[string]any
	AssignedTo             *ID
	OptedOut               bool
	OptedOutAt             *time.Time
	OptOutSource           OptOutSource
	MarketingOptedOut      bool
	LastInboundAt          *time.Time
	ServiceWindowExpiresAt *time.Time
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Limits on contact fields.
const (
	MaxContactNameRunes = 200
	MaxTags             = 50
	MaxTagRunes         = 64
	MaxAttributesBytes  = 16 << 10
)

// NormalizeTags trims, de-duplicates and checks tags. A non-empty reason says why they
// are refused.
func NormalizeTags(tags []string) ([]string, string) {
	if len(tags) > MaxTags {
		return nil, "at most 50 tags"
	}
	out := make([]string, 0, len(tags))
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || utf8.RuneCountInString(t) > MaxTagRunes || !utf8.ValidString(t) {
			return nil, "each tag must be 1 to 64 characters"
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, ""
}

// CheckAttributes bounds the free-form attributes by their JSON size.
func CheckAttributes(a map[string]any) string {
	b, err := json.Marshal(a)
	if err != nil {
		return "must be a JSON object"
	}
	if len(b) > MaxAttributesBytes {
		return "must be at most 16 KiB of JSON"
	}
	return ""
}

// JSONEqual says whether two attribute values encode to the same JSON.
func JSONEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// Suppression is whether an address may be messaged. A contact carries its own; the
// workspace's suppression list keeps it under the contact's phone and BSUID, so an opt-out
// outlives the contact (a deleted contact's number stays suppressed, and a contact created
// later with that number or BSUID starts with it).
type Suppression struct {
	OptedOut          bool // no message at all (but an opt-out or opt-in confirmation)
	MarketingOptedOut bool // no marketing template (Meta's marketing stop)
}

// Refusal is why a message may not go to an address; "" when it may.
type Refusal string

const (
	RefusedOptedOut          Refusal = "opted_out"           // the contact opted out of every message
	RefusedMarketingOptedOut Refusal = "marketing_opted_out" // the contact stopped marketing templates
)

// Refuses is the send eligibility rule, applied when a send is asked for and again when it
// is delivered (the contact may have opted out meanwhile): after an opt-out nothing goes
// but its own confirmation, and after a marketing stop no marketing template goes.
// marketing says whether the message is a template of the MARKETING category
// (IsMarketing).
func (s Suppression) Refuses(p MessagePurpose, marketing bool) Refusal {
	switch {
	case s.OptedOut && p != PurposeOptOutConfirmation:
		return RefusedOptedOut
	case s.MarketingOptedOut && marketing:
		return RefusedMarketingOptedOut
	}
	return ""
}

// IsMarketing reports whether a template category (Meta's word, any case) is MARKETING,
// the category a marketing stop and frequency caps apply to.
func IsMarketing(category string) bool { return strings.EqualFold(category, "MARKETING") }

// Suppression is the contact's opt-out state.
func (c Contact) Suppression() Suppression {
	return Suppression{OptedOut: c.OptedOut, MarketingOptedOut: c.MarketingOptedOut}
}

// OptedOutThemselves reports whether the opt-out in force is the customer's own (a keyword
// or button reply, or Meta's marketing stop), which only the customer can undo. An
// opt-out made through the API is staff's, and staff may lift it.
func (c Contact) OptedOutThemselves() bool {
	if c.OptedOut {
		return c.OptOutSource != OptOutAPI
	}
	return c.MarketingOptedOut
}

// Opt decides opting c out (out) or back in by ch.Source, and returns the event it causes;
// ok is false when c is already so (nothing changes, nothing is recorded). Staff (the API)
// may lift only an opt-out staff made: lifting the customer's own is a conflict, and only
// the customer undoes it (START). The caller stores the change.
func (c Contact) Opt(out bool, ch OptChange) (e Event, ok bool, err error) {
	if !out && ch.Source == OptOutAPI && c.OptedOutThemselves() {
		return nil, false, Errorf(KindConflict, "the contact opted out themselves; only they can opt back in (by writing START)")
	}
	if c.OptedOut == out {
		return nil, false, nil
	}
	ch.ContactID = c.ID
	if out {
		return ContactOptedOut{ch}, true, nil
	}
	return ContactOptedIn{ch}, true, nil
}

// MarketingOpt decides Meta's marketing stop (stop) or resume for c and returns its event;
// ok is false when c is already so.
func (c Contact) MarketingOpt(stop bool, category string) (e Event, ok bool) {
	if c.MarketingOptedOut == stop {
		return nil, false
	}
	ch := MarketingChange{ContactID: c.ID, Category: category}
	if stop {
		return ContactMarketingOptedOut{ch}, true
	}
	return ContactMarketingOptedIn{ch}, true
}

// ServiceWindow is how long after a customer's last message any message type may be sent.
const ServiceWindow = 24 * time.Hour

// InServiceWindow reports whether a non-template message may be sent to c at now.
func (c Contact) InServiceWindow(now time.Time) bool {
	return c.ServiceWindowExpiresAt != nil && now.Before(*c.ServiceWindowExpiresAt)
}

// TruncateRunes cuts s to at most n characters (runes), never inside one.
func TruncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
