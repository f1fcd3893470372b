package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wabaplatform/waba/domain/access"
)

// User is a person who signs in.
type User struct {
	ID           ID
	Email        string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
}

// MinPasswordLength is the shortest password accepted at signup.
const MinPasswordLength = 10

// NormalizeEmail trims and lower-cases an address and checks its shape. Emails are unique
// case-insensitively, so the lower-cased form is what is stored and looked up.
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", false
	}
	return s, true
}

// ValidName reports whether a display name is acceptable (1 to max runes after trimming).
func ValidName(s string, max int) bool {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	return n >= 1 && n <= max && utf8.ValidString(s)
}

// Plan is a workspace's subscription; it sets the per-minute message quota.
type Plan string

const (
	PlanFree       Plan = "free"
	PlanPro        Plan = "pro"
	PlanEnterprise Plan = "enterprise"
)

// ParsePlan validates a plan name.
func ParsePlan(s string) (Plan, bool) {
	switch p := Plan(s); p {
	case PlanFree, PlanPro, PlanEnterprise:
		return p, true
	}
	return "", false
}

// MessagesPerMinute is the plan's send quota for one workspace.
func (p Plan) MessagesPerMinute() int {
	switch p {
	case PlanPro:
		return 1000
	case PlanEnterprise:
		return 10000
	}
	return 100
}

// Workspace is a tenant: one business.
type Workspace struct {
	ID        ID
	Name      string
	Plan      Plan
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Member is a user's membership of a workspace, with the user's details.
type Member struct {
	WorkspaceID ID
	UserID      ID
	Email       string
	Name        string
	Role        access.Role
	CreatedAt   time.Time
}

// Membership is one workspace a user belongs to.
type Membership struct {
	WorkspaceID   ID
	WorkspaceName string
	Role          access.Role
}

// APIKey is a workspace credential for integrations. Only the SHA-256 of its secret is
// stored; the secret is shown once, at creation.
type APIKey struct {
	ID          ID
	WorkspaceID ID
	Name        string
	Role        access.Role
	Hash        []byte
	CreatedBy   ID
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// APIKeyPrefix starts every API key secret, so it is recognisable (and scannable in leaks).
const APIKeyPrefix = "wsk_"

// NewAPIKeySecret returns a fresh API key secret and its hash.
func NewAPIKeySecret() (secret string, hash []byte) { return NewSecret(APIKeyPrefix) }

// The prefixes of the other bearer secrets, so each is recognisable where it leaks.
const (
	RefreshTokenPrefix    = "wrt_"
	ResetTokenPrefix      = "wpr_"
	InvitationTokenPrefix = "wiv_"
	StreamTicketPrefix    = "wet_"
)

// NewSecret returns a fresh secret (32 random bytes behind prefix) and its hash: the form
// in which every bearer secret (API keys, refresh, reset and invitation tokens) is stored.
func NewSecret(prefix string) (secret string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret is the stored form of a secret. The secrets are 256-bit random, so a plain
// SHA-256 (not a password hash) is enough: there is nothing to guess from the hash.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Session is one login: its refresh tokens rotate, and revoking it ends its access tokens.
type Session struct {
	ID        ID
	UserID    ID
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// RefreshToken is one of a session's refresh tokens, stored as its hash. Each is spent by
// the refresh that replaces it; a spent one presented again means it was copied.
type RefreshToken struct {
	Hash      []byte
	SessionID ID
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// ResetToken is a single-use password reset token, stored as its hash.
type ResetToken struct {
	Hash      []byte
	UserID    ID
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// StreamTicket lets a browser open its workspace's event stream once (EventSource cannot
// send an Authorization header): single use, StreamTicketTTL, stored as its hash, bound to
// the session that asked for it.
type StreamTicket struct {
	Hash        []byte
	WorkspaceID ID
	UserID      ID
	SessionID   ID
	ExpiresAt   time.Time
}

// StreamTicketTTL is how long a stream ticket stays valid (API.md, Team inbox).
const StreamTicketTTL = 60 * time.Second

// Token lifetimes (API.md, Identity).
const (
	RefreshTokenTTL  = 30 * 24 * time.Hour
	PasswordResetTTL = time.Hour
	InvitationTTL    = 7 * 24 * time.Hour
)

// Invitation asks a person, by email, to join a workspace with a role.
type Invitation struct {
	ID          ID
	WorkspaceID ID
	Email       string
	Role        access.Role
	InvitedBy   ID
	CreatedAt   time.Time
	ExpiresAt   time.Time
	AcceptedAt  *time.Time
	AcceptedBy  *ID
	RevokedAt   *time.Time
}

// Open reports whether the invitation can still be accepted at now.
func (i Invitation) Open(now time.Time) bool {
	return i.AcceptedAt == nil && i.RevokedAt == nil && now.Before(i.ExpiresAt)
}

// Principal is who a bearer credential authenticates, before a workspace is chosen.
type Principal struct {
	Type ActorType // ActorUser or ActorAPIKey
	ID   ID
	// For users: the session of the access token.
	SessionID ID
	// For API keys: the one workspace and role the key is bound to.
	WorkspaceID ID
	Role        access.Role
}
