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

// Priced records each message's charge once (the ledger ignores a charge key it has, or
// that the batch repeats) and returns what each recorded charge costs.
func (c *Charges) Priced(ctx context.Context, ps []domain.Priced) ([]domain.Spend, error) {
	for i := range ps {
		if ps[i].Market == "" && ps[i].Recipient != "" {
			ps[i].Market = phone.Market(ps[i].Recipient)
		}
	}
	charged, err := c.l.Charge(ctx, ps, c.now().UTC())
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
