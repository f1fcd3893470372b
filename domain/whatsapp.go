package domain

import (
	"fmt"
	"time"
)

// NumberStatus is where a connected WhatsApp number stands.
type NumberStatus string

const (
	NumberConnecting     NumberStatus = "connecting"
	NumberConnected      NumberStatus = "connected"
	NumberFailed         NumberStatus = "failed"
	NumberNeedsReconnect NumberStatus = "needs_reconnect"
)

// Sealed is an envelope-encrypted secret as stored (see adapters/vault).
type Sealed struct {
	Ciphertext, Nonce, WrappedKey []byte
	KeyID                         string
}

// SecretBinding ties a sealed secret to its row: a ciphertext copied elsewhere does not open.
type SecretBinding struct {
	WorkspaceID   ID
	Purpose       string // PurposeAccessToken, PurposeRegisterPIN or PurposeMail
	PhoneNumberID string
}

// Secret purposes.
const (
	PurposeAccessToken = "access_token"
	PurposeRegisterPIN = "register_pin"
	// PurposeMail seals the text of a queued email: its links carry tokens.
	PurposeMail = "mail"
)

// PhoneNumber is a WhatsApp business number connected to a workspace.
type PhoneNumber struct {
	ID                 ID
	WorkspaceID        ID
	PhoneNumberID      string // Meta's id
	WABAID             string
	DisplayPhoneNumber string
	VerifiedName       string
	Status             NumberStatus
	FailureReason      string
	WebhookSubscribed  bool
	Registered         bool
	QualityRating      string
	MessagingLimitTier string
	ThroughputLevel    string
	NameStatus         string
	LastSyncedAt       *time.Time
	Token              Sealed
	PIN                *Sealed
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// PhoneMetadata is what a metadata sync reads from Meta.
type PhoneMetadata struct {
	DisplayPhoneNumber string
	VerifiedName       string
	QualityRating      string
	MessagingLimitTier string // portfolio-level limit where Meta gives it, else the per-number field
	ThroughputLevel    string
	NameStatus         string
}

// MetaClass says what to do about a failed Graph API call.
type MetaClass int

const (
	MetaRetry     MetaClass = iota // transient: retry soon with backoff
	MetaThrottled                  // rate limited: retry after a wait
	MetaFinal                      // will not succeed as sent: give up
	MetaAuth                       // the access token is broken: the number must reconnect
	MetaStop                       // account-level problem: stop sending for the number
)

// MetaError is a Graph API failure as the application sees it.
type MetaError struct {
	Class      MetaClass
	Code       int
	Title      string
	Detail     string
	RetryAfter time.Duration
	// MayHaveActed is set when no usable answer came after the request may have reached
	// Meta (a timeout, a connection lost mid-exchange, a 2xx answer we could not read):
	// Meta may have done what was asked.
	MayHaveActed bool
}

func (e *MetaError) Error() string {
	return fmt.Sprintf("meta error %d: %s", e.Code, e.Title)
}
