package domain

import "time"

// EventKind names a fact. For the facts the audit trail keeps it is also the audit action
// (resource.verb in the past tense).
type EventKind string

// The event kinds. EventKinds lists them all.
const (
	EventMessageReceived              EventKind = "message.received"
	EventMessageQueued                EventKind = "message.queued"
	EventMessageStatusChanged         EventKind = "message.status"
	EventContactCreated               EventKind = "contact.created"
	EventContactUpdated               EventKind = "contact.updated"
	EventContactDeleted               EventKind = "contact.deleted"
	EventContactImported              EventKind = "contact.imported"
	EventContactOptedOut              EventKind = "contact.opted_out"
	EventContactOptedIn               EventKind = "contact.opted_in"
	EventContactMarketingOptedOut     EventKind = "contact.marketing_opted_out"
	EventContactMarketingOptedIn      EventKind = "contact.marketing_opted_in"
	EventWorkspaceCreated             EventKind = "workspace.created"
	EventWorkspaceUpdated             EventKind = "workspace.updated"
	EventWorkspacePlanChanged         EventKind = "workspace.plan_changed"
	EventMemberAdded                  EventKind = "member.added"
	EventMemberRoleChanged            EventKind = "member.role_changed"
	EventMemberRemoved                EventKind = "member.removed"
	EventAPIKeyCreated                EventKind = "apikey.created"
	EventAPIKeyRevoked                EventKind = "apikey.revoked"
	EventNumberConnected              EventKind = "whatsapp.connected"
	EventNumberConnectFailed          EventKind = "whatsapp.connect_failed"
	EventTokenKeyRotated              EventKind = "vault.key_rotated"
	EventLoginFailed                  EventKind = "auth.login_failed"
	EventRefreshTokenReused           EventKind = "auth.refresh_reused"
	EventPasswordChanged              EventKind = "auth.password_changed"
	EventPasswordReset                EventKind = "auth.password_reset"
	EventInvitationCreated            EventKind = "invitation.created"
	EventInvitationAccepted           EventKind = "invitation.accepted"
	EventInvitationRevoked            EventKind = "invitation.revoked"
	EventWorkspaceDeleted             EventKind = "workspace.deleted"
	EventTemplateCreated              EventKind = "template.created"
	EventTemplateDeleted              EventKind = "template.deleted"
	EventTemplateStatusChanged        EventKind = "template.status_changed"
	EventMessagingSettingsChanged     EventKind = "workspace.messaging_settings_changed"
	EventConversationAssigned         EventKind = "conversation.assigned"
	EventConversationStatus           EventKind = "conversation.status_changed"
	EventNoteCreated                  EventKind = "note.created"
	EventInboxSettingsChanged         EventKind = "workspace.inbox_settings_changed"
	EventCampaignCreated              EventKind = "campaign.created"
	EventCampaignUpdated              EventKind = "campaign.updated"
	EventCampaignLaunched             EventKind = "campaign.launched"
	EventCampaignPaused               EventKind = "campaign.paused"
	EventCampaignResumed              EventKind = "campaign.resumed"
	EventCampaignCancelled            EventKind = "campaign.cancelled"
	EventCampaignCompleted            EventKind = "campaign.completed"
	EventBillingCredited              EventKind = "billing.credited"
	EventBillingModeChanged           EventKind = "billing.mode_changed"
	EventRateCardUpdated              EventKind = "rate_card.updated"
	EventAutomationRuleCreated        EventKind = "automation_rule.created"
	EventAutomationRuleUpdated        EventKind = "automation_rule.updated"
	EventAutomationRuleDeleted        EventKind = "automation_rule.deleted"
	EventWorkingHoursUpdated          EventKind = "working_hours.updated"
	EventAutomationSettingsUpdated    EventKind = "automation_settings.updated"
	EventWebhookEndpointCreated       EventKind = "webhook_endpoint.created"
	EventWebhookEndpointUpdated       EventKind = "webhook_endpoint.updated"
	EventWebhookEndpointDeleted       EventKind = "webhook_endpoint.deleted"
	EventWebhookEndpointSecretRotated EventKind = "webhook_endpoint.secret_rotated"
	EventWebhookEndpointDisabled      EventKind = "webhook_endpoint.disabled"
)

