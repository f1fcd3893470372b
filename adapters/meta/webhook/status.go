package webhook

import (
	"encoding/json"
	"time"
)

// Status values (Status.Status). There is no "deleted" status on Cloud API.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusPlayed    = "played" // first play of a voice message
	StatusFailed    = "failed"
)

// Status reports what happened to one of our outbound messages. Deduplicate on (ID, Status):
// retries and other subscribed apps deliver copies. Raw always holds it as received.
type Status struct {
	// ID is the wamid returned when we sent the message.
	ID     string `json:"id"`
	Status string `json:"status"`
	// Timestamp is the unix time in seconds, as the string Meta sends; see Time.
	Timestamp string `json:"timestamp"`
	// RecipientID is the user's number, a group id for group sends (RecipientType
	// "group"), or empty when we sent to a BSUID of a username user.
	RecipientID            string `json:"recipient_id,omitempty"`
	RecipientUserID        string `json:"recipient_user_id,omitempty"`
	RecipientType          string `json:"recipient_type,omitempty"`
	RecipientParticipantID string `json:"recipient_participant_id,omitempty"`
	// BizOpaqueCallbackData echoes what we set when sending (our message id).
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
	// Conversation is omitted on v24.0+ outside free entry point windows; build nothing on it.
	Conversation *Conversation `json:"conversation,omitempty"`
	// Pricing appears on sent and on one of delivered/read, never on failed.
	Pricing *Pricing `json:"pricing,omitempty"`
	// Errors is set on failed (one element).
	Errors []Error `json:"errors,omitempty"`

	// Raw is the status object exactly as received.
	Raw json.RawMessage `json:"-"`
	// DecodeErr is the first type mismatch met decoding the typed fields (nil normally).
	DecodeErr error `json:"-"`
}

// UnmarshalJSON decodes a status best-effort and keeps a copy of its raw JSON. It never
// fails: a mismatch is recorded in DecodeErr and the rest of the status still decodes.
func (s *Status) UnmarshalJSON(data []byte) error {
	type plain Status
	*s = Status{}
	err := json.Unmarshal(data, (*plain)(s))
	s.Raw = append(json.RawMessage(nil), data...)
	s.DecodeErr = err
	return nil
}

// MarshalJSON writes Raw when set and the typed fields otherwise.
func (s Status) MarshalJSON() ([]byte, error) {
	if len(s.Raw) > 0 {
		return s.Raw, nil
	}
	type plain Status
	return json.Marshal(plain(s))
}

// Time returns Timestamp as a UTC time, the zero time when it is absent or not a number.
func (s *Status) Time() time.Time { return parseUnix(s.Timestamp) }

// Recipient returns the user the status is about: their number (digits, no "+") and their
// BSUID, from recipient_id and recipient_user_id. waID is empty for group sends and when
// recipient_id is not a number.
func (s *Status) Recipient() (waID, bsuid string) {
	if s.RecipientType != "group" {
		waID, _ = splitIdentity(s.RecipientID)
	}
	return waID, s.RecipientUserID
}

// Conversation is the legacy conversation a message was billed in.
type Conversation struct {
	ID string `json:"id,omitempty"`
	// ExpirationTimestamp is unix seconds, only on sent.
	ExpirationTimestamp Scalar `json:"expiration_timestamp,omitempty"`
	Origin              Origin `json:"origin"`
}

// Origin is the category that opened a Conversation.
type Origin struct {
	Type string `json:"type,omitempty"`
}

// Pricing says how Meta charged for a message. Bill from Type and Category: Billable is
// being deprecated.
type Pricing struct {
	// Billable is nil when Meta no longer sends it.
	Billable     *bool  `json:"billable,omitempty"`
	PricingModel string `json:"pricing_model,omitempty"` // "PMP" or legacy "CBP"
	// Type is "regular" (charged), "free_customer_service" or "free_entry_point".
	Type string `json:"type,omitempty"`
	// Category is marketing, utility, authentication, authentication_international,
	// service, marketing_lite, referral_conversion, group_marketing, ...
	Category string `json:"category,omitempty"`
}
