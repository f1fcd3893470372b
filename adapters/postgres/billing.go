package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/billing"
	"github.com/wabaplatform/waba/domain"
)

// BillingRepo stores rate cards, wallets and the ledger. Prices come from the SQL function
// billing_rate (migration 0020), the one pricing rule charges, reservations and estimates
// share. A wallet row is created when first needed, in the default currency.
//
// Locks: a write that moves a wallet locks its row (billing_accounts) last in its
// transaction, after the rows of the capability that calls it (contacts, messages,
// campaign recipients), so sends, status processing and credits wait for each other in
// one order.
type BillingRepo struct {
	q        Querier
	currency string // a new wallet's currency (BILLING_DEFAULT_CURRENCY)
}

// NewBillingRepo returns the repository over q (a pool or a transaction); new wallets are
// postpaid in currency.
func NewBillingRepo(q Querier, currency string) *BillingRepo {
	return &BillingRepo{q: q, currency: currency}
}

// Wallet implements billing.Store.
func (r *BillingRepo) Wallet(ctx context.Context, ws domain.ID) (domain.Wallet, error) {
	w := domain.Wallet{Mode: domain.BillingPostpaid, Currency: r.currency}
	var mode string
	err := r.q.QueryRow(ctx, `SELECT mode, currency, balance_micros, reserved_micros FROM billing_accounts WHERE workspace_id = $1`, ws).
		Scan(&mode, &w.Currency, &w.Balance, &w.Reserved)
	if err == pgx.ErrNoRows {
		return w, nil
	}
	w.Mode = domain.BillingMode(mode)
	return w, err
}

// ensure creates the workspace's wallet when it has none; KindNotFound for an unknown
// workspace.
func (r *BillingRepo) ensure(ctx context.Context, ws domain.ID, at time.Time) error {
	tag, err := r.q.Exec(ctx, `
		INSERT INTO billing_accounts (workspace_id, mode, currency, updated_at)
		SELECT id, 'postpaid', $2, $3 FROM workspaces WHERE id = $1 AND deleted_at IS NULL
		ON CONFLICT DO NOTHING`, ws, r.currency, at)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		var ok bool
		if err := r.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM billing_accounts WHERE workspace_id = $1)`, ws).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return domain.NotFound("workspace")
		}
	}
	return nil
}

// lock reads the wallet and locks its row until the transaction ends.
func (r *BillingRepo) lock(ctx context.Context, ws domain.ID, at time.Time) (domain.Wallet, error) {
	if err := r.ensure(ctx, ws, at); err != nil {
		return domain.Wallet{}, err
	}
	var w domain.Wallet
	var mode string
	err := r.q.QueryRow(ctx, `SELECT mode, currency, balance_micros, reserved_micros FROM billing_accounts WHERE workspace_id = $1 FOR UPDATE`, ws).
		Scan(&mode, &w.Currency, &w.Balance, &w.Reserved)
	w.Mode = domain.BillingMode(mode)
	return w, err
}

// Credit implements billing.Ledger. In prepaid mode a negative adjustment may not take
// the available balance below zero.
func (r *BillingRepo) Credit(ctx context.Context, ws domain.ID, kind domain.LedgerKind, amount int64, reference string, at time.Time) (billing.Transaction, error) {
	w, err := r.lock(ctx, ws, at)
	if err != nil {
		return billing.Transaction{}, err
	}
	if amount < 0 && w.Mode == domain.BillingPrepaid && w.Available()+amount < 0 {
		return billing.Transaction{}, domain.Errorf(domain.KindConflict, "the adjustment would take the available balance (%d micros) below zero", w.Available())
	}
	t := billing.Transaction{ID: domain.NewID(), WorkspaceID: ws, Kind: kind, Amount: amount, BalanceAfter: w.Balance + amount,
		Currency: w.Currency, Reference: reference, CreatedAt: at}
	b := &pgx.Batch{}
	b.Queue(`UPDATE billing_accounts SET balance_micros = $2, updated_at = $3 WHERE workspace_id = $1`, ws, t.BalanceAfter, at)
	b.Queue(`INSERT INTO billing_ledger (workspace_id, id, kind, amount_micros, balance_after_micros, currency, reference, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, ws, t.ID, string(kind), amount, t.BalanceAfter, t.Currency, cleanText(reference), at)
	return t, r.q.SendBatch(ctx, b).Close()
}