// EventKinds is every kind, in the order above.
var EventKinds = []EventKind{
	EventMessageReceived, EventMessageQueued, EventMessageStatusChanged,
	EventContactCreated, EventContactUpdated, EventContactDeleted, EventContactImported, EventContactOptedOut, EventContactOptedIn,
	EventContactMarketingOptedOut, EventContactMarketingOptedIn,
	EventWorkspaceCreated, EventWorkspaceUpdated, EventWorkspacePlanChanged,
	EventMemberAdded, EventMemberRoleChanged, EventMemberRemoved, EventAPIKeyCreated, EventAPIKeyRevoked,
	EventNumberConnected, EventNumberConnectFailed, EventTokenKeyRotated, EventLoginFailed,
	EventRefreshTokenReused, EventPasswordChanged, EventPasswordReset,
	EventInvitationCreated, EventInvitationAccepted, EventInvitationRevoked, EventWorkspaceDeleted,
	EventTemplateCreated, EventTemplateDeleted, EventTemplateStatusChanged, EventMessagingSettingsChanged,
	EventConversationAssigned, EventConversationStatus, EventNoteCreated, EventInboxSettingsChanged,
	EventCampaignCreated, EventCampaignUpdated, EventCampaignLaunched, EventCampaignPaused, EventCampaignResumed,
	EventCampaignCancelled, EventCampaignCompleted,
	EventBillingCredited, EventBillingModeChanged, EventRateCardUpdated,
	EventAutomationRuleCreated, EventAutomationRuleUpdated, EventAutomationRuleDeleted, EventWorkingHoursUpdated,
	EventAutomationSettingsUpdated,
	EventWebhookEndpointCreated, EventWebhookEndpointUpdated, EventWebhookEndpointDeleted, EventWebhookEndpointSecretRotated,
	EventWebhookEndpointDisabled,
}

// Event is a typed fact the domain and the use cases report. A change appends its events
// to the event log in its own transaction; the audit trail and the inbox feed are both
// written from them, so every path that causes a fact (an API call, a webhook, a worker)
// leaves the same record.
type Event interface {
	Kind() EventKind
	// Subject is what the fact is about, and what it says.
	Subject() Subject
}

// Subject is what an event is about and what it says: the resource (as the audit trail
// names it), the contact and message it concerns (for the inbox feed), and its details
// (the audit entry's details and the log's payload; never secrets).
type Subject struct {
	ResourceType string
	ResourceID   string
	ContactID    *ID
	MessageID    *ID
	Details      map[string]any
	// Audited is false for the high-volume facts of the message flow (a message received,
	// a status reported): the log keeps them, the audit trail records actions.
	Audited bool
}

// Occurrence is an event with who caused it and when: one entry of the event log.
type Occurrence struct {
	Actor Caller // its WorkspaceID is the event's workspace (NilID outside any)
	At    time.Time
	Event Event
}

// Occurred records that actor caused e at at.
func Occurred(actor Caller, at time.Time, e Event) Occurrence {
	return Occurrence{Actor: actor, At: at.UTC(), Event: e}
}

// WorkspaceID is the workspace the event belongs to.
func (o Occurrence) WorkspaceID() ID { return o.Actor.WorkspaceID }

// AuditEntry is the audit trail's record of o; ok is false for the kinds it does not keep.
func (o Occurrence) AuditEntry() (e AuditEntry, ok bool) {
	s := o.Event.Subject()
	if !s.Audited {
		return AuditEntry{}, false
	}
	return NewAuditEntry(o.Actor, string(o.Event.Kind()), s.ResourceType, s.ResourceID, s.Details, o.At), true
}

func idRef(id ID) *ID { return &id }

