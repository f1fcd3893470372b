package billing_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/billing"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the billing rows of adapters/casbinrbac/policy.csv.
var policy = authztest.Grants{
	access.Owner:   {access.BillingRead, access.BillingManage},
	access.Manager: {access.BillingRead},
	access.Viewer:  {access.BillingRead},
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type bundle struct {
	mem                           *memory
	clock                         *clock
	svc                           *billing.Service
	ws                            domain.ID
	owner, manager, viewer, agent domain.Caller
	meta                          domain.RequestMeta
}

// The default card's rates (USD) and the one EUR rate.
const (
	usMarketing    = 25_000
	inMarketing    = 10_000
	worldMarketing = 50_000
	usUtility      = 4_000
	worldUtility   = 6_000
	eurMarketing   = 45_000
)

func setup(t *testing.T) *bundle {
	t.Helper()
	mem := newMemory()
	b := &bundle{mem: mem, clock: &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)},
		meta: domain.RequestMeta{IP: "203.0.113.9", RequestID: "req-1"}}
	b.ws = mem.workspace()
	mem.card(b.clock.now().Add(-24*time.Hour),
		domain.Rate{Market: "US", Category: "marketing", Currency: "USD", Micros: usMarketing},
		domain.Rate{Market: "IN", Category: "marketing", Currency: "USD", Micros: inMarketing},
		domain.Rate{Market: domain.RestOfWorld, Category: "marketing", Currency: "USD", Micros: worldMarketing},
		domain.Rate{Market: "US", Category: "utility", Currency: "USD", Micros: usUtility},
		domain.Rate{Market: domain.RestOfWorld, Category: "utility", Currency: "USD", Micros: worldUtility},
		domain.Rate{Market: domain.RestOfWorld, Category: "marketing", Currency: "EUR", Micros: eurMarketing},
	)
	b.svc = billing.NewService(billing.Deps{Tx: mem, Store: mem, Templates: mem, Authz: policy, Clock: b.clock.now})
	caller := func(role access.Role) domain.Caller {
		return domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: b.ws, Role: role}
	}
	b.owner, b.manager, b.viewer, b.agent = caller(access.Owner), caller(access.Manager), caller(access.Viewer), caller(access.Agent)
	return b
}

func requireKind(t *testing.T, kind domain.Kind, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, kind, domain.KindOf(err), "%v", err)
}

// requireFields requires a validation error naming exactly fields.
func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	requireKind(t, domain.KindValidation, err)
	var de *domain.Error
	require.True(t, errors.As(err, &de))
	got := make([]string, len(de.Fields))
	for i, f := range de.Fields {
		got[i] = f.Field
	}
	require.Equal(t, fields, got, "%v", err)
}

// priced is a regular PMP marketing message to recipient, reported now.
func (b *bundle) priced(recipient string) domain.Priced {
	return domain.Priced{WorkspaceID: b.ws, MessageID: domain.NewID(), PhoneNumberID: "1065", Recipient: recipient,
		Pricing: domain.Pricing{Model: "PMP", Type: domain.PricingRegular, Category: "marketing"}, At: b.clock.now()}
}

// charge records ps through ChargesInTx in a transaction.
func (b *bundle) charge(t *testing.T, ps ...domain.Priced) []domain.Spend {
	t.Helper()
	var out []domain.Spend
	require.NoError(t, b.mem.ledgerTx(func(l billing.Ledger) error {
		var err error
		out, err = billing.ChargesInTx(l, b.clock.now).Priced(context.Background(), ps)
		return err
	}))
	b.clock.advance(time.Second) // usage ranges end before now
	return out
}

func (b *bundle) walletOf(t *testing.T) domain.Wallet {
	t.Helper()
	w, err := b.svc.Wallet(context.Background(), b.owner)
	require.NoError(t, err)
	return w
}

func TestReadPermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	noRole := b.owner
	noRole.Role = ""
	reads := map[string]func(c domain.Caller) error{
		"wallet": func(c domain.Caller) error { _, err := b.svc.Wallet(ctx, c); return err },
		"usage":  func(c domain.Caller) error { _, err := b.svc.Usage(ctx, c, billing.UsageQuery{}); return err },
		"export": func(c domain.Caller) error {
			return b.svc.ExportUsage(ctx, c, billing.UsageQuery{}, func([]billing.Charge) error { return nil })
		},
		"transactions": func(c domain.Caller) error { _, err := b.svc.Transactions(ctx, c, 10, domain.NilID); return err },
		"estimate": func(c domain.Caller) error {
			_, err := b.svc.Estimate(ctx, c, billing.EstimateInput{Category: "marketing", Recipients: []string{"+14155550100"}})
			return err
		},
	}
	for name, read := range reads {
		for _, c := range []domain.Caller{b.owner, b.manager, b.viewer} {
			require.NoError(t, read(c), "%s as %s", name, c.Role)
		}
		for _, c := range []domain.Caller{b.agent, noRole} {
			requireKind(t, domain.KindForbidden, read(c))
		}
	}
	// A refused caller is refused before its input is looked at, and reads nothing.
	asked := len(b.mem.usageAsked)
	_, err := b.svc.Usage(ctx, b.agent, billing.UsageQuery{GroupBy: "week"})
	requireKind(t, domain.KindForbidden, err)
	require.Len(t, b.mem.usageAsked, asked)
}

func TestWallet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	w := b.walletOf(t)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPostpaid, Currency: "USD"}, w)

	_, err := b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "", b.meta)
	require.NoError(t, err)
	_, err = b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: 100_000}, b.meta)
	require.NoError(t, err)
	require.NoError(t, b.mem.ledgerTx(func(l billing.Ledger) error {
		return l.Reserve(ctx, b.ws, []domain.Hold{{MessageID: domain.NewID(), Market: "US", Category: "marketing"}}, b.clock.now())
	}))
	w, err = b.svc.Wallet(ctx, b.viewer)
	require.NoError(t, err)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD", Balance: 100_000, Reserved: usMarketing}, w)
	require.Equal(t, int64(100_000-usMarketing), w.Available())
}

func TestUsageQueryValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	now := b.clock.now()
	day := 24 * time.Hour
	cases := []struct {
		name   string
		q      billing.UsageQuery
		fields []string
	}{
		{"from after to", billing.UsageQuery{From: now, To: now.Add(-time.Hour)}, []string{"from"}},
		{"from equal to", billing.UsageQuery{From: now, To: now}, []string{"from"}},
		{"from in the future without to", billing.UsageQuery{From: now.Add(time.Hour)}, []string{"from"}},
		{"over 366 days", billing.UsageQuery{From: now.Add(-366*day - time.Second), To: now}, []string{"to"}},
		{"from over 366 days ago without to", billing.UsageQuery{From: now.Add(-400 * day)}, []string{"to"}},
		{"unknown group_by", billing.UsageQuery{GroupBy: "week"}, []string{"group_by"}},
		{"upper case group_by", billing.UsageQuery{GroupBy: "DAY"}, []string{"group_by"}},
		{"every field", billing.UsageQuery{From: now, To: now.Add(-day), GroupBy: "hour"}, []string{"from", "group_by"}},
	}
	for _, c := range cases {
		_, err := b.svc.Usage(ctx, b.viewer, c.q)
		requireFields(t, err, c.fields...)
	}
	require.Empty(t, b.mem.usageAsked, "refused queries reach the store")

	// Exactly 366 days is allowed, and every grouping.
	for _, g := range []billing.GroupBy{billing.ByDay, billing.ByCategory, billing.ByMarket, billing.ByPhoneNumber, billing.ByCampaign} {
		_, err := b.svc.Usage(ctx, b.viewer, billing.UsageQuery{From: now.Add(-366 * day), To: now, GroupBy: g})
		require.NoError(t, err, g)
	}

	// Defaults: the last 30 days until now, by day.
	b.mem.usageAsked = nil
	_, err := b.svc.Usage(ctx, b.viewer, billing.UsageQuery{})
	require.NoError(t, err)
	require.Equal(t, []billing.UsageQuery{{From: now.Add(-30 * day), To: now, GroupBy: billing.ByDay}}, b.mem.usageAsked)
	to := now.Add(-48 * time.Hour)
	_, err = b.svc.Usage(ctx, b.viewer, billing.UsageQuery{To: to, GroupBy: billing.ByMarket})
	require.NoError(t, err)
	require.Equal(t, billing.UsageQuery{From: to.Add(-30 * day), To: to, GroupBy: billing.ByMarket}, b.mem.usageAsked[1])

	// The export validates the range but has no grouping.
	require.NoError(t, b.svc.ExportUsage(ctx, b.viewer, billing.UsageQuery{GroupBy: "week"}, func([]billing.Charge) error { return nil }))
	err = b.svc.ExportUsage(ctx, b.viewer, billing.UsageQuery{From: now, To: now.Add(-day)}, func([]billing.Charge) error { return nil })
	requireFields(t, err, "from")
}