// SetMode implements billing.Ledger.
func (r *BillingRepo) SetMode(ctx context.Context, ws domain.ID, mode domain.BillingMode, currency string, at time.Time) (domain.Wallet, error) {
	before, err := r.lock(ctx, ws, at)
	if err != nil {
		return before, err
	}
	_, err = r.q.Exec(ctx, `UPDATE billing_accounts SET mode = $2, currency = coalesce(nullif($3, ''), currency), updated_at = $4
		WHERE workspace_id = $1`, ws, string(mode), currency, at)
	return before, err
}

// PutRateCard implements billing.Ledger.
func (r *BillingRepo) PutRateCard(ctx context.Context, c billing.RateCard, at time.Time) error {
	n := len(c.Rates)
	markets, categories, currencies, micros := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, rt := range c.Rates {
		markets[i], categories[i], currencies[i], micros[i] = rt.Market, rt.Category, rt.Currency, rt.Micros
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO rate_cards (id, effective_at, source, created_at) VALUES ($1, $2, $3, $4)`, c.ID, c.EffectiveAt, c.Source, at)
	b.Queue(`INSERT INTO rate_card_rates (card_id, market, category, currency, rate_micros)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[])`, c.ID, markets, categories, currencies, micros)
	return r.q.SendBatch(ctx, b).Close()
}

// RateCard implements billing.Store.
func (r *BillingRepo) RateCard(ctx context.Context, at time.Time) (billing.RateCard, error) {
	var c billing.RateCard
	err := r.q.QueryRow(ctx, `SELECT id, effective_at, source FROM rate_cards WHERE id = billing_card($1)`, at).
		Scan(&c.ID, &c.EffectiveAt, &c.Source)
	if err != nil {
		return c, notFound(err, "rate card")
	}
	c.EffectiveAt = c.EffectiveAt.UTC()
	rows, err := r.q.Query(ctx, `SELECT market, category, currency, rate_micros FROM rate_card_rates WHERE card_id = $1
		ORDER BY currency, category, market = '*', market`, c.ID)
	if err != nil {
		return c, err
	}
	c.Rates, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Rate, error) {
		var rt domain.Rate
		err := row.Scan(&rt.Market, &rt.Category, &rt.Currency, &rt.Micros)
		return rt, err
	})
	return c, err
}

// Prices implements billing.Store.
func (r *BillingRepo) Prices(ctx context.Context, at time.Time, category, currency string, markets []string) (map[string]int64, error) {
	rows, err := r.q.Query(ctx, `SELECT m, billing_rate($1, m, $2, $3) FROM unnest($4::text[]) AS m WHERE billing_rate($1, m, $2, $3) IS NOT NULL`,
		at, category, currency, markets)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var m string
	var rate int64
	_, err = pgx.ForEachRow(rows, []any{&m, &rate}, func() error { out[m] = rate; return nil })
	return out, err
}

// AudiencePhones implements billing.Store.
func (r *BillingRepo) AudiencePhones(ctx context.Context, ws domain.ID, a domain.Audience) ([]billing.PhoneGroup, error) {
	named, args := audienceContacts(a, "id, phone", []any{ws})
	if named == "" {
		return nil, nil
	}
	return r.phoneGroups(ctx, named, args)
}

// RecipientPhones implements billing.Store.
func (r *BillingRepo) RecipientPhones(ctx context.Context, ws, campaignID domain.ID) ([]billing.PhoneGroup, error) {
	return r.phoneGroups(ctx, `SELECT c.id, c.phone FROM campaign_recipients x
		JOIN contacts c ON c.workspace_id = x.workspace_id AND c.id = x.contact_id
		WHERE x.workspace_id = $1 AND x.campaign_id = $2
			AND ((x.status = 'pending' AND x.message_id IS NULL) OR x.status = 'retry_scheduled')`, []any{ws, campaignID})
}

// phoneGroups groups the phones (column phone) of the contacts query by their first digits
// (the country calling code and, for shared codes such as +1 and +44, enough of the number
// to tell its region): one query however many contacts.
func (r *BillingRepo) phoneGroups(ctx context.Context, contacts string, args []any) ([]billing.PhoneGroup, error) {
	rows, err := r.q.Query(ctx, `SELECT min(phone), count(*) FROM (`+contacts+`) a WHERE phone IS NOT NULL GROUP BY left(phone, 7)`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.PhoneGroup, error) {
		var g billing.PhoneGroup
		err := row.Scan(&g.Sample, &g.Count)
		return g, err
	})
}

// Charge implements billing.Ledger in one round trip: the wallets are created when
// missing, and prepaid ones locked (in workspace order) when a charge may cost something;
// then one statement prices the messages not charged yet (a charge key once, however often
// the batch names it) with the card in force when Meta reported each, appends them with the
// balance after each, settles every priced message's reservation and moves the wallets by
// what it appended. A charge already appended is found by a probe of the charge keys'
// index each (a LATERAL subquery with a LIMIT, which the planner cannot turn into an anti
// join hashing the whole ledger, as it did with NOT EXISTS while it thought it small).
// The unique charge key makes a message charged once whatever runs at once, and the
// wallets move by the charges actually appended, so balances are exact.
// balance_after_micros is exact under a prepaid wallet's lock; a postpaid wallet is not
// locked (status processing of one workspace would queue on it), so two of its batches
// charging at the same instant may each compute theirs from the balance before the other.

func (r *BillingRepo) Charge(ctx context.Context, ps []domain.Priced, at time.Time) ([]billing.Charge, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	n := len(ps)
	wss, ids, msgs := make([]domain.ID, n), make([]domain.ID, n), make([]domain.ID, n)
	keys, numbers, markets, categories, models, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	campaigns := make([]*domain.ID, n)
	billable := make([]bool, n)
	reported := make([]time.Time, n)
	var locked []domain.ID
	seen := map[domain.ID]bool{}
	for i, p := range ps {
		wss[i], ids[i], msgs[i], campaigns[i] = p.WorkspaceID, domain.NewID(), p.MessageID, p.CampaignID
		keys[i], numbers[i], markets[i], categories[i] = p.Pricing.ChargeKey(p.MessageID), p.PhoneNumberID, p.Market, p.Pricing.Category
		models[i], types[i], billable[i], reported[i] = p.Pricing.Model, p.Pricing.Type, p.Pricing.Charged(), p.At
		if billable[i] && !seen[p.WorkspaceID] {
			seen[p.WorkspaceID] = true
			locked = append(locked, p.WorkspaceID)
		}
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO billing_accounts (workspace_id, mode, currency, updated_at)
		SELECT DISTINCT ws, 'postpaid', $2::text, $3::timestamptz FROM unnest($1::uuid[]) AS ws ON CONFLICT DO NOTHING`, wss, r.currency, at)
	if len(locked) > 0 {
		b.Queue(`SELECT 1 FROM billing_accounts WHERE workspace_id = ANY ($1::uuid[]) AND mode = 'prepaid'
			ORDER BY workspace_id FOR UPDATE`, locked)
	}
	var out []billing.Charge
	b.Queue(`
		WITH c AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::text[],
				$9::text[], $10::text[], $11::bool[], $12::timestamptz[])
				AS c (workspace_id, id, charge_key, message_id, phone_number_id, campaign_id, market, category, pricing_model,
					pricing_type, billable, reported_at)),
		fresh AS (
			SELECT DISTINCT ON (c.workspace_id, c.charge_key) c.*, a.currency, a.balance_micros, p.id AS card_id,
				CASE WHEN c.billable THEN coalesce(own.rate_micros, rest.rate_micros, 0) ELSE 0 END AS amount
			FROM c JOIN billing_accounts a ON a.workspace_id = c.workspace_id
			LEFT JOIN rate_card_periods p ON p.effective_at <= c.reported_at AND (p.until IS NULL OR c.reported_at < p.until)
			LEFT JOIN rate_card_rates own ON own.card_id = p.id AND own.currency = a.currency AND own.category = c.category
				AND own.market = c.market
			LEFT JOIN rate_card_rates rest ON rest.card_id = p.id AND rest.currency = a.currency AND rest.category = c.category
				AND rest.market = '*'
			LEFT JOIN LATERAL (SELECT true AS done FROM billing_ledger l
				WHERE l.workspace_id = c.workspace_id AND l.charge_key = c.charge_key LIMIT 1) l ON true
			WHERE l.done IS NULL
			ORDER BY c.workspace_id, c.charge_key, c.id),
		ins AS (
			INSERT INTO billing_ledger (workspace_id, id, kind, amount_micros, balance_after_micros, currency, created_at, charge_key,
				message_id, phone_number_id, campaign_id, market, category, pricing_model, pricing_type, billable, rate_card_id)
			SELECT workspace_id, id, 'charge', -amount,
				balance_micros - sum(amount) OVER (PARTITION BY workspace_id ORDER BY id), currency, $13, charge_key,
				message_id, phone_number_id, campaign_id, market, category, pricing_model, pricing_type, billable, card_id
			FROM fresh
			ON CONFLICT DO NOTHING
			RETURNING workspace_id, id, message_id, phone_number_id, campaign_id, market, category, pricing_model, pricing_type,
				billable, currency, -amount_micros AS amount),
		settled AS (
			DELETE FROM billing_reservations x USING c
			WHERE x.workspace_id = c.workspace_id AND x.message_id = c.message_id
			RETURNING x.workspace_id, x.amount_micros),
		d AS (
			SELECT workspace_id, sum(amount) AS charged, 0 AS released FROM ins GROUP BY workspace_id
			UNION ALL SELECT workspace_id, 0, sum(amount_micros) FROM settled GROUP BY workspace_id),
		moved AS (
			UPDATE billing_accounts a SET balance_micros = a.balance_micros - s.charged, reserved_micros = a.reserved_micros - s.released,
				updated_at = $13
			FROM (SELECT workspace_id, sum(charged) AS charged, sum(released) AS released FROM d GROUP BY workspace_id) s
			WHERE a.workspace_id = s.workspace_id AND (s.charged <> 0 OR s.released <> 0))
		SELECT id, message_id, coalesce(phone_number_id, ''), campaign_id, coalesce(market, ''), coalesce(category, ''),
			coalesce(pricing_model, ''), coalesce(pricing_type, ''), billable, currency, amount FROM ins`,
		wss, ids, keys, msgs, numbers, campaigns, markets, categories, models, types, billable, reported, at).
		Query(func(rows pgx.Rows) error {
			var err error
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Charge, error) {
				c := billing.Charge{CreatedAt: at}
				err := row.Scan(&c.TransactionID, &c.MessageID, &c.PhoneNumberID, &c.CampaignID, &c.Market, &c.Category,
					&c.PricingModel, &c.PricingType, &c.Billable, &c.Currency, &c.Amount)
				return c, err
			})
			return err
		})
	return out, r.q.SendBatch(ctx, b).Close()
}