// MessageReceived: a customer's message was stored (once per wamid).
type MessageReceived struct {
	MessageID, ContactID ID
	WAMID, Type          string
}

func (MessageReceived) Kind() EventKind { return EventMessageReceived }
func (e MessageReceived) Subject() Subject {
	return Subject{ResourceType: "message", ResourceID: e.MessageID.String(), ContactID: idRef(e.ContactID),
		MessageID: idRef(e.MessageID), Details: map[string]any{"wamid": e.WAMID, "type": e.Type}}
}

// MessageQueued: an outbound message was accepted for sending. Automation names the
// automation that sent it (a rule's id, AutomationAway or AutomationWelcome), with the
// inbound message it answered (Trigger); both empty for any other message.
type MessageQueued struct {
	MessageID, ContactID ID
	Type, PhoneNumberID  string
	Automation           string
	Trigger              *ID
}

func (MessageQueued) Kind() EventKind { return EventMessageQueued }
func (e MessageQueued) Subject() Subject {
	d := map[string]any{"contact_id": e.ContactID.String(), "type": e.Type, "phone_number_id": e.PhoneNumberID}
	if e.Automation != "" {
		d["automation"] = e.Automation
		if e.Trigger != nil {
			d["trigger_message_id"] = e.Trigger.String()
		}
	}
	return Subject{ResourceType: "message", ResourceID: e.MessageID.String(), ContactID: idRef(e.ContactID),
		MessageID: idRef(e.MessageID), Audited: true, Details: d}
}

// MessageStatusChanged: a status report was applied to an outbound message (Reported is
// what Meta said, Status what the message now is: a late report does not move it back).
type MessageStatusChanged struct {
	MessageID, ContactID ID
	WAMID, Reported      string
	Status, Previous     MessageStatus
	// Type is the message's type and Error why it failed, where known (the customer
	// webhooks show them).
	Type  string
	Error *MessageError
}

func (MessageStatusChanged) Kind() EventKind { return EventMessageStatusChanged }
func (e MessageStatusChanged) Subject() Subject {
	d := map[string]any{"wamid": e.WAMID, "reported": e.Reported, "status": string(e.Status), "previous": string(e.Previous)}
	if e.Type != "" {
		d["type"] = e.Type
	}
	if e.Error != nil && e.Status == StatusFailed {
		d["error"] = map[string]any{"code": e.Error.Code, "title": e.Error.Title, "detail": e.Error.Detail}
	}
	return Subject{ResourceType: "message", ResourceID: e.MessageID.String(), ContactID: idRef(e.ContactID),
		MessageID: idRef(e.MessageID), Details: d}
}

// ContactCreated: a contact was created; Source is "" for the contacts API and "message"
// for a send to a new number.
type ContactCreated struct {
	ContactID     ID
	Phone, Source string
}

func (ContactCreated) Kind() EventKind { return EventContactCreated }
func (e ContactCreated) Subject() Subject {
	d := map[string]any{"phone": e.Phone}
	if e.Source != "" {
		d["source"] = e.Source
	}
	return contactSubject(e.ContactID, d)
}

// ContactUpdated: fields of a contact were changed.
type ContactUpdated struct {
	ContactID ID
	Fields    []string
}

func (ContactUpdated) Kind() EventKind { return EventContactUpdated }
func (e ContactUpdated) Subject() Subject {
	return contactSubject(e.ContactID, map[string]any{"fields": e.Fields})
}

// ContactDeleted: a contact was erased with its messages and its feed entries.
type ContactDeleted struct {
	ContactID ID
	Phone     string
}

func (ContactDeleted) Kind() EventKind { return EventContactDeleted }

// Subject names the contact only as the resource: erasure leaves no feed entry pointing
// at it.
func (e ContactDeleted) Subject() Subject {
	return audited("contact", e.ContactID.String(), map[string]any{"phone": e.Phone})
}

