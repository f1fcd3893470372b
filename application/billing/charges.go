package billing

import (
	"context"

	"github.com/wabaplatform/waba/application/phone"
	"github.com/wabaplatform/waba/domain"
)

// Charges records what Meta priced and releases what it will not charge, inside the
// transaction of the capability that learned it: the processing of status webhooks
// (inbound declares the port). A batch's messages go to the ledger in one call.
type Charges struct {
	l   Ledger
	now domain.Clock
}

// ChargesInTx returns the charges bound to a transaction's Ledger.
func ChargesInTx(l Ledger, now domain.Clock) *Charges {
	return &Charges{l: l, now: now}
}

// Priced records each message's charge once (a message reported twice in the batch
// counts once; the ledger ignores one charged before) and returns what each recorded
// charge costs.
func (c *Charges) Priced(ctx context.Context, ps []domain.Priced) ([]domain.Spend, error) {
	seen := make(map[string]bool, len(ps))
	batch := make([]domain.Priced, 0, len(ps))
	for _, p := range ps {
		k := p.WorkspaceID.String() + "/" + p.Pricing.ChargeKey(p.MessageID)
		if seen[k] {
			continue
		}
		seen[k] = true
		if p.Market == "" && p.Recipient != "" {
			p.Market = phone.Market(p.Recipient)
		}
		batch = append(batch, p)
	}
	charged, err := c.l.Charge(ctx, batch, c.now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]domain.Spend, len(charged))
	for i, ch := range charged {
		out[i] = domain.Spend{Category: ch.Category, Currency: ch.Currency, Billable: ch.Billable, Amount: ch.Amount}
	}
	return out, nil
}

// Failed releases the reservations of messages that failed: Meta charges nothing for them.
func (c *Charges) Failed(ctx context.Context, ms []domain.Message) error {
	refs := make([]Ref, len(ms))
	for i, m := range ms {
		refs[i] = Ref{WorkspaceID: m.WorkspaceID, MessageID: m.ID}
	}
	return c.l.Release(ctx, refs)
}
