package billing_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/billing"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// memory is an in-memory billing.Store, billing.Ledger, billing.TxRunner, events.Log and
// billing.Templates. A transaction whose function fails keeps nothing of it. Wallets exist
// for the workspaces it knows (a known workspace without one reads as postpaid in the
// default currency, as in Postgres); rate cards are in force from their EffectiveAt.
type memory struct {
	mu         sync.Mutex
	currency   string
	workspaces map[domain.ID]bool
	wallets    map[domain.ID]domain.Wallet
	ledger     []ledgerRow
	charged    map[string]bool       // workspace + charge key
	reserved   map[billing.Ref]int64 // message -> amount held
	cards      []billing.RateCard
	events     []domain.Occurrence
	contacts   []contact
	templates  map[domain.ID][]domain.Template // workspace -> its templates

	// Recorded calls and injected failures.
	txs         int
	usageAsked  []billing.UsageQuery
	chargeAsked []billing.UsageQuery
	pricesAsked []pricesCall
	audiences   []domain.Audience
	failAppend  error
}

type ledgerRow struct {
	ws domain.ID
	t  billing.Transaction
	c  billing.Charge // set for charges
}

type contact struct {
	ws    domain.ID
	id    domain.ID
	phone string
	tags  []string
}

type pricesCall struct {
	at                 time.Time
	category, currency string
	markets            []string
}

func newMemory() *memory {
	return &memory{currency: "USD", workspaces: map[domain.ID]bool{}, wallets: map[domain.ID]domain.Wallet{},
		charged: map[string]bool{}, reserved: map[billing.Ref]int64{}, templates: map[domain.ID][]domain.Template{}}
}

// workspace adds a known workspace.
func (m *memory) workspace() domain.ID {
	ws := domain.NewID()
	m.workspaces[ws] = true
	return ws
}

// card adds a rate card in force from at.
func (m *memory) card(at time.Time, rates ...domain.Rate) {
	m.cards = append(m.cards, billing.RateCard{ID: domain.NewID(), EffectiveAt: at, Source: "default", Rates: rates})
}

func (m *memory) wallet(ws domain.ID) domain.Wallet {
	if w, ok := m.wallets[ws]; ok {
		return w
	}
	return domain.Wallet{Mode: domain.BillingPostpaid, Currency: m.currency}
}

// cardAt is the card in force at at.
func (m *memory) cardAt(at time.Time) (billing.RateCard, bool) {
	var best billing.RateCard
	found := false
	for _, c := range m.cards {
		if !c.EffectiveAt.After(at) && (!found || !c.EffectiveAt.Before(best.EffectiveAt)) {
			best, found = c, true
		}
	}
	return best, found
}

// rate is the market's own rate, else the rest of the world's ("" is the rest of the world).
func (m *memory) rate(at time.Time, market, category, currency string) (int64, bool) {
	c, ok := m.cardAt(at)
	if !ok {
		return 0, false
	}
	var world *int64
	for _, r := range c.Rates {
		if r.Category != category || r.Currency != currency {
			continue
		}
		if market != "" && r.Market == market {
			return r.Micros, true
		}
		if r.Market == domain.RestOfWorld {
			world = &r.Micros
		}
	}
	if world == nil {
		return 0, false
	}
	return *world, true
}

// InTx implements billing.TxRunner.
func (m *memory) InTx(ctx context.Context, fn func(ctx context.Context, r billing.Repos) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txs++
	wallets, ledger, charged, reserved := maps.Clone(m.wallets), slices.Clone(m.ledger), maps.Clone(m.charged), maps.Clone(m.reserved)
	cards, evs := slices.Clone(m.cards), slices.Clone(m.events)
	err := fn(ctx, billing.Repos{Ledger: m, Events: m})
	if err != nil {
		m.wallets, m.ledger, m.charged, m.reserved, m.cards, m.events = wallets, ledger, charged, reserved, cards, evs
	}
	return err
}

func (m *memory) reading() func() { m.mu.Lock(); return m.mu.Unlock }

// Append implements events.Log (inside InTx).
func (m *memory) Append(_ context.Context, os ...domain.Occurrence) error {
	if m.failAppend != nil {
		return m.failAppend
	}
	m.events = append(m.events, os...)
	return nil
}

// Store.

func (m *memory) Wallet(_ context.Context, ws domain.ID) (domain.Wallet, error) {
	defer m.reading()()
	return m.wallet(ws), nil
}

func (m *memory) inRange(r ledgerRow, ws domain.ID, q billing.UsageQuery) bool {
	return r.ws == ws && r.t.Kind == domain.LedgerCharge && !r.t.CreatedAt.Before(q.From) && r.t.CreatedAt.Before(q.To)
}