// Reserve implements billing.Ledger in one statement: under the wallet's lock, the holds
// are priced and taken together when the wallet is prepaid and its available balance
// covers them.
func (r *BillingRepo) Reserve(ctx context.Context, ws domain.ID, holds []domain.Hold, at time.Time) error {
	if len(holds) == 0 {
		return nil
	}
	n := len(holds)
	ids, markets, categories := make([]domain.ID, n), make([]string, n), make([]string, n)
	for i, h := range holds {
		ids[i], markets[i], categories[i] = h.MessageID, h.Market, h.Category
	}
	var mode *string
	var total, available int64
	var taken bool
	err := r.q.QueryRow(ctx, `
		WITH a AS (
			SELECT mode, currency, balance_micros - reserved_micros AS available FROM billing_accounts
			WHERE workspace_id = $1 AND mode = 'prepaid' FOR UPDATE),
		h AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[]) AS h (message_id, market, category)),
		p AS (SELECT h.message_id, coalesce(billing_rate($5, h.market, h.category, a.currency), 0) AS amount FROM h, a),
		t AS (SELECT coalesce(sum(amount), 0)::bigint AS total FROM p),
		ok AS (
			UPDATE billing_accounts SET reserved_micros = reserved_micros + t.total, updated_at = $5
			FROM t, a WHERE billing_accounts.workspace_id = $1 AND t.total > 0 AND a.available >= t.total
			RETURNING 1),
		ins AS (
			INSERT INTO billing_reservations (workspace_id, message_id, amount_micros, created_at)
			SELECT $1, message_id, amount, $5 FROM p WHERE amount > 0 AND EXISTS (SELECT 1 FROM ok))
		SELECT (SELECT mode FROM a), (SELECT total FROM t), coalesce((SELECT available FROM a), 0), EXISTS (SELECT 1 FROM ok)`,
		ws, ids, markets, categories, at).Scan(&mode, &total, &available, &taken)
	if err != nil {
		return err
	}
	if mode != nil && total > 0 && !taken {
		return domain.Errorf(domain.KindInsufficientBalance, "the available balance (%d micros) cannot cover %d micros for %d messages",
			available, total, n)
	}
	return nil
}