func TestUsageSums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	free := b.priced("+14155550101")
	free.Pricing.Type = domain.PricingFreeCustomerService
	utility := b.priced("+14155550102")
	utility.Pricing.Category = "utility"
	b.charge(t, b.priced("+14155550100"), free, utility, b.priced("+919812345678"))

	rows, err := b.svc.Usage(ctx, b.viewer, billing.UsageQuery{GroupBy: billing.ByMarket})
	require.NoError(t, err)
	require.Equal(t, []billing.UsageRow{
		{Key: "IN", Messages: 1, Billable: 1, Amount: inMarketing},
		{Key: "US", Messages: 3, Billable: 2, Amount: usMarketing + usUtility},
	}, rows)
	rows, err = b.svc.Usage(ctx, b.viewer, billing.UsageQuery{GroupBy: billing.ByCategory})
	require.NoError(t, err)
	require.Equal(t, []billing.UsageRow{
		{Key: "marketing", Messages: 3, Billable: 2, Amount: usMarketing + inMarketing},
		{Key: "utility", Messages: 1, Billable: 1, Amount: usUtility},
	}, rows)

	// Another workspace sees none of it.
	other := b.viewer
	other.WorkspaceID = b.mem.workspace()
	rows, err = b.svc.Usage(ctx, other, billing.UsageQuery{})
	require.NoError(t, err)
	require.Empty(t, rows)
}

func TestExportUsagePages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, n := range []int{0, 1, billing.ExportPage, 2*billing.ExportPage + 500} {
		b := setup(t)
		ps := make([]domain.Priced, n)
		for i := range ps {
			ps[i] = b.priced("+14155550100")
		}
		b.charge(t, ps...)
		var sizes []int
		seen := map[domain.ID]bool{}
		err := b.svc.ExportUsage(ctx, b.viewer, billing.UsageQuery{}, func(page []billing.Charge) error {
			sizes = append(sizes, len(page))
			for _, c := range page {
				require.False(t, seen[c.TransactionID], "charge exported twice")
				seen[c.TransactionID] = true
			}
			return nil
		})
		require.NoError(t, err)
		require.Len(t, seen, n)
		var want []int
		for left := n; left > 0; left -= billing.ExportPage {
			want = append(want, min(left, billing.ExportPage))
		}
		require.Equal(t, want, sizes, "%d charges", n)
	}

	// A write that fails stops the export with its error.
	b := setup(t)
	b.charge(t, b.priced("+14155550100"))
	boom := errors.New("client gone")
	require.ErrorIs(t, b.svc.ExportUsage(ctx, b.viewer, billing.UsageQuery{}, func([]billing.Charge) error { return boom }), boom)
}

func TestTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	var ids []domain.ID
	for _, amount := range []int64{1000, 2000, 3000} {
		tx, err := b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: amount}, b.meta)
		require.NoError(t, err)
		ids = append(ids, tx.ID)
	}
	free := b.priced("+14155550100")
	free.Pricing.Type = domain.PricingFreeEntryPoint
	b.charge(t, free) // free charges are usage, not transactions

	page, err := b.svc.Transactions(ctx, b.viewer, 2, domain.NilID)
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, []domain.ID{ids[2], ids[1]}, []domain.ID{page.Items[0].ID, page.Items[1].ID})
	require.Equal(t, int64(6000), page.Items[0].BalanceAfter)
	require.NotNil(t, page.NextCursor)
	page, err = b.svc.Transactions(ctx, b.viewer, 2, *page.NextCursor)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, ids[0], page.Items[0].ID)
	require.Nil(t, page.NextCursor)
}

// audience adds contacts of the workspace with phones, tagged vip.
func (b *bundle) contacts(phones ...string) {
	for _, p := range phones {
		b.mem.contacts = append(b.mem.contacts, contact{ws: b.ws, id: domain.NewID(), phone: p, tags: []string{"vip"}})
	}
}

