package conversations

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// View restricts which conversations a query may see.
type View struct {
	// Agent, when set, limits the query to the conversations assigned to that user and
	// the unassigned ones (an agent's view); nil sees every conversation.
	Agent *domain.ID
}

// Allows reports whether c is inside the view (the rule the store's queries apply).
func (v View) Allows(c domain.Conversation) bool {
	return v.Agent == nil || c.AssignedTo == nil || *c.AssignedTo == *v.Agent
}

// Which is a list's view: the caller's own conversations, the unassigned ones, or all
// the caller may see.
type Which string

// The views of the list.
const (
	Mine       Which = "mine"
	Unassigned Which = "unassigned"
	All        Which = "all"
)

// Filter narrows a list.
type Filter struct {
	Which  Which
	Me     domain.ID // the caller, for Mine
	Status domain.ConversationStatus
	Query  string // a contact's name (contains) or phone (starts with)
	Limit  int
	Cursor domain.ID // the last conversation of the previous page
}

// Store reads and writes conversations and their notes.
type Store interface {
	// Get returns the conversation when it exists and is inside view; KindNotFound
	// otherwise. forUpdate locks it for the rest of the transaction.
	Get(ctx context.Context, workspaceID, id domain.ID, view View, forUpdate bool) (domain.Conversation, error)
	// List returns up to n conversations of f inside view, most recent message first.
	List(ctx context.Context, workspaceID domain.ID, f Filter, view View, n int) ([]domain.Conversation, error)
	// Messages returns up to n messages of the conversation (its contact on its number)
	// older than cursor (NilID: the newest), newest first.
	Messages(ctx context.Context, c domain.Conversation, cursor domain.ID, n int) ([]domain.Message, error)
	// Update writes the conversation's status, assignee and unread count; the contact
	// takes the same assignee.
	Update(ctx context.Context, c domain.Conversation) error
	Notes(ctx context.Context, workspaceID, conversationID, cursor domain.ID, n int) ([]domain.Note, error)
	AddNote(ctx context.Context, n domain.Note) error
	IsMember(ctx context.Context, workspaceID, userID domain.ID) (bool, error)
	// LastInbound returns the id of the conversation's newest inbound message; ok is false
	// when it has none.
	LastInbound(ctx context.Context, c domain.Conversation) (id domain.ID, ok bool, err error)
}

// Receipts asks for Meta's read receipt of an inbound message, in the transaction that
// marks its conversation read (a job, retried).
type Receipts interface {
	EnqueueReadReceipt(ctx context.Context, workspaceID, messageID domain.ID) error
}

// Settings keeps the inbox settings and the members' availability.
type Settings interface {
	AutoAssign(ctx context.Context, workspaceID domain.ID) (domain.AutoAssign, error)
	// SetAutoAssign changes the mode and returns the one before.
	SetAutoAssign(ctx context.Context, workspaceID domain.ID, mode domain.AutoAssign) (before domain.AutoAssign, err error)
	// SetAvailable changes a member's availability; KindNotFound for a non-member.
	SetAvailable(ctx context.Context, workspaceID, userID domain.ID, available bool) error
}

// Inbound is what a batch's inbound messages do to one conversation (a contact on a
// number).
type Inbound struct {
	WorkspaceID   domain.ID
	ContactID     domain.ID
	PhoneNumberID string
	Count         int       // messages, each unread
	LastAt        time.Time // the newest message's time ...
	Preview       string    // ... and its preview
	// InboundAt is the newest message the customer wrote (nil when all were system
	// notices): the service window runs domain.ServiceWindow from it.
	InboundAt *time.Time
}

// Opened is a conversation after inbound messages, and whether they opened it (created
// it, or reopened a resolved one), with the workspace's auto-assignment mode.
type Opened struct {
	Conversation domain.Conversation
	Opened       bool
	AutoAssign   domain.AutoAssign
}

// Assigner records inbound messages on their conversations and picks agents.
type Assigner interface {
	// Receive opens (or reopens) each conversation of ins (one per contact and number) and
	// counts its messages, in one statement, and returns them in any order.
	Receive(ctx context.Context, ins []Inbound, now time.Time) ([]Opened, error)
	// LockAutoAssign serializes auto-assignment in the workspace until the transaction
	// ends and returns the mode as it is now.
	LockAutoAssign(ctx context.Context, workspaceID domain.ID) (domain.AutoAssign, error)
	// PickAgent chooses an available agent by mode and records the choice (the round
	// robin's cursor); ok is false when no agent is available. Call it under the lock.
	PickAgent(ctx context.Context, workspaceID domain.ID, mode domain.AutoAssign) (agent domain.ID, ok bool, err error)
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Conversations Store
	Settings      Settings
	Assigner      Assigner
	Events        events.Log
	// Receipts queues Meta's read receipts (nil in unit tests that do not look at them).
	Receipts Receipts
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}
