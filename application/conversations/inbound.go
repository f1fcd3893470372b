package conversations

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// Receiver applies inbound messages to their conversations inside the caller's (the
// webhook processing's) transaction.
type Receiver struct{ r Repos }

// InTx returns the receiver bound to a transaction's repositories.
func InTx(r Repos) *Receiver { return &Receiver{r: r} }

// Received opens or reopens the conversation of m, counts m as unread, moves its last
// message and (touch) its window; a conversation it opened without an assignee is
// auto-assigned when the workspace asks for it.
func (p *Receiver) Received(ctx context.Context, m domain.Message, touch bool, now time.Time) error {
	o, err := p.r.Assigner.Receive(ctx, Inbound{Message: m, Preview: domain.MessagePreview(m.Type, m.Content), Touch: touch, Now: now})
	if err != nil {
		return err
	}
	if !o.Opened || o.Conversation.AssignedTo != nil || o.AutoAssign == domain.AutoAssignOff || o.AutoAssign == "" {
		return nil
	}
	return p.autoAssign(ctx, o.Conversation, now)
}

// autoAssign picks an agent under the workspace's lock, so two conversations opened at
// once never see the same cursor or the same counts.
func (p *Receiver) autoAssign(ctx context.Context, cv domain.Conversation, now time.Time) error {
	mode, err := p.r.Assigner.LockAutoAssign(ctx, cv.WorkspaceID)
	if err != nil || mode == domain.AutoAssignOff {
		return err
	}
	agent, ok, err := p.r.Assigner.PickAgent(ctx, cv.WorkspaceID, mode)
	if err != nil || !ok {
		return err
	}
	cv.AssignedTo, cv.UpdatedAt = &agent, now
	if err := p.r.Conversations.Update(ctx, cv); err != nil {
		return err
	}
	return p.r.Events.Append(ctx, domain.Occurred(domain.SystemIn(cv.WorkspaceID), now, domain.ConversationAssigned{
		ConversationID: cv.ID, ContactID: cv.ContactID, To: &agent, Auto: true}))
}
