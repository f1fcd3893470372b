package inbound

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/phone"

	"github.com/wabaplatform/waba/domain"
)

// Number is a connected business number as routing sees it.
type Number struct {
	WorkspaceID   domain.ID
	ID            domain.ID
	PhoneNumberID string
	WABAID        string
}

// Settings are a workspace's opt-out choices (empty confirmations take the defaults).
type Settings struct {
	// The workspace's keywords beside the defaults (domain/optout).
	OptOutKeywords     []string
	OptInKeywords      []string
	OptOutConfirmation string
	OptInConfirmation  string
}

// Route is a number found by Meta's id, with the owning workspace's opt-out settings
// (read in the same query: every inbound message needs both).
type Route struct {
	Number
	Settings Settings
}

// Directory answers routing questions: which workspace owns a number or a WABA.
type Directory interface {
	// RouteByPhoneNumberID finds a number by Meta's id; ok is false when no workspace has it.
	RouteByPhoneNumberID(ctx context.Context, phoneNumberID string) (r Route, ok bool, err error)
	// NumbersByWABA lists the numbers of a WABA, oldest first (empty when unknown).
	NumbersByWABA(ctx context.Context, wabaID string) ([]NumberInfo, error)
}

// NumberInfo is a number with the display number account-level events name it by.
type NumberInfo struct {
	Number
	DisplayPhoneNumber string
}

// Identity is who sent a message: a phone number, a BSUID, or both.
type Identity struct {
	// Phone is the E.164 form the contact is found by ("" without a number); WaID is
	// Meta's id of the same number (digits), stored as received.
	Phone string
	WaID  string
	BSUID string
	Name  string // WhatsApp profile name, "" when unknown
}

// NewIdentity builds an identity from Meta's wa_id and BSUID; a profile name longer than
// a contact's name may be is cut to fit. The phone is wa_id in
// E.164 normalized like the contacts API normalizes it, so a contact created by hand is
// found again; a wa_id libphonenumber does not know (Mexico's "52 1 ..." form that
// WhatsApp still uses) is kept as "+" + wa_id.
func NewIdentity(waID, bsuid, name string) Identity {
	id := Identity{WaID: waID, BSUID: bsuid, Name: domain.TruncateRunes(strings.TrimSpace(name), domain.MaxContactNameRunes)}
	if waID != "" {
		id.Phone = "+" + waID
		if p, err := phone.Normalize(id.Phone); err == nil {
			id.Phone = p
		}
	}
	return id
}

// ContactStore finds, creates and changes contacts on behalf of inbound events.
type ContactStore interface {
	// FindOrCreate returns the contact identified by id (by phone first, then BSUID),
	// creating it when there is none, and locks it for the rest of the transaction. It
	// fills in a missing phone or BSUID, and the name when the contact has none.
	// created says it was created.
	FindOrCreate(ctx context.Context, workspaceID domain.ID, id Identity, now time.Time) (c domain.Contact, created bool, err error)
	// SetOptOut records a keyword opt-out (optedOut true, at and source set) or an opt-in
	// (all three cleared).
	SetOptOut(ctx context.Context, workspaceID, contactID domain.ID, optedOut bool, at time.Time) error
	// SetMarketingOptOut sets marketing_opted_out; changed is false when it already had
	// that value.
	SetMarketingOptOut(ctx context.Context, workspaceID, contactID domain.ID, value bool) (changed bool, err error)
}

// MessageStore keeps inbound messages and the status history of outbound ones.
type MessageStore interface {
	// WAMIDExists reports whether a message with that wamid is stored (any workspace).
	WAMIDExists(ctx context.Context, wamid string) (bool, error)
	// ReceiveInbound stores m unless its wamid is already stored; inserted says which.
	// Only when it was stored, it also moves the contact's last_inbound_at and
	// service_window_expires_at forward to m.CreatedAt (never back) if touch is set, and
	// appends ev to the event log: what every inbound message does, in one round trip.
	ReceiveInbound(ctx context.Context, m domain.Message, touch bool, ev domain.Occurrence) (inserted bool, err error)
	// RecordStatus stores a status report once per (wamid, status); fresh is false for a
	// report already recorded; r.At is when it happened. In the same round trip it finds
	// and locks the outbound message of workspaceID with r.WAMID; ok is false when there is
	// none (always for a zero workspaceID).
	RecordStatus(ctx context.Context, workspaceID domain.ID, r domain.StatusReport) (fresh bool, m domain.Message, ok bool, err error)
	// LinkOutbound gives the wamid to our outbound message id when it has none yet (a send
	// whose worker died between Meta's answer and storing it) and returns it locked; ok is
	// false when there is no such message or it already has a wamid.
	LinkOutbound(ctx context.Context, workspaceID, id domain.ID, wamid string) (m domain.Message, ok bool, err error)
	// UpdateDelivery writes the status, the timestamps, the error and the pricing of m and
	// appends ev to the event log, in one round trip.
	UpdateDelivery(ctx context.Context, m domain.Message, ev domain.Occurrence) error
	// HoldMarketing keeps the contact from marketing templates until until (Meta's 131049;
	// a later hold stays).
	HoldMarketing(ctx context.Context, workspaceID, contactID domain.ID, until time.Time) error
}