// ContactImported: a contact list (CSV) was imported, with what became of its lines. One
// event for the whole list: its contacts get no contact.created or contact.updated each.
type ContactImported struct {
	// Accepted lines were imported: Created + Updated + Unchanged + Duplicates.
	Accepted, Created, Updated, Unchanged, Duplicates int
	// Rejected lines were refused (invalid, or attributes over the limit once merged).
	Rejected int
}

func (ContactImported) Kind() EventKind { return EventContactImported }

// Subject names no contact: the import concerns many, so it has no inbox feed entry.
func (e ContactImported) Subject() Subject {
	return audited("contact", "", map[string]any{"accepted": e.Accepted, "created": e.Created, "updated": e.Updated,
		"unchanged": e.Unchanged, "duplicates": e.Duplicates, "rejected": e.Rejected})
}

// OptChange is what opting a contact out or back in says: by what means, and for a
// keyword, the message that carried it and the confirmation queued in reply.
type OptChange struct {
	ContactID ID
	Source    OptOutSource
	// Keyword only.
	Trigger        *ID
	WAMID          string
	ConfirmationID *ID
}

func (c OptChange) subject() Subject {
	d := map[string]any{"source": string(c.Source)}
	if c.Trigger != nil {
		d["wamid"], d["message_id"] = c.WAMID, c.Trigger.String()
	}
	if c.ConfirmationID != nil {
		d["confirmation_message_id"] = c.ConfirmationID.String()
	}
	s := contactSubject(c.ContactID, d)
	s.MessageID = c.Trigger
	return s
}

// ContactOptedOut: a contact opted out of everything (keyword, button or API).
type ContactOptedOut struct{ OptChange }

func (ContactOptedOut) Kind() EventKind    { return EventContactOptedOut }
func (e ContactOptedOut) Subject() Subject { return e.subject() }

// ContactOptedIn: a contact's opt-out was lifted (START, or the API for an API opt-out).
type ContactOptedIn struct{ OptChange }

func (ContactOptedIn) Kind() EventKind    { return EventContactOptedIn }
func (e ContactOptedIn) Subject() Subject { return e.subject() }

// MarketingChange is what Meta's user_preferences event says of a contact: which
// category of messages it stopped or resumed.
type MarketingChange struct {
	ContactID ID
	Category  string
}

func (c MarketingChange) subject() Subject {
	return contactSubject(c.ContactID, map[string]any{"source": "user_preferences", "category": c.Category})
}

// ContactMarketingOptedOut: Meta reported the user stopped marketing messages.
type ContactMarketingOptedOut struct{ MarketingChange }

func (ContactMarketingOptedOut) Kind() EventKind    { return EventContactMarketingOptedOut }
func (e ContactMarketingOptedOut) Subject() Subject { return e.subject() }

// ContactMarketingOptedIn: Meta reported the user resumed marketing messages.
type ContactMarketingOptedIn struct{ MarketingChange }

func (ContactMarketingOptedIn) Kind() EventKind    { return EventContactMarketingOptedIn }
func (e ContactMarketingOptedIn) Subject() Subject { return e.subject() }

func contactSubject(id ID, details map[string]any) Subject {
	return Subject{ResourceType: "contact", ResourceID: id.String(), ContactID: idRef(id), Details: details, Audited: true}
}

// FromTo is a field's old and new value.
type FromTo[T any] struct{ From, To T }

func (c FromTo[T]) details() map[string]any { return map[string]any{"from": c.From, "to": c.To} }

// WorkspaceCreated: a workspace was created (its creator became its owner).
type WorkspaceCreated struct {
	WorkspaceID ID
	Name        string
	Plan        Plan
}

func (WorkspaceCreated) Kind() EventKind { return EventWorkspaceCreated }
func (e WorkspaceCreated) Subject() Subject {
	return audited("workspace", e.WorkspaceID.String(), map[string]any{"name": e.Name, "plan": string(e.Plan)})
}

// WorkspaceRenamed: a workspace's name changed.
type WorkspaceRenamed struct {
	WorkspaceID ID
	Name        FromTo[string]
}

