package automation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// Settings are a workspace's working hours and its away and welcome messages (zero values
// when it set none).
type Settings struct {
	Hours   domain.WorkingHours
	Away    domain.AutoReply
	Welcome domain.AutoReply
}

// Trigger is an inbound message as the automations weigh it, with what the rails need
// to know of its contact at the time of evaluation.
type Trigger struct {
	MessageID     domain.ID
	ContactID     domain.ID
	PhoneNumberID string
	Direction     domain.Direction
	Type          string
	Content       json.RawMessage
	OptedOut      bool
	// WindowExpiresAt is the end of the contact's 24-hour service window (nil: never opened).
	WindowExpiresAt *time.Time
	// RepliesSince is how many automatic replies the contact got after the time asked for.
	RepliesSince int
	// WroteBefore is whether the contact sent an inbound message before this one.
	WroteBefore bool
	// LastAway is when the conversation (contact and number) last got the away message.
	LastAway *time.Time
	// Done are the automations already recorded for this message (a retried evaluation).
	Done []string
	// Tags and Attributes are the contact's when the message was read.
	Tags       []string
	Attributes map[string]any
}

// Store reads what the automations need (outside transactions) and records the automatic
// actions that sent no message.
type Store interface {
	Settings(ctx context.Context, ws domain.ID) (Settings, error)
	// Rules returns the workspace's rules, in any order.
	Rules(ctx context.Context, ws domain.ID) ([]domain.Rule, error)
	// Rule returns one rule; KindNotFound when the workspace has none with that id.
	Rule(ctx context.Context, ws, id domain.ID) (domain.Rule, error)
	// Trigger reads an inbound message and its contact's state, counting the contact's
	// automatic replies after since; ok is false when the message is gone.
	Trigger(ctx context.Context, ws, messageID domain.ID, since time.Time) (t Trigger, ok bool, err error)
	// Triggers is Trigger of many messages of the workspace at once, by message id (the
	// messages gone are not in it).
	Triggers(ctx context.Context, ws domain.ID, messageIDs []domain.ID, since time.Time) (map[domain.ID]Trigger, error)
	// ConversationOf is the conversation of a contact on a number; ok is false for none.
	ConversationOf(ctx context.Context, ws, contactID domain.ID, phoneNumberID string) (id domain.ID, ok bool, err error)
	// RecordAll stores automations' handlings of messages that sent nothing (MessageID
	// nil), at once; one already there is kept, and a handling of a contact deleted
	// meanwhile is left out.
	RecordAll(ctx context.Context, rs []domain.AutomaticReply) error
}

// SettingsWriter changes the settings in the current transaction.
type SettingsWriter interface {
	SetWorkingHours(ctx context.Context, ws domain.ID, w domain.WorkingHours, at time.Time) error
	// SetAutoReply sets the away (domain.AutomationAway) or welcome message.
	SetAutoReply(ctx context.Context, ws domain.ID, name string, a domain.AutoReply, at time.Time) error
}

// RuleWriter changes rules in the current transaction.
type RuleWriter interface {
	// LockRules serializes rule changes of the workspace and says how many rules it has.
	LockRules(ctx context.Context, ws domain.ID) (int, error)
	CreateRule(ctx context.Context, r domain.Rule) error
	// LockRule reads a rule for update; KindNotFound when there is none.
	LockRule(ctx context.Context, ws, id domain.ID) (domain.Rule, error)
	UpdateRule(ctx context.Context, r domain.Rule) error
	DeleteRule(ctx context.Context, ws, id domain.ID) error
}

// Repos is what a transaction offers the settings and rule use cases.
type Repos struct {
	Settings SettingsWriter
	Rules    RuleWriter
	Events   events.Log
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Sender queues an automation's message: the send use case every outbound message takes.
type Sender interface {
	SendAutomatic(ctx context.Context, ws domain.ID, in messaging.SendInput) (domain.Message, error)
}

// Assigner assigns a conversation: the inbox's use case.
type Assigner interface {
	Assign(ctx context.Context, c domain.Caller, id domain.ID, user *domain.ID) (conversations.Item, error)
}

// Contacts changes contacts: the contacts' use case.
type Contacts interface {
	Apply(ctx context.Context, c domain.Caller, changes []contacts.Change) ([]contacts.Refused, error)
}