func TestEstimateByTemplate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.mem.templates[b.ws] = []domain.Template{
		{Name: "promo", Language: "en_US", Category: domain.CategoryMarketing},
		{Name: "receipt", Language: "en_US", Category: domain.CategoryUtility},
	}
	b.contacts("+14155550100", "+14155550101", "+14155550102", "+919812345678", "+919812345679")
	b.mem.contacts = append(b.mem.contacts, contact{ws: b.mem.workspace(), id: domain.NewID(), phone: "+14155550199", tags: []string{"vip"}})
	vip := &domain.Audience{Tags: []string{"vip"}}

	// The template's category prices, whatever category the input names.
	est, err := b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{TemplateName: " promo ", TemplateLanguage: "en_US", Audience: vip,
		Category: "utility"})
	require.NoError(t, err)
	require.Equal(t, billing.Estimate{Currency: "USD", Amount: 3*usMarketing + 2*inMarketing, ByMarket: []billing.MarketEstimate{
		{Market: "US", Messages: 3, Amount: 3 * usMarketing},
		{Market: "IN", Messages: 2, Amount: 2 * inMarketing},
	}}, est)
	require.Equal(t, "marketing", b.mem.pricesAsked[0].category)
	require.Equal(t, "USD", b.mem.pricesAsked[0].currency)
	require.Equal(t, b.clock.now(), b.mem.pricesAsked[0].at)
	require.Equal(t, []domain.Audience{*vip}, b.mem.audiences)

	est, err = b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{TemplateName: "receipt", TemplateLanguage: "en_US", Audience: vip})
	require.NoError(t, err)
	require.Equal(t, "utility", b.mem.pricesAsked[1].category)
	require.Equal(t, int64(3*usUtility+2*worldUtility), est.Amount)

	// A phone whose market is unknown is priced as the rest of the world, under "*".
	b.contacts("+999123456")
	est, err = b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{TemplateName: "promo", TemplateLanguage: "en_US", Audience: vip})
	require.NoError(t, err)
	require.Equal(t, []billing.MarketEstimate{
		{Market: "US", Messages: 3, Amount: 3 * usMarketing},
		{Market: domain.RestOfWorld, Messages: 1, Amount: worldMarketing},
		{Market: "IN", Messages: 2, Amount: 2 * inMarketing},
	}, est.ByMarket)

	// No such template in this workspace (nor in this language).
	for _, in := range []billing.EstimateInput{
		{TemplateName: "nope", TemplateLanguage: "en_US", Audience: vip},
		{TemplateName: "promo", TemplateLanguage: "pt_BR", Audience: vip},
	} {
		_, err = b.svc.Estimate(ctx, b.viewer, in)
		requireKind(t, domain.KindTemplateNotFound, err)
	}
	other := b.viewer
	other.WorkspaceID = b.mem.workspace()
	_, err = b.svc.Estimate(ctx, other, billing.EstimateInput{TemplateName: "promo", TemplateLanguage: "en_US", Audience: vip})
	requireKind(t, domain.KindTemplateNotFound, err)
}

func TestEstimateValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tooMany := make([]string, billing.MaxEstimateRecipients+1)
	for i := range tooMany {
		tooMany[i] = "+14155550100"
	}
	cases := []struct {
		name   string
		in     billing.EstimateInput
		fields []string
	}{
		{"nothing", billing.EstimateInput{}, []string{"category", "recipients"}},
		{"template without audience", billing.EstimateInput{TemplateName: "promo", TemplateLanguage: "en_US"}, []string{"audience"}},
		{"template with an empty audience", billing.EstimateInput{TemplateName: "promo", TemplateLanguage: "en_US",
			Audience: &domain.Audience{}}, []string{"audience"}},
		{"template without language", billing.EstimateInput{TemplateName: "promo", Audience: &domain.Audience{All: true}},
			[]string{"template"}},
		{"audience without template", billing.EstimateInput{Audience: &domain.Audience{All: true}}, []string{"template"}},
		{"malformed audience", billing.EstimateInput{TemplateName: "promo", TemplateLanguage: "en_US",
			Audience: &domain.Audience{All: true, Tags: []string{"vip"}}}, []string{"audience.all"}},
		{"category without recipients", billing.EstimateInput{Category: "marketing"}, []string{"recipients"}},
		{"recipients without category", billing.EstimateInput{Recipients: []string{"+14155550100"}}, []string{"category"}},
		{"too many recipients", billing.EstimateInput{Category: "marketing", Recipients: tooMany}, []string{"recipients"}},
		{"invalid phones", billing.EstimateInput{Category: "marketing",
			Recipients: []string{"+14155550100", "not a phone", "+919812345678", "", "+1415"}},
			[]string{"recipients[1]", "recipients[3]", "recipients[4]"}},
	}
	for _, c := range cases {
		_, err := b.svc.Estimate(ctx, b.viewer, c.in)
		requireFields(t, err, c.fields...)
	}
	require.Empty(t, b.mem.pricesAsked)
}

func TestEstimateByRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	est, err := b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{Category: "MARKETING", Recipients: []string{
		"+14155550100", "+1 (415) 555-0101", "919812345678", "+919812345679", "+919812345670", "0014155550102",
	}})
	require.NoError(t, err)
	require.Equal(t, billing.Estimate{Currency: "USD", Amount: 3*usMarketing + 3*inMarketing, ByMarket: []billing.MarketEstimate{
		{Market: "US", Messages: 3, Amount: 3 * usMarketing},
		{Market: "IN", Messages: 3, Amount: 3 * inMarketing},
	}}, est)
	require.Equal(t, "marketing", b.mem.pricesAsked[0].category)
	require.ElementsMatch(t, []string{"US", "IN"}, b.mem.pricesAsked[0].markets)

	// By amount, most first; equal amounts by market.
	est, err = b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{Category: "marketing",
		Recipients: []string{"+919812345678", "+919812345679", "+919812345670", "+919812345671", "+919812345672", "+14155550100",
			"+14155550101"}})
	require.NoError(t, err)
	require.Equal(t, []billing.MarketEstimate{
		{Market: "IN", Messages: 5, Amount: 5 * inMarketing},
		{Market: "US", Messages: 2, Amount: 2 * usMarketing},
	}, est.ByMarket)

	// The wallet's currency prices: no EUR rate for utility means no price.
	b.mem.wallets[b.ws] = domain.Wallet{Mode: domain.BillingPostpaid, Currency: "EUR"}
	est, err = b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{Category: "marketing", Recipients: []string{"+14155550100"}})
	require.NoError(t, err)
	require.Equal(t, billing.Estimate{Currency: "EUR", Amount: eurMarketing,
		ByMarket: []billing.MarketEstimate{{Market: "US", Messages: 1, Amount: eurMarketing}}}, est)
	est, err = b.svc.Estimate(ctx, b.viewer, billing.EstimateInput{Category: "utility", Recipients: []string{"+14155550100"}})
	require.NoError(t, err)
	require.Equal(t, int64(0), est.Amount)
}

func TestCreditValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	cases := []struct {
		name   string
		in     billing.CreditInput
		fields []string
	}{
		{"zero credit", billing.CreditInput{Amount: 0}, []string{"amount_micros"}},
		{"negative credit", billing.CreditInput{Kind: domain.LedgerCredit, Amount: -100}, []string{"amount_micros"}},
		{"credit too large", billing.CreditInput{Amount: billing.MaxCredit + 1}, []string{"amount_micros"}},
		{"zero refund", billing.CreditInput{Kind: domain.LedgerRefund}, []string{"amount_micros"}},
		{"negative refund", billing.CreditInput{Kind: domain.LedgerRefund, Amount: -1}, []string{"amount_micros"}},
		{"zero adjustment", billing.CreditInput{Kind: domain.LedgerAdjustment}, []string{"amount_micros"}},
		{"adjustment too negative", billing.CreditInput{Kind: domain.LedgerAdjustment, Amount: -billing.MaxCredit - 1},
			[]string{"amount_micros"}},
		{"a charge", billing.CreditInput{Kind: domain.LedgerCharge, Amount: 100}, []string{"kind"}},
		{"unknown kind", billing.CreditInput{Kind: "bonus", Amount: 100}, []string{"kind"}},
		{"reference too long", billing.CreditInput{Amount: 100, Reference: strings.Repeat("r", 201)}, []string{"reference"}},
		{"every field", billing.CreditInput{Amount: -1, Reference: strings.Repeat("r", 300)}, []string{"amount_micros", "reference"}},
	}
	for _, c := range cases {
		_, err := b.svc.Credit(ctx, b.ws, c.in, b.meta)
		requireFields(t, err, c.fields...)
	}
	require.Zero(t, b.mem.txs)

	for _, in := range []billing.CreditInput{
		{Amount: billing.MaxCredit},
		{Kind: domain.LedgerRefund, Amount: 1},
		{Kind: domain.LedgerAdjustment, Amount: -500},
		{Kind: domain.LedgerAdjustment, Amount: -billing.MaxCredit},
		{Amount: 1, Reference: "  " + strings.Repeat("r", 200) + "  "}, // trimmed first
	} {
		_, err := b.svc.Credit(ctx, b.ws, in, b.meta)
		require.NoError(t, err, "%+v", in)
	}
}

