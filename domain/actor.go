package domain

import (
	"time"

	"github.com/wabaplatform/waba/domain/access"
)

// ActorType says who performed an action.
type ActorType string

const (
	ActorUser    ActorType = "user"
	ActorAPIKey  ActorType = "api_key"
	ActorSystem  ActorType = "system"
	ActorContact ActorType = "contact"
)

// RequestMeta is where a request came from; it is copied into audit entries.
type RequestMeta struct {
	IP        string
	UserAgent string
	RequestID string
}

// Caller is an authenticated actor acting inside one workspace with one role.
type Caller struct {
	Type        ActorType
	ID          ID // the user's or the API key's id
	WorkspaceID ID
	Role        access.Role
	Meta        RequestMeta
}

// SystemIn is the platform itself acting in a workspace: a worker, a webhook from Meta, a
// command-line job.
func SystemIn(ws ID) Caller { return Caller{Type: ActorSystem, WorkspaceID: ws} }

// AuditRetention is how long audit entries are kept.
const AuditRetention = 90 * 24 * time.Hour

// AuditEntry records one state change: who, what, on which resource, from where.
type AuditEntry struct {
	ID           ID
	WorkspaceID  ID // NilID for events outside any workspace (a failed login)
	ActorType    ActorType
	ActorID      string
	Action       string // resource.verb in the past tense: contact.created
	ResourceType string
	ResourceID   string
	Details      map[string]any // never secrets
	IP           string
	UserAgent    string
	RequestID    string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// NewAuditEntry builds an entry for an action a caller took now.
func NewAuditEntry(c Caller, action, resourceType, resourceID string, details map[string]any, now time.Time) AuditEntry {
	return AuditEntry{
		ID:           NewID(),
		WorkspaceID:  c.WorkspaceID,
		ActorType:    c.Type,
		ActorID:      c.ID.StringOrEmpty(),
		Action:       action,
		ResourceType: resourceType,
		ResourceID:   resourceID,
		Details:      details,
		IP:           c.Meta.IP,
		UserAgent:    c.Meta.UserAgent,
		RequestID:    c.Meta.RequestID,
		CreatedAt:    now.UTC(),
		ExpiresAt:    now.UTC().Add(AuditRetention),
	}
}
