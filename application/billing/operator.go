package billing

import (
	"bytes"
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wabaplatform/waba/domain"
)

// The operator's actions (ADMIN_TOKEN): they take no caller and are audited as the
// system's in the workspace, from where the request came (as workspaces.SetPlan).

// MaxCredit bounds one credit: a million units of the currency, against typos.
const MaxCredit = 1_000_000 * 1_000_000

// CreditInput is money the operator puts into (or, as an adjustment, takes out of) a
// wallet.
type CreditInput struct {
	Kind      domain.LedgerKind // credit (default), refund or adjustment
	Amount    int64
	Reference string
}

// Credit appends a credit, refund or adjustment to the workspace's ledger. Credits and
// refunds are positive; an adjustment may be negative.
func (s *Service) Credit(ctx context.Context, ws domain.ID, in CreditInput, meta domain.RequestMeta) (Transaction, error) {
	if in.Kind == "" {
		in.Kind = domain.LedgerCredit
	}
	var v domain.Validator
	switch in.Kind {
	case domain.LedgerCredit, domain.LedgerRefund:
		v.Check(in.Amount > 0 && in.Amount <= MaxCredit, "amount_micros", "must be more than 0 and at most 1,000,000 units")
	case domain.LedgerAdjustment:
		v.Check(in.Amount != 0 && in.Amount >= -MaxCredit && in.Amount <= MaxCredit, "amount_micros",
			"must not be 0, and at most 1,000,000 units either way")
	default:
		v.Add("kind", "must be credit, refund or adjustment")
	}
	in.Reference = strings.TrimSpace(in.Reference)
	v.Check(utf8.RuneCountInString(in.Reference) <= 200, "reference", "must be at most 200 characters")
	if err := v.Err(); err != nil {
		return Transaction{}, err
	}
	var t Transaction
	err := s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		now := s.now().UTC()
		var err error
		if t, err = r.Ledger.Credit(ctx, ws, in.Kind, in.Amount, in.Reference, now); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(operator(ws, meta), now, domain.BillingCredited{TransactionID: t.ID,
			Entry: t.Kind, Amount: t.Amount, Currency: t.Currency, Reference: t.Reference, BalanceAfter: t.BalanceAfter}))
	})
	return t, err
}

// SetMode sets the workspace's billing mode and currency. The currency changes only while
// the wallet holds nothing (no balance, nothing reserved): amounts are never converted.
func (s *Service) SetMode(ctx context.Context, ws domain.ID, mode domain.BillingMode, currency string, meta domain.RequestMeta) (domain.Wallet, error) {
	var v domain.Validator
	v.Check(mode == domain.BillingPrepaid || mode == domain.BillingPostpaid, "mode", "must be prepaid or postpaid")
	currency = strings.ToUpper(strings.TrimSpace(currency))
	if currency != "" {
		if why := domain.CheckCurrency(currency); why != "" {
			v.Add("currency", why)
		}
	}
	if err := v.Err(); err != nil {
		return domain.Wallet{}, err
	}
	var out domain.Wallet
	err := s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		now := s.now().UTC()
		want := currency
		before, err := r.Ledger.SetMode(ctx, ws, mode, want, now)
		if err != nil {
			return err
		}
		out = before
		out.Mode = mode
		if want != "" && want != before.Currency {
			if before.Balance != 0 || before.Reserved != 0 {
				return domain.Errorf(domain.KindConflict, "the wallet holds %d micros of %s (%d reserved): the currency changes only while it holds nothing",
					before.Balance, before.Currency, before.Reserved)
			}
			out.Currency = want
		}
		if before.Mode == out.Mode && before.Currency == out.Currency {
			return nil
		}
		return r.Events.Append(ctx, domain.Occurred(operator(ws, meta), now, domain.BillingModeChanged{From: before.Mode, To: out.Mode,
			FromCurrency: before.Currency, ToCurrency: out.Currency}))
	})
	return out, err
}

// RateCard is the card in force now.
func (s *Service) RateCard(ctx context.Context) (RateCard, error) {
	return s.d.Store.RateCard(ctx, s.now().UTC())
}

// PutRateCard stores a new card from its CSV, in force from effectiveAt (now when zero;
// never in the past, so a charge already recorded keeps the card it was priced with).
func (s *Service) PutRateCard(ctx context.Context, csv []byte, effectiveAt time.Time, meta domain.RequestMeta) (RateCard, error) {
	rates, err := domain.ParseRateCard(bytes.NewReader(csv))
	if err != nil {
		return RateCard{}, err
	}
	now := s.now().UTC()
	if effectiveAt.IsZero() {
		effectiveAt = now
	}
	if effectiveAt.Before(now.Add(-time.Minute)) {
		var v domain.Validator
		v.Add("effective_at", "must not be in the past")
		return RateCard{}, v.Err()
	}
	card := RateCard{ID: domain.NewID(), EffectiveAt: effectiveAt.UTC().Truncate(time.Microsecond), Source: "operator", Rates: rates}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Ledger.PutRateCard(ctx, card, now); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(operator(domain.NilID, meta), now, domain.RateCardUpdated{CardID: card.ID,
			EffectiveAt: card.EffectiveAt, Rates: len(rates)}))
	})
	return card, err
}

func operator(ws domain.ID, meta domain.RequestMeta) domain.Caller {
	return domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws, Meta: meta}
}