func (WorkspaceRenamed) Kind() EventKind { return EventWorkspaceUpdated }
func (e WorkspaceRenamed) Subject() Subject {
	return audited("workspace", e.WorkspaceID.String(), map[string]any{"name": e.Name.details()})
}

// WorkspacePlanChanged: the operator changed a workspace's plan.
type WorkspacePlanChanged struct {
	WorkspaceID ID
	Plan        FromTo[string]
}

func (WorkspacePlanChanged) Kind() EventKind { return EventWorkspacePlanChanged }
func (e WorkspacePlanChanged) Subject() Subject {
	return audited("workspace", e.WorkspaceID.String(), map[string]any{"plan": e.Plan.details()})
}

// MemberAdded: a user became a member with a role.
type MemberAdded struct {
	UserID      ID
	Email, Role string
}

func (MemberAdded) Kind() EventKind { return EventMemberAdded }
func (e MemberAdded) Subject() Subject {
	return audited("member", e.UserID.String(), map[string]any{"email": e.Email, "role": e.Role})
}

// MemberRoleChanged: a member's role changed.
type MemberRoleChanged struct {
	UserID ID
	Role   FromTo[string]
}

func (MemberRoleChanged) Kind() EventKind { return EventMemberRoleChanged }
func (e MemberRoleChanged) Subject() Subject {
	return audited("member", e.UserID.String(), map[string]any{"from": e.Role.From, "to": e.Role.To})
}

// MemberRemoved: a member left the workspace.
type MemberRemoved struct {
	UserID      ID
	Email, Role string
}

func (MemberRemoved) Kind() EventKind { return EventMemberRemoved }
func (e MemberRemoved) Subject() Subject {
	return audited("member", e.UserID.String(), map[string]any{"email": e.Email, "role": e.Role})
}

// APIKeyCreated: an API key was issued.
type APIKeyCreated struct {
	KeyID      ID
	Name, Role string
}

func (APIKeyCreated) Kind() EventKind { return EventAPIKeyCreated }
func (e APIKeyCreated) Subject() Subject {
	return audited("api_key", e.KeyID.String(), map[string]any{"name": e.Name, "role": e.Role})
}

// APIKeyRevoked: an API key was revoked.
type APIKeyRevoked struct{ KeyID ID }

func (APIKeyRevoked) Kind() EventKind    { return EventAPIKeyRevoked }
func (e APIKeyRevoked) Subject() Subject { return audited("api_key", e.KeyID.String(), nil) }

// WhatsAppConnected: onboarding finished: the number can send and receive.
type WhatsAppConnected struct {
	NumberID                                  ID
	PhoneNumberID, WABAID, DisplayPhoneNumber string
}

func (WhatsAppConnected) Kind() EventKind { return EventNumberConnected }
func (e WhatsAppConnected) Subject() Subject {
	return audited("phone_number", e.NumberID.String(), map[string]any{"phone_number_id": e.PhoneNumberID,
		"waba_id": e.WABAID, "display_phone_number": e.DisplayPhoneNumber})
}

// WhatsAppConnectFailed: an onboarding step failed for good.
type WhatsAppConnectFailed struct {
	NumberID                    ID
	PhoneNumberID, Step, Reason string
}

func (WhatsAppConnectFailed) Kind() EventKind { return EventNumberConnectFailed }
func (e WhatsAppConnectFailed) Subject() Subject {
	return audited("phone_number", e.NumberID.String(), map[string]any{"phone_number_id": e.PhoneNumberID,
		"step": e.Step, "reason": e.Reason})
}

// TokenKeyRotated: a number's sealed access token was re-sealed under a new key.
type TokenKeyRotated struct {
	NumberID ID
	Key      FromTo[string]
}

func (TokenKeyRotated) Kind() EventKind { return EventTokenKeyRotated }
func (e TokenKeyRotated) Subject() Subject {
	return audited("phone_number", e.NumberID.String(), map[string]any{"from_key_id": e.Key.From, "to_key_id": e.Key.To})
}

