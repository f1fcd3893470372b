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

// Received opens or reopens the conversations of arrivals, counts them as unread, moves
// their last message and (when the customer wrote) their window, in one call to the store;
// a conversation they opened without an assignee is auto-assigned when the workspace asks
// for it.
func (p *Receiver) Received(ctx context.Context, arrivals []domain.Arrival, now time.Time) error {
	if len(arrivals) == 0 {
		return nil
	}
	got, err := p.r.Assigner.Receive(ctx, tally(arrivals), now)
	if err != nil {
		return err
	}
	// Auto-assignment picks under the workspace's lock, taken once per workspace (held to
	// the end of the transaction), so two conversations opened at once never see the same
	// cursor or the same counts; the mode is read again under it.
	modes := map[domain.ID]domain.AutoAssign{}
	var assigned []domain.Occurrence
	for _, o := range got {
		cv := o.Conversation
		if !o.Opened || cv.AssignedTo != nil || o.AutoAssign == domain.AutoAssignOff || o.AutoAssign == "" {
			continue
		}
		mode, locked := modes[cv.WorkspaceID]
		if !locked {
			if mode, err = p.r.Assigner.LockAutoAssign(ctx, cv.WorkspaceID); err != nil {
				return err
			}
			modes[cv.WorkspaceID] = mode
		}
		if mode == domain.AutoAssignOff {
			continue
		}
		agent, ok, err := p.r.Assigner.PickAgent(ctx, cv.WorkspaceID, mode)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		cv.AssignedTo, cv.UpdatedAt = &agent, now
		if err := p.r.Conversations.Update(ctx, cv); err != nil {
			return err
		}
		assigned = append(assigned, domain.Occurred(domain.SystemIn(cv.WorkspaceID), now, domain.ConversationAssigned{
			ConversationID: cv.ID, ContactID: cv.ContactID, To: &agent, Auto: true}))
	}
	if len(assigned) == 0 {
		return nil
	}
	return p.r.Events.Append(ctx, assigned...)
}

// tally sums arrivals per conversation (contact and number), in the order they came. No
// other transaction waits for these conversations while holding one of them: the caller
// holds their contacts' locks, and a request locks one conversation at a time.
func tally(arrivals []domain.Arrival) []Inbound {
	type key struct {
		ws, contact domain.ID
		number      string
	}
	at := map[key]int{}
	var out []Inbound
	for _, a := range arrivals {
		m := a.Message
		k := key{m.WorkspaceID, m.ContactID, m.PhoneNumberID}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Inbound{WorkspaceID: m.WorkspaceID, ContactID: m.ContactID, PhoneNumberID: m.PhoneNumberID})
		}
		in := &out[i]
		in.Count++
		if in.Count == 1 || !m.CreatedAt.Before(in.LastAt) {
			in.LastAt, in.Preview = m.CreatedAt, domain.MessagePreview(m.Type, m.Content)
		}
		if a.Touch && (in.InboundAt == nil || m.CreatedAt.After(*in.InboundAt)) {
			t := m.CreatedAt
			in.InboundAt = &t
		}
	}
	return out
}
