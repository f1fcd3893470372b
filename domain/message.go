package domain

import (
	"encoding/json"
	"time"
)

// Direction of a message.
type Direction string

const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// MessageStatus is where a message stands. Outbound statuses only move forward
// (queued < sent < delivered < read); failed is terminal; inbound messages are received.
type MessageStatus string

const (
	StatusQueued    MessageStatus = "queued"
	StatusSent      MessageStatus = "sent"
	StatusDelivered MessageStatus = "delivered"
	StatusRead      MessageStatus = "read"
	StatusFailed    MessageStatus = "failed"
	StatusReceived  MessageStatus = "received"
)

// ParseMessageStatus reads one of Meta's status words for an outbound message: sent,
// delivered, read, failed, and played (the first play of a voice message), which counts as
// read. Our own queued and received are not Meta's and are refused.
func ParseMessageStatus(s string) (MessageStatus, bool) {
	switch st := MessageStatus(s); st {
	case StatusSent, StatusDelivered, StatusRead, StatusFailed:
		return st, true
	}
	if s == "played" {
		return StatusRead, true
	}
	return "", false
}

func (s MessageStatus) rank() int {
	switch s {
	case StatusQueued:
		return 0
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	}
	return -1
}

// Advance returns the status after next is reported, whatever order reports arrive in:
// a late `sent` never overwrites `read`, and nothing moves a failed message.
func (s MessageStatus) Advance(next MessageStatus) MessageStatus {
	switch {
	case s == StatusFailed || s == StatusReceived:
		return s
	case next == StatusFailed:
		return StatusFailed
	case next.rank() > s.rank():
		return next
	}
	return s
}

// ApplyReport folds one status report into m: the status advances monotonically (Advance),
// the report's own time is stamped on the matching *At field (the earliest report of a
// status wins, so a delivered that arrives after read still records when it was
// delivered), and a failed report records e, Meta's reason, when there is one.
func (m *Message) ApplyReport(next MessageStatus, at time.Time, e *MessageError) {
	m.Status = m.Status.Advance(next)
	stamp := func(p **time.Time) {
		if *p == nil || at.Before(**p) {
			t := at
			*p = &t
		}
	}
	switch next {
	case StatusSent:
		stamp(&m.SentAt)
	case StatusDelivered:
		stamp(&m.DeliveredAt)
	case StatusRead:
		stamp(&m.ReadAt)
	case StatusFailed:
		stamp(&m.FailedAt)
		if e != nil {
			m.Error = e
		}
	}
}

// MessageError is Meta's reason for a failed message.
type MessageError struct {
	Code   int    `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// MessagePurpose says why an outbound message exists.
type MessagePurpose string

const (
	PurposeConversation       MessagePurpose = "conversation"
	PurposeOptOutConfirmation MessagePurpose = "opt_out_confirmation" // the one message an opted-out contact still gets
	PurposeOptInConfirmation  MessagePurpose = "opt_in_confirmation"
)

// Message is one WhatsApp message, in either direction.
type Message struct {
	ID            ID
	WorkspaceID   ID
	ContactID     ID
	PhoneNumberID string // Meta's id of the business number
	Direction     Direction
	Type          string
	// Content is the type object: what the Graph API's send shape names after Type
	// ({"body"} for a text), for inbound messages too (webhook.Message.TypeObject).
	Content json.RawMessage
	// Raw is an inbound message exactly as Meta sent it; stored, never read back by
	// the message queries (empty there) and never shown through the API.
	Raw     json.RawMessage
	Status  MessageStatus
	Purpose MessagePurpose // outbound only; empty means PurposeConversation
	// Category is an outbound template's category as the catalogue had it when queued
	// (the frequency caps count MARKETING ones); empty otherwise.
	Category string
	// CampaignID is the campaign that queued an outbound message (nil for any other).
	CampaignID *ID
	WAMID      string
	Error      *MessageError
	Pricing    json.RawMessage
	// Media is the file an inbound media message brought, as the media store holds it
	// (read by the message queries; nil for other messages).
	Media       *MediaRef
	CreatedAt   time.Time
	SentAt      *time.Time
	DeliveredAt *time.Time
	ReadAt      *time.Time
	FailedAt    *time.Time
}