func TestCredit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tx, err := b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: 5_000_000, Reference: "  invoice 42 "}, b.meta)
	require.NoError(t, err)
	require.Equal(t, domain.LedgerCredit, tx.Kind)
	require.Equal(t, int64(5_000_000), tx.Amount)
	require.Equal(t, int64(5_000_000), tx.BalanceAfter)
	require.Equal(t, "USD", tx.Currency)
	require.Equal(t, "invoice 42", tx.Reference)
	require.Equal(t, b.clock.now(), tx.CreatedAt)

	tx2, err := b.svc.Credit(ctx, b.ws, billing.CreditInput{Kind: domain.LedgerAdjustment, Amount: -1_500_000}, b.meta)
	require.NoError(t, err)
	require.Equal(t, int64(3_500_000), tx2.BalanceAfter)
	require.Equal(t, int64(3_500_000), b.walletOf(t).Balance)

	require.Len(t, b.mem.events, 2)
	o := b.mem.events[0]
	require.Equal(t, domain.Caller{Type: domain.ActorSystem, WorkspaceID: b.ws, Meta: b.meta}, o.Actor)
	require.Equal(t, b.clock.now(), o.At)
	require.Equal(t, domain.BillingCredited{TransactionID: tx.ID, Entry: domain.LedgerCredit, Amount: 5_000_000, Currency: "USD",
		Reference: "invoice 42", BalanceAfter: 5_000_000}, o.Event)
	require.Equal(t, domain.BillingCredited{TransactionID: tx2.ID, Entry: domain.LedgerAdjustment, Amount: -1_500_000, Currency: "USD",
		BalanceAfter: 3_500_000}, b.mem.events[1].Event)
	entry, ok := o.AuditEntry()
	require.True(t, ok)
	require.Equal(t, "billing.credited", entry.Action)

	// An unknown workspace, and a failed append, leave nothing behind.
	_, err = b.svc.Credit(ctx, domain.NewID(), billing.CreditInput{Amount: 1}, b.meta)
	requireKind(t, domain.KindNotFound, err)
	b.mem.failAppend = errors.New("log down")
	_, err = b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: 1}, b.meta)
	require.ErrorIs(t, err, b.mem.failAppend)
	require.Equal(t, int64(3_500_000), b.walletOf(t).Balance)
	require.Len(t, b.mem.events, 2)
	require.Len(t, b.mem.ledger, 2)
}

// A reference is bounded in characters, as its message says, not in bytes.
func TestCreditReferenceCountsCharacters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.Credit(context.Background(), b.ws, billing.CreditInput{Amount: 1, Reference: strings.Repeat("é", 200)}, b.meta)
	require.NoError(t, err)
}

func TestSetMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.svc.SetMode(ctx, b.ws, "free", "", b.meta)
	requireFields(t, err, "mode")
	_, err = b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "EURO", b.meta)
	requireFields(t, err, "currency")
	_, err = b.svc.SetMode(ctx, b.ws, "", "1$", b.meta)
	requireFields(t, err, "mode", "currency")
	require.Zero(t, b.mem.txs)

	// Nothing changes: no event.
	w, err := b.svc.SetMode(ctx, b.ws, domain.BillingPostpaid, " usd ", b.meta)
	require.NoError(t, err)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPostpaid, Currency: "USD"}, w)
	require.Empty(t, b.mem.events)

	// The mode alone: the currency stays.
	w, err = b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "", b.meta)
	require.NoError(t, err)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD"}, w)
	require.Len(t, b.mem.events, 1)
	require.Equal(t, domain.BillingModeChanged{From: domain.BillingPostpaid, To: domain.BillingPrepaid, FromCurrency: "USD",
		ToCurrency: "USD"}, b.mem.events[0].Event)
	require.Equal(t, domain.Caller{Type: domain.ActorSystem, WorkspaceID: b.ws, Meta: b.meta}, b.mem.events[0].Actor)
	require.Equal(t, w, b.walletOf(t))

	// The currency of an empty wallet.
	w, err = b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "eur", b.meta)
	require.NoError(t, err)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "EUR"}, w)
	require.Equal(t, domain.BillingModeChanged{From: domain.BillingPrepaid, To: domain.BillingPrepaid, FromCurrency: "USD",
		ToCurrency: "EUR"}, b.mem.events[1].Event)

	// A wallet that holds money keeps its currency (the mode may still change), and a
	// refused change leaves the wallet as it was.
	_, err = b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: 1000}, b.meta)
	require.NoError(t, err)
	events := len(b.mem.events)
	_, err = b.svc.SetMode(ctx, b.ws, domain.BillingPostpaid, "USD", b.meta)
	requireKind(t, domain.KindConflict, err)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "EUR", Balance: 1000}, b.walletOf(t))
	require.Len(t, b.mem.events, events)
	w, err = b.svc.SetMode(ctx, b.ws, domain.BillingPostpaid, "EUR", b.meta)
	require.NoError(t, err)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPostpaid, Currency: "EUR", Balance: 1000}, w)
	require.Len(t, b.mem.events, events+1)

	// Reserved money alone also keeps the currency.
	b.mem.wallets[b.ws] = domain.Wallet{Mode: domain.BillingPrepaid, Currency: "EUR", Reserved: 500}
	_, err = b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "USD", b.meta)
	requireKind(t, domain.KindConflict, err)
	require.Equal(t, "EUR", b.walletOf(t).Currency)

	_, err = b.svc.SetMode(ctx, domain.NewID(), domain.BillingPrepaid, "", b.meta)
	requireKind(t, domain.KindNotFound, err)
}