func (m *memory) Usage(_ context.Context, ws domain.ID, q billing.UsageQuery) ([]billing.UsageRow, error) {
	defer m.reading()()
	m.usageAsked = append(m.usageAsked, q)
	rows := map[string]*billing.UsageRow{}
	for _, r := range m.ledger {
		if !m.inRange(r, ws, q) {
			continue
		}
		var k string
		switch q.GroupBy {
		case billing.ByCategory:
			k = r.c.Category
		case billing.ByMarket:
			k = r.c.Market
		case billing.ByPhoneNumber:
			k = r.c.PhoneNumberID
		case billing.ByCampaign:
			if r.c.CampaignID != nil {
				k = r.c.CampaignID.String()
			}
		default:
			k = r.t.CreatedAt.UTC().Format(time.DateOnly)
		}
		u := rows[k]
		if u == nil {
			u = &billing.UsageRow{Key: k}
			rows[k] = u
		}
		u.Messages++
		if r.c.Billable {
			u.Billable++
		}
		u.Amount += r.c.Amount
	}
	out := make([]billing.UsageRow, 0, len(rows))
	for _, u := range rows {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b billing.UsageRow) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m *memory) Charges(_ context.Context, ws domain.ID, q billing.UsageQuery, after billing.Charge, n int) ([]billing.Charge, error) {
	defer m.reading()()
	m.chargeAsked = append(m.chargeAsked, q)
	var out []billing.Charge
	for _, r := range m.ledger {
		if !m.inRange(r, ws, q) {
			continue
		}
		c := r.c
		if !after.TransactionID.IsZero() && (c.CreatedAt.Before(after.CreatedAt) ||
			c.CreatedAt.Equal(after.CreatedAt) && c.TransactionID.String() <= after.TransactionID.String()) {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b billing.Charge) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.TransactionID.String(), b.TransactionID.String())
	})
	return out[:min(n, len(out))], nil
}

func (m *memory) Transactions(_ context.Context, ws domain.ID, cursor domain.ID, n int) ([]billing.Transaction, error) {
	defer m.reading()()
	var out []billing.Transaction
	for _, r := range m.ledger {
		if r.ws != ws || r.t.Kind == domain.LedgerCharge && r.t.Amount == 0 ||
			!cursor.IsZero() && r.t.ID.String() >= cursor.String() {
			continue
		}
		out = append(out, r.t)
	}
	slices.SortFunc(out, func(a, b billing.Transaction) int { return strings.Compare(b.ID.String(), a.ID.String()) })
	return out[:min(n, len(out))], nil
}

func (m *memory) RateCard(_ context.Context, at time.Time) (billing.RateCard, error) {
	defer m.reading()()
	c, ok := m.cardAt(at)
	if !ok {
		return billing.RateCard{}, domain.NotFound("rate card")
	}
	return c, nil
}

func (m *memory) Prices(_ context.Context, at time.Time, category, currency string, markets []string) (map[string]int64, error) {
	defer m.reading()()
	m.pricesAsked = append(m.pricesAsked, pricesCall{at: at, category: category, currency: currency, markets: slices.Clone(markets)})
	out := map[string]int64{}
	for _, mk := range markets {
		if r, ok := m.rate(at, mk, category, currency); ok {
			out[mk] = r
		}
	}
	return out, nil
}

// AudiencePhones groups the phones of the contacts a names by their first 7 characters,
// as the Postgres adapter does.
func (m *memory) AudiencePhones(_ context.Context, ws domain.ID, a domain.Audience) ([]billing.PhoneGroup, error) {
	defer m.reading()()
	m.audiences = append(m.audiences, a)
	groups := map[string]*billing.PhoneGroup{}
	var order []string
	for _, c := range m.contacts {
		named := a.All || slices.Contains(a.ContactIDs, c.id)
		for _, t := range a.Tags {
			named = named || slices.Contains(c.tags, t)
		}
		if c.ws != ws || !named || c.phone == "" {
			continue
		}
		k := c.phone[:min(7, len(c.phone))]
		g := groups[k]
		if g == nil {
			g = &billing.PhoneGroup{Sample: c.phone}
			groups[k] = g
			order = append(order, k)
		}
		g.Sample = min(g.Sample, c.phone)
		g.Count++
	}
	out := make([]billing.PhoneGroup, len(order))
	for i, k := range order {
		out[i] = *groups[k]
	}
	return out, nil
}

// Ledger (inside InTx: the lock is held).

func (m *memory) Credit(_ context.Context, ws domain.ID, kind domain.LedgerKind, amount int64, reference string, at time.Time) (billing.Transaction, error) {
	if !m.workspaces[ws] {
		return billing.Transaction{}, domain.NotFound("workspace")
	}
	w := m.wallet(ws)
	if amount < 0 && w.Mode == domain.BillingPrepaid && w.Available()+amount < 0 {
		return billing.Transaction{}, domain.Errorf(domain.KindConflict, "below zero")
	}
	w.Balance += amount
	m.wallets[ws] = w
	t := billing.Transaction{ID: domain.NewID(), WorkspaceID: ws, Kind: kind, Amount: amount, BalanceAfter: w.Balance,
		Currency: w.Currency, Reference: reference, CreatedAt: at}
	m.ledger = append(m.ledger, ledgerRow{ws: ws, t: t})
	return t, nil
}

