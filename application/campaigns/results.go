package campaigns

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// Results moves campaign recipients as their messages move and as their contacts answer,
// inside the transaction of the capability that learns it: the processing of Meta's
// webhooks (inbound: statuses and inbound messages) and the send worker (messaging). Both
// declare the port it fills.
type Results struct {
	p   Progress
	now domain.Clock
}

// ResultsInTx returns the results bound to a transaction's Progress.
func ResultsInTx(p Progress, now domain.Clock) *Results {
	if now == nil {
		now = time.Now
	}
	return &Results{p: p, now: now}
}

// Advanced is Progressed without inbound messages: what the send worker learns.
func (x *Results) Advanced(ctx context.Context, ms []domain.Message) error {
	return x.Progressed(ctx, ms, nil)
}

// Progressed applies what became of messages (each as it now is: its status and, when it
// failed, Meta's error) and the inbound messages stored (arrivals) to the recipients:
//   - a status moves its recipient monotonically (domain.AdvanceRecipient: a late "sent"
//     never undoes "read", a failure after delivery changes nothing); messages without a
//     campaign, and a message reported more than once, count once;
//   - a failure whose code is retried (domain.CampaignRetry) schedules the recipient's next
//     attempt instead and detaches the message, so a late status of it finds nothing;
//   - a contact's message at most domain.ReplyWindow after a recipient's delivery makes
//     that recipient replied.
//
// Whatever their number, the recipients are found in at most two statements and moved,
// with their counters, in one.
func (x *Results) Progressed(ctx context.Context, ms []domain.Message, arrivals []domain.Arrival) error {
	mine := latest(ms)
	replies := repliesOf(arrivals)
	if len(mine) == 0 && len(replies) == 0 {
		return nil
	}
	var tracked, answered []Tracked
	var err error
	if len(mine) > 0 {
		if tracked, err = x.p.Track(ctx, mine); err != nil {
			return err
		}
	}
	if len(replies) > 0 {
		if answered, err = x.p.Replied(ctx, replies, domain.ReplyWindow); err != nil {
			return err
		}
	}
	now := x.now().UTC()
	byMessage := make(map[domain.ID]domain.Message, len(mine))
	for _, m := range mine {
		byMessage[m.ID] = m
	}
	replyTimes := map[[2]domain.ID][]time.Time{}
	for _, r := range replies {
		k := [2]domain.ID{r.WorkspaceID, r.ContactID}
		replyTimes[k] = append(replyTimes[k], r.At)
	}
	var changes []Change
	index := map[[3]domain.ID]int{}
	for _, t := range tracked {
		ch, ok := change(t, byMessage[t.MessageID], now)
		if !ok {
			continue
		}
		// Delivered in this batch and answered in it too.
		if ch.DeliveredAt != nil && answers(replyTimes[[2]domain.ID{t.WorkspaceID, t.ContactID}], *ch.DeliveredAt) {
			ch.To = domain.RecipientReplied
		}
		index[[3]domain.ID{t.WorkspaceID, t.CampaignID, t.ContactID}] = len(changes)
		changes = append(changes, ch)
	}
	for _, t := range answered {
		if i, ok := index[[3]domain.ID{t.WorkspaceID, t.CampaignID, t.ContactID}]; ok {
			changes[i].To, _ = domain.AdvanceRecipient(changes[i].To, domain.RecipientReplied)
			continue
		}
		changes = append(changes, Change{WorkspaceID: t.WorkspaceID, CampaignID: t.CampaignID, ContactID: t.ContactID,
			From: t.Status, To: domain.RecipientReplied})
	}
	if len(changes) == 0 {
		return nil
	}
	return x.p.Advance(ctx, changes, now)
}

// latest is the campaign messages of ms with a status a recipient follows, each once, at
// its latest state.
func latest(ms []domain.Message) []domain.Message {
	last := map[domain.ID]int{}
	var mine []domain.Message
	for _, m := range ms {
		if m.CampaignID == nil {
			continue
		}
		if _, ok := domain.RecipientStatusOf(m.Status); !ok {
			continue
		}
		if i, ok := last[m.ID]; ok {
			mine[i] = m
			continue
		}
		last[m.ID] = len(mine)
		mine = append(mine, m)
	}
	return mine
}

// repliesOf is the inbound messages the customers wrote (not system notices).
func repliesOf(arrivals []domain.Arrival) []Reply {
	var out []Reply
	for _, a := range arrivals {
		if a.Touch && a.Message.Direction == domain.Inbound {
			out = append(out, Reply{WorkspaceID: a.Message.WorkspaceID, ContactID: a.Message.ContactID, At: a.Message.CreatedAt})
		}
	}
	return out
}

// answers reports whether a reply at one of times answers a delivery at deliveredAt.
func answers(times []time.Time, deliveredAt time.Time) bool {
	for _, at := range times {
		if !at.Before(deliveredAt) && !at.After(deliveredAt.Add(domain.ReplyWindow)) {
			return true
		}
	}
	return false
}

// change is what message m, as it now is, does to its recipient t.
func change(t Tracked, m domain.Message, now time.Time) (Change, bool) {
	want, _ := domain.RecipientStatusOf(m.Status)
	ch := Change{WorkspaceID: t.WorkspaceID, CampaignID: t.CampaignID, ContactID: t.ContactID, From: t.Status}
	if want == domain.RecipientFailed {
		ch.Error = m.Error
		if next, ok := retry(t, m, now); ok {
			want, ch.NextAttemptAt = domain.RecipientRetryScheduled, &next
		}
	}
	to, ok := domain.AdvanceRecipient(t.Status, want)
	if !ok {
		return Change{}, false
	}
	ch.To = to
	if to == domain.RecipientDelivered || to == domain.RecipientRead {
		at := now
		if m.DeliveredAt != nil {
			at = *m.DeliveredAt
		} else if m.ReadAt != nil {
			at = *m.ReadAt
		}
		ch.DeliveredAt = &at
	}
	return ch, true
}

// retry is when the recipient of failed message m is sent again, if its code allows
// (domain.CampaignRetry). A throttling code that came in answer to the send itself (the
// message has no wamid) was backed off by the send worker already (messaging.Dispatcher
// snoozes its job, and fails it only past its own limit): final here, or the waits
// would add up. 131049 is retried however it came, not before the contact's marketing
// hold ends (24 hours from Meta's report, whose clock may run ahead of ours).
func retry(t Tracked, m domain.Message, now time.Time) (time.Time, bool) {
	if m.Error == nil || (m.WAMID == "" && m.Error.Code != domain.MarketingLimitCode) {
		return time.Time{}, false
	}
	if m.FailedAt != nil && m.FailedAt.After(now) {
		now = *m.FailedAt
	}
	return domain.CampaignRetry(m.Error.Code, t.Attempts, t.FirstAttemptAt, now, t.RetryDays)
}