const validCard = "market,category,currency,rate_micros\nUS,marketing,USD,30000\n*,marketing,USD,70000\n"

func TestPutRateCard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	now := b.clock.now()
	old, err := b.svc.RateCard(ctx)
	require.NoError(t, err)

	_, err = b.svc.PutRateCard(ctx, []byte("market,category,currency,rate_micros\nUSA,marketing,USD,1\n"), time.Time{}, b.meta)
	requireFields(t, err, "line 2")
	_, err = b.svc.PutRateCard(ctx, nil, time.Time{}, b.meta)
	requireFields(t, err, "body")
	_, err = b.svc.PutRateCard(ctx, []byte(validCard), now.Add(-2*time.Minute), b.meta)
	requireFields(t, err, "effective_at")
	require.Zero(t, b.mem.txs)

	// In force from now when no time is given.
	card, err := b.svc.PutRateCard(ctx, []byte(validCard), time.Time{}, b.meta)
	require.NoError(t, err)
	require.Equal(t, "operator", card.Source)
	require.Equal(t, now, card.EffectiveAt)
	require.Equal(t, []domain.Rate{{Market: "US", Category: "marketing", Currency: "USD", Micros: 30000},
		{Market: "*", Category: "marketing", Currency: "USD", Micros: 70000}}, card.Rates)
	got, err := b.svc.RateCard(ctx)
	require.NoError(t, err)
	require.Equal(t, card.ID, got.ID)
	require.NotEqual(t, old.ID, got.ID)
	require.Len(t, b.mem.events, 1)
	o := b.mem.events[0]
	require.Equal(t, domain.Caller{Type: domain.ActorSystem, WorkspaceID: domain.NilID, Meta: b.meta}, o.Actor)
	require.Equal(t, domain.RateCardUpdated{CardID: card.ID, EffectiveAt: now, Rates: 2}, o.Event)

	// A moment ago is still now; a future card waits for its time, to the microsecond.
	_, err = b.svc.PutRateCard(ctx, []byte(validCard), now.Add(-30*time.Second), b.meta)
	require.NoError(t, err)
	later := now.Add(time.Hour + 1500*time.Nanosecond).In(time.FixedZone("X", 3600))
	future, err := b.svc.PutRateCard(ctx, []byte(validCard), later, b.meta)
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Hour+time.Microsecond), future.EffectiveAt)
	require.Equal(t, time.UTC, future.EffectiveAt.Location())
	got, err = b.svc.RateCard(ctx)
	require.NoError(t, err)
	require.NotEqual(t, future.ID, got.ID)
	b.clock.advance(2 * time.Hour)
	got, err = b.svc.RateCard(ctx)
	require.NoError(t, err)
	require.Equal(t, future.ID, got.ID)

	// A failed append stores no card.
	b.mem.failAppend = errors.New("log down")
	cards := len(b.mem.cards)
	_, err = b.svc.PutRateCard(ctx, []byte(validCard), time.Time{}, b.meta)
	require.ErrorIs(t, err, b.mem.failAppend)
	require.Len(t, b.mem.cards, cards)
}

