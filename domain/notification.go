package domain

import (
	"encoding/json"
	"time"
)

// Notification is one webhook body from WhatsApp in our own terms, translated at the edge
// (adapters/meta): its changes in the order the body listed them.
type Notification struct {
	Changes []Change
}

// ChangeKind says how a Change is routed and what it carries.
type ChangeKind int

const (
	// NumberChange is about one business number, routed by PhoneNumberID: inbound
	// messages, status reports, preference changes, notification errors (or nothing we act
	// on, such as a call: it is still routed).
	NumberChange ChangeKind = iota
	// TemplateChange is about a message template of the business account (WABAID).
	TemplateChange
	// AccountChange is any other event of the business account (WABAID): number quality
	// and name, messaging limits, account updates, alerts, reviews.
	AccountChange
)

// Change is one part of a Notification. Kind says which fields are set.
type Change struct {
	Kind ChangeKind
	// WABAID is the business account the change arrived under.
	WABAID string
	// At is when the account-level change happened; zero when not given.
	At time.Time

	// NumberChange: PhoneNumberID is "" when the change named no number.
	PhoneNumberID string
	Messages      []InboundMessage
	Statuses      []StatusReport
	Preferences   []PreferenceChange
	// ErrorCodes are the codes of errors reported about the notification itself.
	ErrorCodes []int

	// TemplateChange: nil when the change said nothing usable.
	Template *TemplateUpdate
	// AccountChange.
	Account *AccountUpdate
}

// Sender is who a customer event comes from: a phone number (wa_id digits), a BSUID, or
// both, and the WhatsApp profile name when known.
type Sender struct {
	WaID  string
	BSUID string
	Name  string
}

// InboundMessage is a message a customer sent to a business number.
type InboundMessage struct {
	// WAMID is WhatsApp's id of the message, the idempotency key ("" when missing).
	WAMID  string
	Sender Sender
	// Type is the message type ("text", "image", ...; "unknown" when none was given).
	Type string
	// System marks a notice (a number or identity change), not the customer writing: it
	// does not open the service window.
	System bool
	// At is when it was sent; zero when not given.
	At time.Time
	// Content is the message's type object, the shape a client renders.
	Content json.RawMessage
	// Raw is the message as received, kept with it.
	Raw json.RawMessage
	// Replies are the texts that count as a keyword reply: a text's body, a quick reply's
	// label and payload, an interactive reply's title and id, in that order.
	Replies []string
}

// StatusReport is what WhatsApp reports about one of our outbound messages.
type StatusReport struct {
	WAMID  string
	Status string // WhatsApp's word, kept even when unknown to us
	At     time.Time
	// Error is the first reported error (failed), nil otherwise.
	Error *MessageError
	// Errors and Pricing are kept as received for the status history and the usage ledger.
	Errors  json.RawMessage
	Pricing json.RawMessage
	// Billing is Meta's pricing of the message, read for the usage ledger (nil without one).
	Billing *Pricing
	// RecipientWaID is the user's number (digits), which gives the market a charge is
	// priced in; "" for a group or a username user.
	RecipientWaID string
	// CallbackData is what we attached when sending: our message id.
	CallbackData string
}

// PreferenceChange is a customer stopping (Stop) or resuming marketing messages.
type PreferenceChange struct {
	Sender   Sender
	Stop     bool
	Category string
}

// TemplateUpdate is news about a message template: its status, quality or category. Empty
// fields are unchanged.
type TemplateUpdate struct {
	Name           string
	Language       string
	MetaTemplateID string
	Status         string
	Category       string
	// Reason is set with a status: nil leaves it, a pointer to "" clears it.
	Reason       *string
	QualityScore string
}

// AccountUpdate is an account-level event, kept as received in Payload, and what it
// changes.
type AccountUpdate struct {
	// Field is WhatsApp's name of the event family; Event the event within it.
	Field   string
	Event   string
	Payload json.RawMessage
	// Number changes the number with that display number, when set.
	Number *NumberUpdate
	// LimitTier is the messaging limit every number of the account shares ("" unchanged).
	LimitTier string
	// Disconnected: the business removed us or the account is gone; stop sending.
	Disconnected bool
}

// NumberUpdate changes one business number named by its display number. Empty fields are
// unchanged.
type NumberUpdate struct {
	DisplayPhoneNumber string
	MessagingLimitTier string
	NameStatus         string
	VerifiedName       string
	QualityRating      string
}

// OutboundMessage is a message on its way to WhatsApp.
type OutboundMessage struct {
	// ID is our message id; status reports carry it back.
	ID   ID
	Type string
	// Content is the type object in our stored shape.
	Content json.RawMessage
	// To is the recipient's wa_id, else BSUID names a username-only recipient.
	To      string
	BSUID   string
	Purpose MessagePurpose
}
