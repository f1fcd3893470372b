package messaging

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Contacts reads contacts (outside a transaction).
type Contacts interface {
	// Get returns the contact when it exists and is inside view; KindNotFound otherwise.
	Get(ctx context.Context, workspaceID, id domain.ID, view contacts.View, forUpdate bool) (domain.Contact, error)
	// List finds contacts; the send use case uses it to find one by phone (Filter.Phone).
	List(ctx context.Context, workspaceID domain.ID, f contacts.Filter, view contacts.View, limit int) ([]domain.Contact, error)
	// Suppression is what the suppression list keeps for an address (E.164 phone) that no
	// contact has now: the opt-outs of a deleted contact.
	Suppression(ctx context.Context, workspaceID domain.ID, address string) (domain.Suppression, error)
}

// Workspaces reads a workspace's plan (each request: a plan change applies at once).
type Workspaces interface {
	Workspace(ctx context.Context, id domain.ID) (domain.Workspace, error)
}

// Numbers lists a workspace's WhatsApp numbers.
type Numbers interface {
	List(ctx context.Context, workspaceID domain.ID) ([]domain.PhoneNumber, error)
}

// MessageStore reads messages.
type MessageStore interface {
	GetMessage(ctx context.Context, workspaceID, id domain.ID) (domain.Message, error)
	// ListByContact returns up to limit messages of a contact, newest first, with ids below
	// before (all when before is the zero id).
	ListByContact(ctx context.Context, workspaceID, contactID, before domain.ID, limit int) ([]domain.Message, error)
}

// Templates reads the template catalogue (what Meta last said of a WABA's templates).
type Templates interface {
	// Template is the template of that name and language on the WABA; KindNotFound when
	// the catalogue has none.
	Template(ctx context.Context, workspaceID domain.ID, wabaID, name, language string) (domain.Template, error)
}

// QuotaState is a rate-limit counter after one request was counted.
type QuotaState struct {
	Limit     int
	Remaining int
	Reset     time.Time // when the current window ends
	Reached   bool      // the request that was counted is over the limit
}

// Quota counts sends per key in one-minute windows (a shared store when several instances run).
type Quota interface {
	// Take counts one request against key with the given per-minute limit.
	Take(ctx context.Context, key string, perMinute int) (QuotaState, error)
	// Peek reads the counter without counting.
	Peek(ctx context.Context, key string, perMinute int) (QuotaState, error)
}

// IdempotencyRecord is the stored outcome of a send made with an Idempotency-Key.
type IdempotencyRecord struct {
	WorkspaceID domain.ID
	Key         string
	RequestHash []byte
	Status      int    // the HTTP status of the first answer (202)
	Body        []byte // JSON snapshot of the message as first answered
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// IdempotencyKeys reads stored outcomes and expires them (outside a transaction).
type IdempotencyKeys interface {
	// Find returns the unexpired record for key; ok is false when there is none.
	Find(ctx context.Context, workspaceID domain.ID, key string) (rec IdempotencyRecord, ok bool, err error)
	// DeleteExpired deletes up to limit records that expired before now.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
}

// IdempotencySaver stores an outcome in the current transaction. A key already held by an
// unexpired record is KindConflict (a concurrent request with the same key won).
type IdempotencySaver interface {
	Save(ctx context.Context, r IdempotencyRecord) error
}

// ContactWriter creates the contact of a new `to` in the current transaction.
type ContactWriter interface {
	// Create inserts c (its opt-outs taken from the suppression list) and returns it as
	// stored; KindContactExists on a taken phone.
	Create(ctx context.Context, c domain.Contact) (domain.Contact, error)
}

// MessageWriter inserts the queued message in the current transaction.
type MessageWriter interface {
	// Queue stores m and appends ev, the event of its queueing, to the event log (one
	// round trip: every send writes both).
	Queue(ctx context.Context, m domain.Message, ev domain.Occurrence) error
}

// MarketingLedger reads, in the current transaction, what the frequency caps weigh.
type MarketingLedger interface {
	// LockMarketing locks the contact's row until the transaction ends (parallel marketing
	// sends to one contact take turns here, so two cannot both take the last slot) and
	// returns the contact's marketing templates queued after since that did not fail, its
	// hold, and the workspace's caps (MessagingSettings without its keywords).
	LockMarketing(ctx context.Context, workspaceID, contactID domain.ID, since time.Time) (domain.MarketingHistory, domain.MessagingSettings, error)
}

// Jobs enqueues the send job in the current transaction (the outbox). priority is River's
// 1 (first) to 4 (last); see priority.
type Jobs interface {
	EnqueueSendPriority(ctx context.Context, workspaceID, messageID domain.ID, priority int) error
}

// Repos is what a transaction offers the send use case.
type Repos struct {
	Contacts    ContactWriter
	Messages    MessageWriter
	Events      events.Log
	Jobs        Jobs
	Idempotency IdempotencySaver
	Marketing   MarketingLedger
	// Wallet may be nil (a test without billing).
	Wallet Wallet
	// Automatic records automations' replies (nil where no automation sends).
	Automatic AutomaticReplies
}

// AutomaticReplies records, in the send's transaction, that an automation answered an
// inbound message.
type AutomaticReplies interface {
	// Record stores r; KindConflict when its trigger and automation have one already.
	Record(ctx context.Context, r domain.AutomaticReply) error
}

// Wallet holds the estimated price of a queued template send in a prepaid workspace
// (billing's ledger), in the send's transaction.
type Wallet interface {
	// Reserve holds the prices of holds, all or none: KindInsufficientBalance (402) when the
	// available balance cannot cover them. A postpaid workspace holds nothing.
	Reserve(ctx context.Context, ws domain.ID, holds []domain.Hold, at time.Time) error
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// MediaFiles checks a send that names a stored media file by our media id.
type MediaFiles interface {
	// CheckSendable refuses (KindValidation on field) a file the caller may not see, that
	// is not stored, or that a message of type typ cannot carry.
	CheckSendable(ctx context.Context, c domain.Caller, id domain.ID, typ, field string) error
}

// MediaResolver gives the Meta id to send a stored media file by from a number (uploading
// it to Meta again when it has none there, or an expired one). KindNotFound or
// KindInvalidState: the file is gone or not stored; *domain.MetaError: Meta's refusal.
type MediaResolver interface {
	SendableID(ctx context.Context, workspaceID, id domain.ID, num domain.PhoneNumber, token string) (string, error)
}
