package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// ConversationStatus is where a conversation stands in the inbox.
type ConversationStatus string

// The conversation statuses.
const (
	ConversationOpen     ConversationStatus = "open"
	ConversationPending  ConversationStatus = "pending"
	ConversationResolved ConversationStatus = "resolved"
)

// ParseConversationStatus reads a status as the API spells it.
func ParseConversationStatus(s string) (ConversationStatus, bool) {
	switch st := ConversationStatus(s); st {
	case ConversationOpen, ConversationPending, ConversationResolved:
		return st, true
	}
	return "", false
}

// AutoAssign is how a workspace assigns the conversations that inbound messages open.
type AutoAssign string

// The auto-assignment modes.
const (
	AutoAssignOff        AutoAssign = "off"
	AutoAssignRoundRobin AutoAssign = "round_robin" // the next available agent after the last one picked
	AutoAssignLeastBusy  AutoAssign = "least_busy"  // the available agent with the fewest open conversations
)

// ParseAutoAssign reads a mode as the API spells it.
func ParseAutoAssign(s string) (AutoAssign, bool) {
	switch m := AutoAssign(s); m {
	case AutoAssignOff, AutoAssignRoundRobin, AutoAssignLeastBusy:
		return m, true
	}
	return "", false
}

// Conversation is a contact's thread on one of the workspace's numbers.
type Conversation struct {
	ID                     ID
	WorkspaceID            ID
	ContactID              ID
	PhoneNumberID          string // Meta's id of the business number
	Status                 ConversationStatus
	AssignedTo             *ID
	UnreadCount            int
	LastMessageAt          time.Time
	LastMessagePreview     string
	LastInboundAt          *time.Time
	ServiceWindowExpiresAt *time.Time
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Arrival is an inbound message stored, as its conversation counts it.
type Arrival struct {
	Message Message
	// Touch: the customer wrote it (not a system notice), so it moves last_inbound_at and
	// the service window.
	Touch bool
}

// CanSendFreeform reports whether a message other than a template may be sent at now:
// inside the 24-hour window the customer's last message opened.
func (c Conversation) CanSendFreeform(now time.Time) bool {
	return c.ServiceWindowExpiresAt != nil && now.Before(*c.ServiceWindowExpiresAt)
}

// AssignedToUser reports whether the conversation is assigned to user.
func (c Conversation) AssignedToUser(user ID) bool {
	return c.AssignedTo != nil && *c.AssignedTo == user
}

// PreviewRunes is the length of a conversation's last-message preview.
const PreviewRunes = 100

// MessagePreview is what the inbox shows of a message: the first PreviewRunes runes of a
// text (or of a caption), "[image]" and the like for the rest.
func MessagePreview(typ string, content json.RawMessage) string {
	var c struct {
		Body    string `json:"body"`
		Caption string `json:"caption"`
		Text    *struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	_ = json.Unmarshal(content, &c) // a preview of a malformed body is its type alone
	text := c.Body
	if text == "" && c.Text != nil {
		text = c.Text.Body
	}
	if text == "" {
		text = c.Caption
	}
	text = strings.Join(strings.Fields(text), " ")
	switch {
	case typ == "text" && text != "":
		return TruncateRunes(text, PreviewRunes)
	case text != "":
		return TruncateRunes("["+typ+"] "+text, PreviewRunes)
	case typ == "":
		return ""
	}
	return "[" + typ + "]"
}

// Note is an internal note on a conversation; never sent to WhatsApp.
type Note struct {
	ID             ID
	WorkspaceID    ID
	ConversationID ID
	AuthorID       *ID
	Body           string
	CreatedAt      time.Time
}

// MaxNoteRunes bounds a note's body.
const MaxNoteRunes = 4096

// ConversationAssigned: a conversation (and its contact) was assigned, or unassigned
// (To nil). Auto says auto-assignment chose the agent.
type ConversationAssigned struct {
	ConversationID, ContactID ID
	From, To                  *ID
	Auto                      bool
}

func (ConversationAssigned) Kind() EventKind { return EventConversationAssigned }
func (e ConversationAssigned) Subject() Subject {
	s := audited("conversation", e.ConversationID.String(), map[string]any{
		"contact_id": e.ContactID.String(), "from": idString(e.From), "to": idString(e.To), "auto": e.Auto})
	s.ContactID = idRef(e.ContactID)
	return s
}

// ConversationStatusChanged: a conversation moved from one status to another.
type ConversationStatusChanged struct {
	ConversationID, ContactID ID
	Status, Previous          ConversationStatus
}

func (ConversationStatusChanged) Kind() EventKind { return EventConversationStatus }
func (e ConversationStatusChanged) Subject() Subject {
	s := audited("conversation", e.ConversationID.String(), map[string]any{
		"status": string(e.Status), "previous": string(e.Previous)})
	s.ContactID = idRef(e.ContactID)
	return s
}

// NoteCreated: a note was written on a conversation. The audit entry names the
// conversation, never the body (notes may hold what the customer told the agent).
type NoteCreated struct {
	NoteID, ConversationID, ContactID ID
}

func (NoteCreated) Kind() EventKind { return EventNoteCreated }
func (e NoteCreated) Subject() Subject {
	s := audited("note", e.NoteID.String(), map[string]any{"conversation_id": e.ConversationID.String()})
	s.ContactID = idRef(e.ContactID)
	return s
}

// InboxSettingsChanged: a workspace's auto-assignment mode changed.
type InboxSettingsChanged struct {
	WorkspaceID        ID
	AutoAssign, Before AutoAssign
}

func (InboxSettingsChanged) Kind() EventKind { return EventInboxSettingsChanged }
func (e InboxSettingsChanged) Subject() Subject {
	return audited("workspace", e.WorkspaceID.String(), map[string]any{
		"auto_assign": string(e.AutoAssign), "previous": string(e.Before)})
}

func idString(id *ID) any {
	if id == nil {
		return nil
	}
	return id.String()
}