// HookSecretKeyRotated: a webhook endpoint's sealed signing secrets (the current one, and
// a rotated-out one still signing) were re-sealed under a new key. The same kind as a
// number's (vault.key_rotated), about the endpoint.
type HookSecretKeyRotated struct {
	EndpointID ID
	Key        FromTo[string]
}

func (HookSecretKeyRotated) Kind() EventKind { return EventTokenKeyRotated }
func (e HookSecretKeyRotated) Subject() Subject {
	return audited("webhook_endpoint", e.EndpointID.String(), map[string]any{"from_key_id": e.Key.From, "to_key_id": e.Key.To})
}

// LoginFailed: a login was refused (outside any workspace; UserID is zero for an unknown
// email).
type LoginFailed struct {
	UserID ID
	Email  string
}

func (LoginFailed) Kind() EventKind { return EventLoginFailed }
func (e LoginFailed) Subject() Subject {
	return audited("user", e.UserID.StringOrEmpty(), map[string]any{"email": e.Email})
}

// RefreshTokenReused: a spent refresh token was presented again, so the session it belonged
// to was revoked (the token was likely stolen). Outside any workspace.
type RefreshTokenReused struct{ UserID, SessionID ID }

func (RefreshTokenReused) Kind() EventKind { return EventRefreshTokenReused }
func (e RefreshTokenReused) Subject() Subject {
	return audited("user", e.UserID.String(), map[string]any{"session_id": e.SessionID.String()})
}

// PasswordSet is what setting a password says: whose, and how many of their sessions
// were revoked with it.
type PasswordSet struct {
	UserID          ID
	SessionsRevoked int
}

func (p PasswordSet) subject() Subject {
	return audited("user", p.UserID.String(), map[string]any{"sessions_revoked": p.SessionsRevoked})
}

// PasswordChanged: a user changed their password; their other sessions were revoked.
type PasswordChanged struct{ PasswordSet }

func (PasswordChanged) Kind() EventKind    { return EventPasswordChanged }
func (e PasswordChanged) Subject() Subject { return e.subject() }

// PasswordReset: a password was set through a reset link; every session was revoked.
type PasswordReset struct{ PasswordSet }

func (PasswordReset) Kind() EventKind    { return EventPasswordReset }
func (e PasswordReset) Subject() Subject { return e.subject() }

// InvitationCreated: someone was invited, by email, to join the workspace with a role.
type InvitationCreated struct {
	InvitationID ID
	Email, Role  string
	ExpiresAt    time.Time
}

func (InvitationCreated) Kind() EventKind { return EventInvitationCreated }
func (e InvitationCreated) Subject() Subject {
	return audited("invitation", e.InvitationID.String(), map[string]any{"email": e.Email, "role": e.Role,
		"expires_at": e.ExpiresAt.UTC().Format(time.RFC3339)})
}

// InvitationAccepted: the invitee accepted and became a member.
type InvitationAccepted struct {
	InvitationID, UserID ID
	Email, Role          string
}

func (InvitationAccepted) Kind() EventKind { return EventInvitationAccepted }
func (e InvitationAccepted) Subject() Subject {
	return audited("invitation", e.InvitationID.String(), map[string]any{"user_id": e.UserID.String(),
		"email": e.Email, "role": e.Role})
}

// InvitationRevoked: an open invitation was withdrawn; its token stopped working.
type InvitationRevoked struct {
	InvitationID ID
	Email        string
}

func (InvitationRevoked) Kind() EventKind { return EventInvitationRevoked }
func (e InvitationRevoked) Subject() Subject {
	return audited("invitation", e.InvitationID.String(), map[string]any{"email": e.Email})
}

// WorkspaceDeleted: an owner deleted the workspace. Its data is erased in the background;
// this entry (in the event log and the audit trail) is what is kept of it.
type WorkspaceDeleted struct {
	WorkspaceID ID
	Name        string
}

