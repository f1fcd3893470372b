package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/billing"
	"github.com/wabaplatform/waba/domain"
)

var (
	_ billing.Store    = (*postgres.BillingRepo)(nil)
	_ billing.Ledger   = (*postgres.BillingRepo)(nil)
	_ billing.TxRunner = (*postgres.TxRunner[billing.Repos])(nil)
)

type billingBundle struct {
	pool *pgxpool.Pool
	repo *postgres.BillingRepo
	ws   domain.ID
	at   time.Time
}

func setupBilling(t *testing.T) *billingBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	return &billingBundle{pool: pool, repo: postgres.NewBillingRepo(pool, "USD"),
		ws: createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme").ID, at: time.Now().UTC().Truncate(time.Microsecond)}
}

// inTx runs fn with a ledger bound to one transaction.
func (b *billingBundle) inTx(t *testing.T, fn func(l *postgres.BillingRepo) error) error {
	t.Helper()
	return pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error { return fn(postgres.NewBillingRepo(tx, "USD")) })
}

func (b *billingBundle) charge(t *testing.T, ps ...domain.Priced) []billing.Charge {
	t.Helper()
	var out []billing.Charge
	require.NoError(t, b.inTx(t, func(l *postgres.BillingRepo) error {
		var err error
		out, err = l.Charge(context.Background(), ps, b.at)
		return err
	}))
	return out
}

func (b *billingBundle) wallet(t *testing.T) domain.Wallet {
	t.Helper()
	w, err := b.repo.Wallet(context.Background(), b.ws)
	require.NoError(t, err)
	return w
}

func regular(category string) domain.Pricing {
	return domain.Pricing{Model: "PMP", Type: domain.PricingRegular, Category: category}
}

func TestBillingChargesEachPricingShapeOnce(t *testing.T) {
	t.Parallel()
	b := setupBilling(t)
	ctx := context.Background()
	require.Equal(t, domain.Wallet{Mode: domain.BillingPostpaid, Currency: "USD"}, b.wallet(t), "no wallet yet: postpaid in the default currency")

	yes := true
	marketing, service, entry := domain.NewID(), domain.NewID(), domain.NewID()
	cbp1, cbp2, legacy := domain.NewID(), domain.NewID(), domain.NewID()
	got := b.charge(t,
		domain.Priced{WorkspaceID: b.ws, MessageID: marketing, Market: "US", Pricing: regular("marketing"), At: b.at},
		domain.Priced{WorkspaceID: b.ws, MessageID: service, Market: "US", At: b.at,
			Pricing: domain.Pricing{Model: "PMP", Type: domain.PricingFreeCustomerService, Category: "service"}},
		domain.Priced{WorkspaceID: b.ws, MessageID: entry, Market: "IN", At: b.at,
			Pricing: domain.Pricing{Model: "PMP", Type: domain.PricingFreeEntryPoint, Category: "marketing"}},
		// CBP: two messages of one conversation are one charge.
		domain.Priced{WorkspaceID: b.ws, MessageID: cbp1, Market: "IN", At: b.at,
			Pricing: domain.Pricing{Model: "CBP", Billable: &yes, Category: "utility", ConversationID: "conv-1"}},
		domain.Priced{WorkspaceID: b.ws, MessageID: cbp2, Market: "IN", At: b.at,
			Pricing: domain.Pricing{Model: "CBP", Billable: &yes, Category: "utility", ConversationID: "conv-1"}},
		// No type (older payloads): billable decides; an unknown market pays the rest of the world's rate.
		domain.Priced{WorkspaceID: b.ws, MessageID: legacy, Market: "", At: b.at,
			Pricing: domain.Pricing{Model: "PMP", Billable: &yes, Category: "authentication"}},
	)
	amounts := map[domain.ID]int64{}
	for _, c := range got {
		amounts[c.MessageID] = c.Amount
	}
	// The default card's example rates: US marketing 25000, IN utility 1400, * authentication 10000.
	require.Equal(t, map[domain.ID]int64{marketing: 25000, service: 0, entry: 0, cbp1: 1400, legacy: 10000}, amounts)

	// Meta resends every report: nothing more is charged.
	require.Empty(t, b.charge(t, domain.Priced{WorkspaceID: b.ws, MessageID: marketing, Market: "US", Pricing: regular("marketing"), At: b.at}))
	w := b.wallet(t)
	require.Equal(t, int64(-36400), w.Balance, "postpaid: usage accrues as a negative balance")

	usage, err := b.repo.Usage(ctx, b.ws, billing.UsageQuery{From: b.at.Add(-time.Hour), To: b.at.Add(time.Hour), GroupBy: billing.ByCategory})
	require.NoError(t, err)
	require.Equal(t, []billing.UsageRow{{Key: "authentication", Messages: 1, Billable: 1, Amount: 10000},
		{Key: "marketing", Messages: 2, Billable: 1, Amount: 25000}, {Key: "service", Messages: 1, Billable: 0, Amount: 0},
		{Key: "utility", Messages: 1, Billable: 1, Amount: 1400}}, usage)

	txs, err := b.repo.Transactions(ctx, b.ws, domain.NilID, 50)
	require.NoError(t, err)
	require.Len(t, txs, 3, "free charges are usage, not transactions")
	balances := map[int64]bool{}
	for _, tx := range txs {
		require.Equal(t, domain.LedgerCharge, tx.Kind)
		balances[tx.BalanceAfter] = true
	}
	require.Len(t, balances, 3, "each charge has its own balance after it: %+v", txs)
	require.True(t, balances[-36400])

	// The export pages through every priced message in time order.
	var all []billing.Charge
	after := billing.Charge{}
	for {
		page, err := b.repo.Charges(ctx, b.ws, billing.UsageQuery{From: b.at.Add(-time.Hour), To: b.at.Add(time.Hour)}, after, 2)
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	require.Len(t, all, 5)
}

func TestBillingRateCardInForceWhenReported(t *testing.T) {
	t.Parallel()
	b := setupBilling(t)
	ctx := context.Background()
	rates, err := domain.ParseRateCard(strings.NewReader("market,category,currency,rate_micros\nUS,marketing,USD,99\n*,marketing,USD,7\n"))
	require.NoError(t, err)
	card := billing.RateCard{ID: domain.NewID(), EffectiveAt: b.at.Add(time.Hour), Source: "operator", Rates: rates}
	require.NoError(t, b.inTx(t, func(l *postgres.BillingRepo) error { return l.PutRateCard(ctx, card, b.at) }))

	now, err := b.repo.RateCard(ctx, b.at)
	require.NoError(t, err)
	require.Equal(t, "default", now.Source, "the new card is not in force before its time")
	later, err := b.repo.RateCard(ctx, b.at.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, card.ID, later.ID)

	before, after := domain.NewID(), domain.NewID()
	got := b.charge(t,
		domain.Priced{WorkspaceID: b.ws, MessageID: before, Market: "US", Pricing: regular("marketing"), At: b.at},
		domain.Priced{WorkspaceID: b.ws, MessageID: after, Market: "FR", Pricing: regular("marketing"), At: b.at.Add(2 * time.Hour)})
	amounts := map[domain.ID]int64{}
	for _, c := range got {
		amounts[c.MessageID] = c.Amount
	}
	require.Equal(t, map[domain.ID]int64{before: 25000, after: 7}, amounts, "each priced with the card in force when Meta reported it")

	prices, err := b.repo.Prices(ctx, b.at.Add(2*time.Hour), "marketing", "USD", []string{"US", "FR", ""})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"US": 99, "FR": 7, "": 7}, prices)
}

func TestBillingReservationsNeverOverdrawUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setupBilling(t)
	ctx := context.Background()
	require.NoError(t, b.inTx(t, func(l *postgres.BillingRepo) error {
		if _, err := l.SetMode(ctx, b.ws, domain.BillingPrepaid, "", b.at); err != nil {
			return err
		}
		_, err := l.Credit(ctx, b.ws, domain.LedgerCredit, 5*25000, "top-up", b.at) // five US marketing messages
		return err
	}))

	const senders = 12
	ids := make([]domain.ID, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for i := range senders {
		ids[i] = domain.NewID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.inTx(t, func(l *postgres.BillingRepo) error {
				return l.Reserve(ctx, b.ws, []domain.Hold{{MessageID: ids[i], Market: "US", Category: "marketing"}}, b.at)
			})
		}()
	}
	wg.Wait()
	var accepted []domain.ID
	var accepted2 []domain.ID
	for i, err := range errs {
		if err == nil {
			accepted = append(accepted, ids[i])
			continue
		}
		require.True(t, domain.IsKind(err, domain.KindInsufficientBalance), "got %v", err)
	}
	require.Len(t, accepted, 5, "exactly what the balance covers")
	w := b.wallet(t)
	require.Equal(t, int64(0), w.Available())

	// Four are delivered and charged (settling their reservations); one fails and is released.
	var priced []domain.Priced
	for _, id := range accepted[:4] {
		priced = append(priced, domain.Priced{WorkspaceID: b.ws, MessageID: id, Market: "US", Pricing: regular("marketing"), At: b.at})
	}
	b.charge(t, priced...)
	require.NoError(t, b.inTx(t, func(l *postgres.BillingRepo) error {
		return l.Release(ctx, []billing.Ref{{WorkspaceID: b.ws, MessageID: accepted[4]}})
	}))
	w = b.wallet(t)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD", Balance: 25000, Reserved: 0}, w)

	// A batch the balance cannot cover is refused whole; postpaid holds nothing.
	accepted2 = []domain.ID{domain.NewID(), domain.NewID()}
	err := b.inTx(t, func(l *postgres.BillingRepo) error {
		return l.Reserve(ctx, b.ws, []domain.Hold{{MessageID: accepted2[0], Market: "US", Category: "marketing"},
			{MessageID: accepted2[1], Market: "US", Category: "marketing"}}, b.at)
	})
	require.True(t, domain.IsKind(err, domain.KindInsufficientBalance), "got %v", err)
	require.Equal(t, int64(0), b.wallet(t).Reserved)
}