// AccountStore applies account-level events: numbers, the event log.
type AccountStore interface {
	UpdateNumber(ctx context.Context, workspaceID, numberID domain.ID, ch NumberChange) error
	RecordAccountEvent(ctx context.Context, e AccountEvent) error
}

// Templates applies Meta's news about a template (status, quality, category) for the
// capability that owns templates, in the processing transaction.
type Templates interface {
	Report(ctx context.Context, workspaceID domain.ID, wabaID, name, language string, u domain.TemplateReport) error
}

// TemplateCache is told, once processing committed, which WABAs' templates changed.
type TemplateCache interface {
	Invalidate(workspaceID domain.ID, wabaID string)
}

// NumberChange sets the non-empty fields of a number.
type NumberChange struct {
	MessagingLimitTier string
	QualityRating      string
	VerifiedName       string
	NameStatus         string
	Status             domain.NumberStatus
	FailureReason      string
}

// AccountEvent is an account-level webhook kept as sent. ID is derived from the event, so
// recording a redelivered event twice keeps one row.
type AccountEvent struct {
	ID          domain.ID
	WorkspaceID *domain.ID
	WABAID      string
	Field       string
	Event       string
	Payload     json.RawMessage
	At          time.Time
}

// Outbox queues outbound messages (the opt-out confirmations).
type Outbox interface {
	CreateOutbound(ctx context.Context, m domain.Message) error
}

// Jobs enqueues the send job of a queued message in the current transaction.
type Jobs interface {
	EnqueueSend(ctx context.Context, workspaceID, messageID domain.ID) error
}

// Conversations is told of the inbound messages stored, for the capability that owns
// conversations (it opens, counts and auto-assigns them), in the processing transaction:
// once for all of a batch's messages, so a batch costs one statement there, not one per
// message.
type Conversations interface {
	Received(ctx context.Context, arrivals []domain.Arrival, now time.Time) error
}

// Media is told of the inbound messages stored that carry a file, for the capability that
// keeps media (it queues each file's download, as Meta's URLs expire within minutes), in
// the processing transaction.
type Media interface {
	Received(ctx context.Context, ms []domain.Message, now time.Time) error
}

// Campaigns is told of the outbound messages whose status moved, each as it now is, and
// of the inbound messages stored, for the capability that owns campaigns (a campaign's
// recipient follows its message, and a contact's message may be a reply to it), in the
// processing transaction: once for all of a batch's messages.
type Campaigns interface {
	Progressed(ctx context.Context, advanced []domain.Message, arrivals []domain.Arrival) error
}

// Billing is told of the messages Meta priced (reported delivered or read with a
// pricing object) and of those that failed, for the capability that owns the usage ledger,
// in the processing transaction: once for all of a batch's messages. Priced returns what
// each charge it recorded costs (for the metrics, counted once the transaction commits).
type Billing interface {
	Priced(ctx context.Context, ps []domain.Priced) ([]domain.Spend, error)
	Failed(ctx context.Context, ms []domain.Message) error
}

// Repos is what one processing transaction offers.
type Repos struct {
	Directory Directory
	Contacts  ContactStore
	Messages  MessageStore
	Accounts  AccountStore
	Templates Templates
	Outbox    Outbox
	Jobs      Jobs
	Events    events.Log
	// Conversations may be nil (a test without an inbox).
	Conversations Conversations
	// Campaigns may be nil (a test without campaigns).
	Campaigns Campaigns
	// Billing may be nil (a test without billing).
	Billing Billing
	// Media may be nil (a test without media).
	Media Media
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Metrics counts what processing did that has no other trace.
type Metrics interface {
	// Unrouted counts an event nobody owns: kind is "phone_number", "waba", "number"
	// (a display number unknown in its WABA) or "sender" (a message without any identity).
	Unrouted(kind string)
	// UnknownStatus counts a status for a wamid we did not send (or not yet recorded).
	UnknownStatus()
	OptedOut()
	OptedIn()
	// NotificationError counts a value.errors[] entry Meta reported.
	NotificationError(code int)
	// Charged counts a message the usage ledger recorded, and what it cost.
	Charged(s domain.Spend)
}