func TestRateCardNone(t *testing.T) {
	t.Parallel()
	svc := billing.NewService(billing.Deps{Tx: newMemory(), Store: newMemory(), Authz: policy})
	_, err := svc.RateCard(context.Background())
	requireKind(t, domain.KindNotFound, err)
}

func TestChargesPriced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "", b.meta)
	require.NoError(t, err)
	_, err = b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: 1_000_000}, b.meta)
	require.NoError(t, err)

	us := b.priced("+14155550100")
	in := b.priced("919812345678") // a wa_id
	set := b.priced("+14155550101")
	set.Market = "IN" // a market already known is kept
	unknown := b.priced("")
	free := b.priced("+14155550102")
	free.Pricing = domain.Pricing{Model: "PMP", Type: domain.PricingFreeCustomerService, Category: "utility"}
	require.NoError(t, b.mem.ledgerTx(func(l billing.Ledger) error {
		return l.Reserve(ctx, b.ws, []domain.Hold{{MessageID: us.MessageID, Market: "US", Category: "marketing"},
			{MessageID: free.MessageID, Market: "US", Category: "utility"}}, b.clock.now())
	}))
	require.Equal(t, int64(usMarketing+usUtility), b.walletOf(t).Reserved)

	spends := b.charge(t, us, in, set, unknown, free)
	require.Equal(t, []domain.Spend{
		{Category: "marketing", Currency: "USD", Billable: true, Amount: usMarketing},
		{Category: "marketing", Currency: "USD", Billable: true, Amount: inMarketing},
		{Category: "marketing", Currency: "USD", Billable: true, Amount: inMarketing},
		{Category: "marketing", Currency: "USD", Billable: true, Amount: worldMarketing},
		{Category: "utility", Currency: "USD", Billable: false, Amount: 0},
	}, spends)
	var markets []string
	err = b.svc.ExportUsage(ctx, b.viewer, billing.UsageQuery{}, func(cs []billing.Charge) error {
		for _, c := range cs {
			markets = append(markets, c.Market)
		}
		return nil
	})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"US", "IN", "IN", "", "US"}, markets)
	spent := int64(usMarketing + 2*inMarketing + worldMarketing)
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD", Balance: 1_000_000 - spent}, b.walletOf(t))

	// Meta resends: nothing is charged twice, and a repeat within a batch counts once.
	require.Empty(t, b.charge(t, us, free))
	again := b.priced("+14155550100")
	require.Len(t, b.charge(t, again, again), 1)
	cbp := func() domain.Priced {
		p := b.priced("+14155550100")
		p.Pricing.Model, p.Pricing.ConversationID = "CBP", "conv-9"
		return p
	}
	require.Len(t, b.charge(t, cbp(), cbp()), 1)
	require.Empty(t, b.charge(t, cbp()))
	require.Empty(t, b.charge(t))
	require.Equal(t, 1_000_000-spent-2*usMarketing, b.walletOf(t).Balance)
}

func TestChargesFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.svc.SetMode(ctx, b.ws, domain.BillingPrepaid, "", b.meta)
	require.NoError(t, err)
	_, err = b.svc.Credit(ctx, b.ws, billing.CreditInput{Amount: 60_000}, b.meta)
	require.NoError(t, err)
	m1, m2, m3 := domain.NewID(), domain.NewID(), domain.NewID()
	require.NoError(t, b.mem.ledgerTx(func(l billing.Ledger) error {
		return l.Reserve(ctx, b.ws, []domain.Hold{{MessageID: m1, Market: "US", Category: "marketing"},
			{MessageID: m2, Market: "US", Category: "marketing"}}, b.clock.now())
	}))
	// All or none: a third cannot be covered.
	err = b.mem.ledgerTx(func(l billing.Ledger) error {
		return l.Reserve(ctx, b.ws, []domain.Hold{{MessageID: m3, Market: "US", Category: "utility"},
			{MessageID: domain.NewID(), Market: "US", Category: "marketing"}}, b.clock.now())
	})
	requireKind(t, domain.KindInsufficientBalance, err)
	require.Equal(t, int64(2*usMarketing), b.walletOf(t).Reserved)

	require.NoError(t, b.mem.ledgerTx(func(l billing.Ledger) error {
		return billing.ChargesInTx(l, b.clock.now).Failed(ctx, []domain.Message{{ID: m1, WorkspaceID: b.ws}, {ID: m3, WorkspaceID: b.ws}})
	}))
	require.Equal(t, domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD", Balance: 60_000, Reserved: usMarketing}, b.walletOf(t))
}
