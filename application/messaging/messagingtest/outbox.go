// Package messagingtest holds what tests of the messaging ports share: an in-memory
// database of the send and read use cases (Memory) and an in-memory Outbox, and the
// contracts every implementation of those ports (the Postgres adapter's too) is held to.
// Only tests import it.
package messagingtest

import (
	"context"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

type key struct{ ws, id domain.ID }

// outboxRow is a message as the outbox keeps it: what ToSend reads and what the delivery
// recorded (the columns of the messages table ToSend does not read).
type outboxRow struct {
	m                                   messaging.MessageToSend
	sentAt, deliveredAt, readAt, failed *time.Time
	err                                 *domain.MessageError
}

// Outbox is an in-memory messaging.Outbox. Put stores messages; Report records status
// webhooks ahead of their wamid; Message and Number read back what delivery recorded.
type Outbox struct {
	mu       sync.Mutex
	rows     map[key]*outboxRow
	numbers  map[key]*domain.PhoneNumber
	reported map[string][]messaging.ReportedStatus // by wamid
	events   []domain.Occurrence
	holds    map[key]time.Time // contact -> marketing hold
}

// NewOutbox returns an empty outbox.
func NewOutbox() *Outbox {
	return &Outbox{rows: map[key]*outboxRow{}, numbers: map[key]*domain.PhoneNumber{}, reported: map[string][]messaging.ReportedStatus{}}
}

// Put stores m as it is (a queued message, typically). Its Number, when it has an id, is
// kept as the number's current state: ToSend reads it from there, as the adapter joins it.
func (o *Outbox) Put(m messaging.MessageToSend) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !m.Number.ID.IsZero() {
		n := m.Number
		o.numbers[key{m.WorkspaceID, n.ID}] = &n
	}
	o.rows[key{m.WorkspaceID, m.ID}] = &outboxRow{m: m}
}

// Report records a status webhook for wamid, as inbound processing does when the status
// arrives before the wamid is stored.
func (o *Outbox) Report(wamid string, s messaging.ReportedStatus) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reported[wamid] = append(o.reported[wamid], s)
}

// Message reads a message back as the messages table would hold it; ok is false when
// there is none.
func (o *Outbox) Message(ws, id domain.ID) (m domain.Message, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok {
		return m, false
	}
	return domain.Message{ID: r.m.ID, WorkspaceID: r.m.WorkspaceID, PhoneNumberID: r.m.Number.PhoneNumberID,
		Direction: domain.Outbound, Type: r.m.Type, Content: r.m.Content, Status: r.m.Status, WAMID: r.m.WAMID,
		Error: r.err, SentAt: r.sentAt, DeliveredAt: r.deliveredAt, ReadAt: r.readAt, FailedAt: r.failed}, true
}

// Number reads a business number's status and failure reason.
func (o *Outbox) Number(ws, id domain.ID) (domain.NumberStatus, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, ok := o.numbers[key{ws, id}]
	if !ok {
		return "", ""
	}
	return n.Status, n.FailureReason
}

// ToSend reads a message with its number's current state; KindNotFound when it is gone.
func (o *Outbox) ToSend(_ context.Context, ws, id domain.ID) (messaging.MessageToSend, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok {
		return messaging.MessageToSend{}, domain.NotFound("message")
	}
	m := r.m
	if n, ok := o.numbers[key{ws, m.Number.ID}]; ok {
		m.Number = *n
	}
	return m, nil
}

// Attempt records an attempt on a queued message without a wamid whose recorded attempt
// is still prev.
func (o *Outbox) Attempt(_ context.Context, ws, id domain.ID, prev *time.Time, at time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok || r.m.Status != domain.StatusQueued || r.m.WAMID != "" {
		return false, nil
	}
	if was := r.m.AttemptedAt; (prev == nil) != (was == nil) || prev != nil && !prev.Equal(*was) {
		return false, nil
	}
	r.m.AttemptedAt = &at
	return true, nil
}

// ClearAttempt forgets a message's attempt.
func (o *Outbox) ClearAttempt(_ context.Context, ws, id domain.ID) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.rows[key{ws, id}]; ok {
		r.m.AttemptedAt = nil
	}
	return nil
}

// MarkSent stores the wamid and moves the status when it is still from, and returns the
// statuses reported for the wamid.
func (o *Outbox) MarkSent(_ context.Context, ws, id domain.ID, wamid string, at time.Time, from, to domain.MessageStatus) (bool, []messaging.ReportedStatus, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok || r.m.Status != from {
		return false, nil, nil
	}
	r.m.WAMID, r.m.Status = wamid, to
	if r.sentAt == nil {
		r.sentAt = &at
	}
	early := o.reported[wamid]
	if len(early) == 0 {
		return true, nil, nil
	}
	return true, append([]messaging.ReportedStatus(nil), early...), nil
}

// ApplyReported writes u when the status is still from; a time or an error already
// recorded stays.
func (o *Outbox) ApplyReported(_ context.Context, ws, id domain.ID, from domain.MessageStatus, u messaging.DeliveryUpdate) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok || r.m.Status != from {
		return nil
	}
	r.m.Status = u.Status
	keep := func(old, v *time.Time) *time.Time {
		if old != nil {
			return old
		}
		return v
	}
	r.deliveredAt, r.readAt, r.failed = keep(r.deliveredAt, u.DeliveredAt), keep(r.readAt, u.ReadAt), keep(r.failed, u.FailedAt)
	if u.Error != nil {
		e := *u.Error
		r.err = &e
	}
	return nil
}

// Events returns the events appended, oldest first.
func (o *Outbox) Events() []domain.Occurrence {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]domain.Occurrence(nil), o.events...)
}

// MarkFailed records e unless the message already failed or was received, and then
// appends ev and keeps holdUntil as the contact's marketing hold (Holds).
func (o *Outbox) MarkFailed(_ context.Context, ws, id domain.ID, e domain.MessageError, at time.Time, ev domain.Occurrence, holdUntil time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok || r.m.Status == domain.StatusFailed || r.m.Status == domain.StatusReceived {
		return nil
	}
	r.m.Status, r.failed, r.err = domain.StatusFailed, &at, &e
	o.events = append(o.events, ev)
	if !holdUntil.IsZero() {
		if o.holds == nil {
			o.holds = map[key]time.Time{}
		}
		o.holds[key{ws, r.m.ContactID}] = holdUntil
	}
	return nil
}

// Hold is the marketing hold MarkFailed set on a contact (zero when none).
func (o *Outbox) Hold(ws, contactID domain.ID) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.holds[key{ws, contactID}]
}

// Status reads a message's status; KindNotFound when it is gone.
func (o *Outbox) Status(_ context.Context, ws, id domain.ID) (domain.MessageStatus, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[key{ws, id}]
	if !ok {
		return "", domain.NotFound("message")
	}
	return r.m.Status, nil
}

// FlagReconnect marks a connected number needs_reconnect with reason; a number in any
// other state is left alone.
func (o *Outbox) FlagReconnect(_ context.Context, ws, numberID domain.ID, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n, ok := o.numbers[key{ws, numberID}]; ok && n.Status == domain.NumberConnected {
		n.Status, n.FailureReason = domain.NumberNeedsReconnect, reason
	}
	return nil
}