func (WorkspaceDeleted) Kind() EventKind { return EventWorkspaceDeleted }
func (e WorkspaceDeleted) Subject() Subject {
	return audited("workspace", e.WorkspaceID.String(), map[string]any{"name": e.Name})
}

// TemplateCreated: a template was submitted to Meta for review.
type TemplateCreated struct {
	TemplateID                               ID
	WABAID, Name, Language, Category, Status string
}

func (TemplateCreated) Kind() EventKind { return EventTemplateCreated }
func (e TemplateCreated) Subject() Subject {
	return audited("template", e.TemplateID.String(), map[string]any{"waba_id": e.WABAID, "name": e.Name,
		"language": e.Language, "category": e.Category, "status": e.Status})
}

// TemplateDeleted: a template was deleted (at Meta too).
type TemplateDeleted struct {
	TemplateID             ID
	WABAID, Name, Language string
}

func (TemplateDeleted) Kind() EventKind { return EventTemplateDeleted }
func (e TemplateDeleted) Subject() Subject {
	return audited("template", e.TemplateID.String(), map[string]any{"waba_id": e.WABAID, "name": e.Name, "language": e.Language})
}

// TemplateStatusChanged: Meta reported a new status, quality rating or category of a
// template (a webhook or a sync). Only the fields that changed are set.
type TemplateStatusChanged struct {
	TemplateID                ID
	Name, Language            string
	Status, Quality, Category *FromTo[string]
	RejectedReason            string
}

func (TemplateStatusChanged) Kind() EventKind { return EventTemplateStatusChanged }
func (e TemplateStatusChanged) Subject() Subject {
	d := map[string]any{"name": e.Name, "language": e.Language}
	for k, v := range map[string]*FromTo[string]{"status": e.Status, "quality_rating": e.Quality, "category": e.Category} {
		if v != nil {
			d[k] = v.details()
		}
	}
	if e.RejectedReason != "" {
		d["rejected_reason"] = e.RejectedReason
	}
	return audited("template", e.TemplateID.String(), d)
}

// MessagingSettingsChanged: a workspace's messaging settings (caps, keywords) changed.
type MessagingSettingsChanged struct {
	WorkspaceID ID
	Fields      []string
}

func (MessagingSettingsChanged) Kind() EventKind { return EventMessagingSettingsChanged }
func (e MessagingSettingsChanged) Subject() Subject {
	return audited("workspace", e.WorkspaceID.String(), map[string]any{"fields": e.Fields})
}

func audited(resourceType, id string, details map[string]any) Subject {
	return Subject{ResourceType: resourceType, ResourceID: id, Details: details, Audited: true}
}

// CampaignCreated: a campaign was created, as a draft or scheduled.
type CampaignCreated struct {
	CampaignID                            ID
	Name, PhoneNumberID, Template, Status string
}

func (CampaignCreated) Kind() EventKind { return EventCampaignCreated }
func (e CampaignCreated) Subject() Subject {
	return audited("campaign", e.CampaignID.String(), map[string]any{"name": e.Name, "phone_number_id": e.PhoneNumberID,
		"template": e.Template, "status": e.Status})
}

// CampaignUpdated: a draft or scheduled campaign was edited (Fields are the API's names
// of what changed); Status is what it is after the edit. A list of recipients uploaded
// is one such edit, of fields ["recipients"], with what the upload did.
type CampaignUpdated struct {
	CampaignID ID
	Fields     []string
	Status     CampaignStatus
	Upload     *RecipientUpload
}

// RecipientUpload is what a recipient list uploaded to a campaign did: its lines accepted
// and rejected, the contacts it created and updated (it gets no contact.imported), and
// the recipients the campaign gained.
type RecipientUpload struct {
	Accepted, Rejected, Created, Updated, Added int
}

func (CampaignUpdated) Kind() EventKind { return EventCampaignUpdated }
func (e CampaignUpdated) Subject() Subject {
	details := map[string]any{"fields": e.Fields, "status": string(e.Status)}
	if u := e.Upload; u != nil {
		details["accepted"], details["rejected"], details["created"], details["updated"], details["added"] =
			u.Accepted, u.Rejected, u.Created, u.Updated, u.Added
	}
	return audited("campaign", e.CampaignID.String(), details)
}

