package campaigns

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// Results moves campaign recipients as their messages move, inside the transaction of the
// capability that records the message's new status: the processing of Meta's status
// webhooks (inbound) and the send worker (messaging). Both declare the port it fills.
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

// Advanced applies what became of messages (each as it now is: its status and, when it
// failed, Meta's error) to their recipients, monotonically (domain.AdvanceRecipient: a
// late "sent" never undoes "read", a failure after delivery changes nothing). Messages
// without a campaign, and a message reported more than once, count once; all of them go
// to the store in two statements, whatever their number.
func (x *Results) Advanced(ctx context.Context, ms []domain.Message) error {
	last := map[domain.ID]int{} // a message's latest state wins
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
	if len(mine) == 0 {
		return nil
	}
	tracked, err := x.p.Track(ctx, mine)
	if err != nil || len(tracked) == 0 {
		return err
	}
	byMessage := make(map[domain.ID]domain.Message, len(mine))
	for _, m := range mine {
		byMessage[m.ID] = m
	}
	var changes []Change
	for _, t := range tracked {
		m := byMessage[t.MessageID]
		want, _ := domain.RecipientStatusOf(m.Status)
		to, ok := domain.AdvanceRecipient(t.Status, want)
		if !ok {
			continue
		}
		ch := Change{WorkspaceID: t.WorkspaceID, CampaignID: t.CampaignID, ContactID: t.ContactID, From: t.Status, To: to}
		if to == domain.RecipientFailed {
			ch.Error = m.Error
		}
		changes = append(changes, ch)
	}
	if len(changes) == 0 {
		return nil
	}
	return x.p.Advance(ctx, changes, x.now().UTC())
}