// Release implements billing.Ledger.
func (r *BillingRepo) Release(ctx context.Context, ms []billing.Ref) error {
	if len(ms) == 0 {
		return nil
	}
	wss, ids := make([]domain.ID, len(ms)), make([]domain.ID, len(ms))
	for i, m := range ms {
		wss[i], ids[i] = m.WorkspaceID, m.MessageID
	}
	_, err := r.q.Exec(ctx, `
		WITH x AS (
			DELETE FROM billing_reservations x USING unnest($1::uuid[], $2::uuid[]) AS m (workspace_id, message_id)
			WHERE x.workspace_id = m.workspace_id AND x.message_id = m.message_id
			RETURNING x.workspace_id, x.amount_micros),
		s AS (SELECT workspace_id, sum(amount_micros) AS released FROM x GROUP BY workspace_id ORDER BY workspace_id)
		UPDATE billing_accounts a SET reserved_micros = a.reserved_micros - s.released
		FROM s WHERE a.workspace_id = s.workspace_id`, wss, ids)
	return err
}

// usageKeys are the expressions usage is grouped by.
var usageKeys = map[billing.GroupBy]string{
	billing.ByDay:         `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
	billing.ByCategory:    `coalesce(category, '')`,
	billing.ByMarket:      `coalesce(nullif(market, ''), '*')`,
	billing.ByPhoneNumber: `coalesce(phone_number_id, '')`,
	billing.ByCampaign:    `coalesce(campaign_id::text, '')`,
}

// Usage implements billing.Store.
func (r *BillingRepo) Usage(ctx context.Context, ws domain.ID, q billing.UsageQuery) ([]billing.UsageRow, error) {
	key, ok := usageKeys[q.GroupBy]
	if !ok {
		key = usageKeys[billing.ByDay]
	}
	rows, err := r.q.Query(ctx, `
		SELECT `+key+` AS k, count(*), count(*) FILTER (WHERE billable), coalesce(sum(-amount_micros), 0)::bigint
		FROM billing_ledger WHERE workspace_id = $1 AND kind = 'charge' AND created_at >= $2 AND created_at < $3
		GROUP BY k ORDER BY k`, ws, q.From, q.To)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.UsageRow, error) {
		var u billing.UsageRow
		err := row.Scan(&u.Key, &u.Messages, &u.Billable, &u.Amount)
		return u, err
	})
}

// Charges implements billing.Store (keyset on the usage index).
func (r *BillingRepo) Charges(ctx context.Context, ws domain.ID, q billing.UsageQuery, after billing.Charge, n int) ([]billing.Charge, error) {
	from, afterID := q.From, domain.NilID
	if !after.TransactionID.IsZero() {
		from, afterID = after.CreatedAt, after.TransactionID
	}
	rows, err := r.q.Query(ctx, `
		SELECT id, message_id, coalesce(phone_number_id, ''), campaign_id, coalesce(market, ''), coalesce(category, ''),
			coalesce(pricing_model, ''), coalesce(pricing_type, ''), coalesce(billable, false), currency, -amount_micros, created_at
		FROM billing_ledger
		WHERE workspace_id = $1 AND kind = 'charge' AND (created_at, id) > ($2, $3) AND created_at >= $4 AND created_at < $5
		ORDER BY created_at, id LIMIT $6`, ws, from, afterID, q.From, q.To, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Charge, error) {
		var c billing.Charge
		err := row.Scan(&c.TransactionID, &c.MessageID, &c.PhoneNumberID, &c.CampaignID, &c.Market, &c.Category, &c.PricingModel,
			&c.PricingType, &c.Billable, &c.Currency, &c.Amount, &c.CreatedAt)
		c.CreatedAt = c.CreatedAt.UTC()
		return c, err
	})
}

// Transactions implements billing.Store: free charges (0) are usage, not transactions.
func (r *BillingRepo) Transactions(ctx context.Context, ws domain.ID, cursor domain.ID, n int) ([]billing.Transaction, error) {
	w := &where{}
	w.add("workspace_id = $?", ws)
	w.cursor("id < $?", cursor)
	rows, err := r.q.Query(ctx, `
		SELECT workspace_id, id, kind, amount_micros, balance_after_micros, currency, coalesce(reference, message_id::text, ''), created_at
		FROM billing_ledger WHERE `+w.sql()+` AND (kind <> 'charge' OR amount_micros <> 0)
		ORDER BY id DESC LIMIT `+w.next(), append(w.args, n)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Transaction, error) {
		var t billing.Transaction
		var kind string
		err := row.Scan(&t.WorkspaceID, &t.ID, &kind, &t.Amount, &t.BalanceAfter, &t.Currency, &t.Reference, &t.CreatedAt)
		t.Kind, t.CreatedAt = domain.LedgerKind(kind), t.CreatedAt.UTC()
		return t, err
	})
}
