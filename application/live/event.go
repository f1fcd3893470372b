// Package live is the inbox's live events: every instance reads the event log as it grows
// (woken by Postgres NOTIFY, one listening connection per instance) and hands each
// workspace's events to the streams open on it, each filtered by what its caller may see.
// A stream that resumes reads what it missed from the log itself.
package live

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Names maps the log's kinds that streams carry to the event names clients receive
// (API.md "Team inbox").
var Names = map[domain.EventKind]string{
	domain.EventMessageReceived:          "message.created",
	domain.EventMessageQueued:            "message.created",
	domain.EventMessageStatusChanged:     "message.status_updated",
	domain.EventConversationStatus:       "conversation.updated",
	domain.EventConversationAssigned:     "conversation.assigned",
	domain.EventNoteCreated:              "note.created",
	domain.EventContactUpdated:           "contact.updated",
	domain.EventContactOptedOut:          "contact.updated",
	domain.EventContactOptedIn:           "contact.updated",
	domain.EventContactMarketingOptedOut: "contact.updated",
	domain.EventContactMarketingOptedIn:  "contact.updated",
	domain.EventCampaignCreated:          "campaign.updated",
	domain.EventCampaignUpdated:          "campaign.updated",
	domain.EventCampaignLaunched:         "campaign.updated",
	domain.EventCampaignPaused:           "campaign.updated",
	domain.EventCampaignResumed:          "campaign.updated",
	domain.EventCampaignCancelled:        "campaign.updated",
	domain.EventCampaignCompleted:        "campaign.updated",
}

// revoking are the kinds that end a member's streams at once: what the member may see
// changed (a new role, or none). They are read, not sent.
var revoking = []domain.EventKind{domain.EventMemberRemoved, domain.EventMemberRoleChanged}

// Kinds lists the log's kinds streams read, sorted: those they carry and the revoking ones.
func Kinds() []domain.EventKind {
	ks := slices.Clone(revoking)
	for k := range Names {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Entry is an event of the log with what decides who may see it, as they are now.
type Entry struct {
	events.Logged
	// ConversationID is the conversation the event concerns (a message's, a note's, the
	// conversation's own), nil when none.
	ConversationID *domain.ID
	// ConversationAssignee and ContactAssignee are who that conversation and the event's
	// contact are assigned to (nil: nobody, or no such row).
	ConversationAssignee *domain.ID
	ContactAssignee      *domain.ID
}

// Event is what a stream sends: its id, name and JSON data, with its workspace and who
// may see it. Events are shared by every stream: never modified once built.
type Event struct {
	Pos  events.Position
	Name string
	Data []byte
	At   time.Time

	workspace domain.ID
	// revokes, on a membership change (never sent), is the member whose streams end.
	revokes *domain.ID
	// What an agent may see of it: the conversation's assignee under the conversations'
	// rule when it is about one (conversation), else the contact's under the contacts'
	// rule; and an assignment from or to them (parties).
	assignee     *domain.ID
	conversation bool
	parties      []domain.ID
}

// ID is the event's id on the wire (SSE `id:`), which Last-Event-ID gives back.
func (e *Event) ID() string { return FormatID(e.Pos) }

// FormatID writes a position as an event id: "<transaction>-<id>".
func FormatID(p events.Position) string {
	return strconv.FormatUint(p.Tx, 10) + "-" + strconv.FormatInt(p.ID, 10)
}

// ParseID reads an event id; ok is false for anything FormatID did not write.
func ParseID(s string) (events.Position, bool) {
	tx, id, found := strings.Cut(s, "-")
	if !found || len(s) > 41 {
		return events.Position{}, false
	}
	t, err1 := strconv.ParseUint(tx, 10, 64)
	i, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || i <= 0 || t == 0 {
		return events.Position{}, false
	}
	return events.Position{Tx: t, ID: i}, true
}

// data is an event's JSON on the wire.
type data struct {
	Kind           domain.EventKind `json:"kind"`
	At             time.Time        `json:"at"`
	ConversationID *domain.ID       `json:"conversation_id"`
	ContactID      *domain.ID       `json:"contact_id"`
	MessageID      *domain.ID       `json:"message_id"`
	CampaignID     *domain.ID       `json:"campaign_id,omitempty"` // campaign events
	Details        json.RawMessage  `json:"details"`
}

// build makes the event a stream sends of e (or, for a membership change, the one that
// ends the member's streams); ok is false for a kind streams neither carry nor heed.
func build(e Entry) (*Event, bool, error) {
	if e.WorkspaceID.IsZero() {
		return nil, false, nil
	}
	if slices.Contains(revoking, e.Kind) {
		user, err := domain.ParseID(e.ResourceID)
		if err != nil {
			return nil, false, nil
		}
		return &Event{Pos: e.Position(), workspace: e.WorkspaceID, revokes: &user}, true, nil
	}
	name, ok := Names[e.Kind]
	if !ok {
		return nil, false, nil
	}
	details := e.Payload
	if len(details) == 0 {
		details = json.RawMessage(`{}`)
	}
	d := data{Kind: e.Kind, At: e.At.UTC(), ConversationID: e.ConversationID, ContactID: e.ContactID, MessageID: e.MessageID,
		Details: details}
	if id, err := domain.ParseID(e.ResourceID); err == nil && e.ResourceType == "campaign" {
		d.CampaignID = &id
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, false, fmt.Errorf("event %s: %w", FormatID(e.Position()), err)
	}
	ev := &Event{Pos: e.Position(), Name: name, Data: b, At: e.At, workspace: e.WorkspaceID}
	if ev.conversation = e.ConversationID != nil; ev.conversation {
		ev.assignee = e.ConversationAssignee
	} else {
		// A contact's (a campaign event has no contact: no agent sees it, as agents do not
		// read campaigns).
		ev.assignee = e.ContactAssignee
	}
	if e.Kind == domain.EventConversationAssigned {
		var p struct{ From, To *domain.ID }
		if json.Unmarshal(e.Payload, &p) == nil {
			for _, id := range []*domain.ID{p.From, p.To} {
				if id != nil {
					ev.parties = append(ev.parties, *id)
				}
			}
		}
	}
	return ev, true, nil
}

// Viewer is who a stream is for: a workspace, the caller, and for an agent, the agent.
type Viewer struct {
	Workspace domain.ID
	User      domain.ID // the user or API key
	Agent     *domain.ID
}

// Sees reports whether the viewer may receive e.
func (v Viewer) Sees(e *Event) bool {
	if e.workspace != v.Workspace || e.revokes != nil {
		return false
	}
	if v.Agent == nil || slices.Contains(e.parties, *v.Agent) {
		return true
	}
	if e.conversation {
		return conversations.View{Agent: v.Agent}.Allows(domain.Conversation{AssignedTo: e.assignee})
	}
	return contacts.View{AssignedTo: v.Agent}.Allows(domain.Contact{AssignedTo: e.assignee})
}