func (m *memory) SetMode(_ context.Context, ws domain.ID, mode domain.BillingMode, currency string, _ time.Time) (domain.Wallet, error) {
	if !m.workspaces[ws] {
		return domain.Wallet{}, domain.NotFound("workspace")
	}
	before := m.wallet(ws)
	w := before
	w.Mode = mode
	if currency != "" {
		w.Currency = currency
	}
	m.wallets[ws] = w
	return before, nil
}

func (m *memory) PutRateCard(_ context.Context, c billing.RateCard, _ time.Time) error {
	m.cards = append(m.cards, c)
	return nil
}

// Charge records each charge key once per workspace, priced at the card in force when
// Meta reported it, and settles the reservations of every message it is given.
func (m *memory) Charge(_ context.Context, ps []domain.Priced, at time.Time) ([]billing.Charge, error) {
	var out []billing.Charge
	for _, p := range ps {
		w := m.wallet(p.WorkspaceID)
		ref := billing.Ref{WorkspaceID: p.WorkspaceID, MessageID: p.MessageID}
		if held, ok := m.reserved[ref]; ok {
			w.Reserved -= held
			delete(m.reserved, ref)
		}
		key := p.WorkspaceID.String() + "/" + p.Pricing.ChargeKey(p.MessageID)
		if m.charged[key] {
			m.wallets[p.WorkspaceID] = w
			continue
		}
		m.charged[key] = true
		var amount int64
		if p.Pricing.Charged() {
			amount, _ = m.rate(p.At, p.Market, p.Pricing.Category, w.Currency)
		}
		w.Balance -= amount
		m.wallets[p.WorkspaceID] = w
		c := billing.Charge{TransactionID: domain.NewID(), MessageID: p.MessageID, PhoneNumberID: p.PhoneNumberID,
			CampaignID: p.CampaignID, Market: p.Market, Category: p.Pricing.Category, PricingModel: p.Pricing.Model,
			PricingType: p.Pricing.Type, Billable: p.Pricing.Charged(), Currency: w.Currency, Amount: amount, CreatedAt: at}
		m.ledger = append(m.ledger, ledgerRow{ws: p.WorkspaceID, c: c, t: billing.Transaction{ID: c.TransactionID,
			WorkspaceID: p.WorkspaceID, Kind: domain.LedgerCharge, Amount: -amount, BalanceAfter: w.Balance, Currency: w.Currency,
			Reference: p.MessageID.String(), CreatedAt: at}})
		out = append(out, c)
	}
	return out, nil
}

// Reserve holds the holds' estimated prices in a prepaid wallet, all or none.
func (m *memory) Reserve(_ context.Context, ws domain.ID, holds []domain.Hold, at time.Time) error {
	w := m.wallet(ws)
	if w.Mode != domain.BillingPrepaid {
		return nil
	}
	amounts := make([]int64, len(holds))
	var total int64
	for i, h := range holds {
		amounts[i], _ = m.rate(at, h.Market, h.Category, w.Currency)
		total += amounts[i]
	}
	if total > w.Available() {
		return domain.Errorf(domain.KindInsufficientBalance, "the available balance (%d micros) cannot cover %d micros", w.Available(), total)
	}
	for i, h := range holds {
		if amounts[i] > 0 {
			m.reserved[billing.Ref{WorkspaceID: ws, MessageID: h.MessageID}] += amounts[i]
		}
	}
	w.Reserved += total
	m.wallets[ws] = w
	return nil
}

func (m *memory) Release(_ context.Context, ms []billing.Ref) error {
	for _, r := range ms {
		held, ok := m.reserved[r]
		if !ok {
			continue
		}
		w := m.wallet(r.WorkspaceID)
		w.Reserved -= held
		m.wallets[r.WorkspaceID] = w
		delete(m.reserved, r)
	}
	return nil
}

// List implements billing.Templates.
func (m *memory) List(_ context.Context, ws domain.ID, f templates.Filter, limit int) ([]domain.Template, error) {
	defer m.reading()()
	var out []domain.Template
	for _, t := range m.templates[ws] {
		if (f.Name == "" || t.Name == f.Name) && (f.Language == "" || t.Language == f.Language) {
			out = append(out, t)
		}
	}
	return out[:min(limit, len(out))], nil
}

// ledgerTx runs fn in a transaction with the ledger: what the send path and the status
// processing do.
func (m *memory) ledgerTx(fn func(l billing.Ledger) error) error {
	return m.InTx(context.Background(), func(_ context.Context, r billing.Repos) error { return fn(r.Ledger) })
}

// RecipientPhones implements billing.Store: campaigns are not this package's; none here.
func (m *memory) RecipientPhones(context.Context, domain.ID, domain.ID) ([]billing.PhoneGroup, error) {
	return nil, nil
}