// campaignMoveKinds are the event kinds of the status moves.
var campaignMoveKinds = map[CampaignAction]EventKind{
	CampaignLaunch: EventCampaignLaunched, CampaignPause: EventCampaignPaused, CampaignResume: EventCampaignResumed,
	CampaignCancel: EventCampaignCancelled, CampaignComplete: EventCampaignCompleted,
}

// CampaignMoved: a campaign's status moved by Action, each action its own kind:
// launched (running, with the Recipients of the audience taken then; or scheduled until
// ScheduledAt, and then launched again by the system when it starts), paused (Reason:
// by hand or a stop rule), resumed (running, or scheduled when its time has not come),
// cancelled (Skipped recipients were never sent to) and completed (with its Stats).
type CampaignMoved struct {
	CampaignID  ID
	Action      CampaignAction
	Status      CampaignStatus // after the move
	Reason      PauseReason
	Recipients  int
	ScheduledAt *time.Time
	Skipped     int
	Stats       CampaignStats
	Split       bool // a launch with split
}

func (e CampaignMoved) Kind() EventKind { return campaignMoveKinds[e.Action] }
func (e CampaignMoved) Subject() Subject {
	d := map[string]any{"status": string(e.Status)}
	switch e.Action {
	case CampaignLaunch:
		if e.Status == CampaignRunning {
			d["recipients"] = e.Recipients
		}
		if e.ScheduledAt != nil {
			d["scheduled_at"] = e.ScheduledAt.UTC().Format(time.RFC3339)
		}
		if e.Split {
			d["split"] = true
		}
	case CampaignPause:
		d["reason"] = string(e.Reason)
	case CampaignCancel:
		d["skipped"] = e.Skipped
	case CampaignComplete:
		d["recipients"], d["sent"], d["failed"], d["skipped"] = e.Stats.Recipients, e.Stats.Sent, e.Stats.Failed, e.Stats.Skipped
	}
	return audited("campaign", e.CampaignID.String(), d)
}

// AutomationRuleChanged: a keyword rule was created, updated (Fields are the API's names
// of what changed) or deleted, as Kind says.
type AutomationRuleChanged struct {
	Change EventKind // EventAutomationRuleCreated, EventAutomationRuleUpdated or EventAutomationRuleDeleted
	RuleID ID
	Name   string
	Fields []string
}

func (e AutomationRuleChanged) Kind() EventKind { return e.Change }
func (e AutomationRuleChanged) Subject() Subject {
	d := map[string]any{"name": e.Name}
	if e.Change == EventAutomationRuleUpdated {
		d["fields"] = e.Fields
	}
	return audited("automation_rule", e.RuleID.String(), d)
}

// WorkingHoursUpdated: a workspace's working hours were set.
type WorkingHoursUpdated struct {
	WorkspaceID ID
	Timezone    string
	Days        []string // the days open
	Holidays    int
}

func (WorkingHoursUpdated) Kind() EventKind { return EventWorkingHoursUpdated }
func (e WorkingHoursUpdated) Subject() Subject {
	return audited("working_hours", e.WorkspaceID.String(), map[string]any{"timezone": e.Timezone, "days": e.Days,
		"holidays": e.Holidays})
}

// AutomationSettingsUpdated: a workspace's away or welcome message (Name) was set.
type AutomationSettingsUpdated struct {
	WorkspaceID ID
	Name        string // AutomationAway or AutomationWelcome
	Enabled     bool
}

func (AutomationSettingsUpdated) Kind() EventKind { return EventAutomationSettingsUpdated }
func (e AutomationSettingsUpdated) Subject() Subject {
	return audited("automation_settings", e.WorkspaceID.String(), map[string]any{"name": e.Name, "enabled": e.Enabled})
}
