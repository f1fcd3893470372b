// Package access defines who may do what inside a workspace: the member roles and the
// permissions they are checked against. Which role holds which permission is data
// (adapters/casbinrbac/policy.csv), not code, so this package only names the vocabulary.
package access

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownRole is returned by ParseRole; callers parsing user input turn it into a
// validation error, since this package imports only the standard library.
var ErrUnknownRole = errors.New("unknown role")

// ErrUnknownPermission is returned by ParsePermission.
var ErrUnknownPermission = errors.New("unknown permission")

// Role is a member's (or an API key's) role in one workspace. Only the constants below are
// valid; obtain a Role from outside input through ParseRole.
type Role string

// The roles, highest first.
const (
	Owner   Role = "owner"
	Manager Role = "manager"
	Agent   Role = "agent"
	Viewer  Role = "viewer"
)

// roles is in rank order, highest first; Rank derives from the position.
var roles = [...]Role{Owner, Manager, Agent, Viewer}

// ParseRole reads a role name exactly as the API spells it (lower case).
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.Rank() == 0 {
		return "", fmt.Errorf("%w %q", ErrUnknownRole, s)
	}
	return r, nil
}

// Roles returns every role, highest rank first. The caller owns the returned slice.
func Roles() []Role {
	out := make([]Role, len(roles))
	copy(out, roles[:])
	return out
}

// Rank orders roles by authority: owner is highest, viewer is 1, and an unknown role is 0
// so it never outranks anything.
func (r Role) Rank() int {
	for i, known := range roles {
		if r == known {
			return len(roles) - i
		}
	}
	return 0
}

// AtLeast reports whether r has o's authority or more. It is what stops a caller from
// minting an API key with a role above their own. An unknown role on either side is false.
func (r Role) AtLeast(o Role) bool {
	rr, or := r.Rank(), o.Rank()
	return rr > 0 && or > 0 && rr >= or
}

func (r Role) String() string { return string(r) }

// Permission names one action on one kind of resource, as "resource.verb". Permissions are
// deliberately coarse: Casbin's cost grows with the number of policy rules, and which rows
// of a resource a role may see (an agent's contacts) is decided in SQL, not here.
type Permission string

// The permissions, grouped by resource.
const (
	WorkspaceRead   Permission = "workspace.read"
	WorkspaceUpdate Permission = "workspace.update"
	WorkspaceDelete Permission = "workspace.delete"

	BillingRead   Permission = "billing.read"
	BillingManage Permission = "billing.manage" // billing settings; plans themselves are the operator's

	MembersRead   Permission = "members.read"
	MembersInvite Permission = "members.invite"
	MembersUpdate Permission = "members.update"
	MembersRemove Permission = "members.remove"

	APIKeysRead   Permission = "apikeys.read"
	APIKeysCreate Permission = "apikeys.create"
	APIKeysRevoke Permission = "apikeys.revoke"

	WhatsAppRead    Permission = "whatsapp.read"
	WhatsAppConnect Permission = "whatsapp.connect"
	WhatsAppSync    Permission = "whatsapp.sync"

	ContactsRead   Permission = "contacts.read"
	ContactsCreate Permission = "contacts.create"
	ContactsUpdate Permission = "contacts.update"
	ContactsDelete Permission = "contacts.delete"
	ContactsOptOut Permission = "contacts.optout" // manual opt-out and opt-in
	ContactsImport Permission = "contacts.import"
	ContactsAssign Permission = "contacts.assign"

	ConversationsRead   Permission = "conversations.read"
	ConversationsReply  Permission = "conversations.reply"
	ConversationsAssign Permission = "conversations.assign"
	ConversationsClose  Permission = "conversations.close" // change a conversation's status
	// ConversationsTake lets an agent take an unassigned conversation for themselves;
	// ConversationsAssign assigns anyone.
	ConversationsTake Permission = "conversations.take"

	NotesCreate Permission = "notes.create" // internal notes on a conversation

	InboxManage Permission = "inbox.manage" // the inbox settings (auto-assignment)

	MessagesRead Permission = "messages.read"
	MessagesSend Permission = "messages.send"

	TemplatesRead   Permission = "templates.read"
	TemplatesManage Permission = "templates.manage"

	CampaignsRead   Permission = "campaigns.read"
	CampaignsManage Permission = "campaigns.manage"
	CampaignsLaunch Permission = "campaigns.launch"

	AuditRead   Permission = "audit.read"
	AuditExport Permission = "audit.export"

	UsageRead Permission = "usage.read"

	WebhooksRead   Permission = "webhooks.read"
	WebhooksManage Permission = "webhooks.manage"

	AutomationRead   Permission = "automation.read"
	AutomationManage Permission = "automation.manage"

	// MediaRead reads the files of messages the caller may see; MediaUpload uploads files
	// to send (and reads the uploaded ones).
	MediaRead   Permission = "media.read"
	MediaUpload Permission = "media.upload"
)

// permissions fixes the order of AllPermissions (and so of the generated docs table).
var permissions = [...]Permission{
	WorkspaceRead, WorkspaceUpdate, WorkspaceDelete,
	BillingRead, BillingManage,
	MembersRead, MembersInvite, MembersUpdate, MembersRemove,
	APIKeysRead, APIKeysCreate, APIKeysRevoke,
	WhatsAppRead, WhatsAppConnect, WhatsAppSync,
	ContactsRead, ContactsCreate, ContactsUpdate, ContactsDelete, ContactsOptOut, ContactsImport, ContactsAssign,
	ConversationsRead, ConversationsReply, ConversationsAssign, ConversationsClose, ConversationsTake,
	NotesCreate, InboxManage,
	MessagesRead, MessagesSend,
	TemplatesRead, TemplatesManage,
	CampaignsRead, CampaignsManage, CampaignsLaunch,
	AuditRead, AuditExport,
	UsageRead,
	WebhooksRead, WebhooksManage,
	AutomationRead, AutomationManage,
	MediaRead, MediaUpload,
}

var knownPermissions = func() map[Permission]struct{} {
	m := make(map[Permission]struct{}, len(permissions))
	for _, p := range permissions {
		m[p] = struct{}{}
	}
	return m
}()

// AllPermissions returns every permission, grouped by resource, in a stable order. The
// caller owns the returned slice.
func AllPermissions() []Permission {
	out := make([]Permission, len(permissions))
	copy(out, permissions[:])
	return out
}

// ParsePermission reads a "resource.verb" name; only the declared permissions parse, so a
// typo in the policy file fails loudly instead of silently denying.
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if _, ok := knownPermissions[p]; !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownPermission, s)
	}
	return p, nil
}

// Resource is the part before the dot: the Casbin object.
func (p Permission) Resource() string {
	resource, _, _ := strings.Cut(string(p), ".")
	return resource
}

// Verb is the part after the dot: the Casbin action. It is empty when p has no dot.
func (p Permission) Verb() string {
	_, verb, _ := strings.Cut(string(p), ".")
	return verb
}

func (p Permission) String() string { return string(p) }
