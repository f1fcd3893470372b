// Package billing holds usage and billing (API.md "Usage and billing"): the operator's
// rate cards, each workspace's wallet (prepaid credit or postpaid usage), the ledger of
// credits and of the charges Meta's pricing reports cause, usage reports and estimates.
//
// Charges come from Meta, not from guesses: the processing of status webhooks hands the
// messages Meta priced to Ledger.Charge in its own transaction (Charges), each charged at
// most once, at the rate of the card in force when Meta reported it. In prepaid mode a
// template send reserves its estimated price when it is queued (Reserve, in the send's
// transaction), refused with 402 insufficient_balance when the available balance cannot
// cover it; the charge settles the reservation, a failure releases it.
package billing

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/phone"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Deps are what the use cases need.
type Deps struct {
	Tx        TxRunner
	Store     Store
	Templates Templates
	Authz     authz.Authorizer
	Clock     domain.Clock // nil: time.Now
}

// Service is the billing use cases.
type Service struct {
	d   Deps
	now domain.Clock
}

// NewService returns the billing use cases.
func NewService(d Deps) *Service {
	now := d.Clock
	if now == nil {
		now = time.Now
	}
	return &Service{d: d, now: now}
}

// Wallet returns the workspace's wallet.
func (s *Service) Wallet(ctx context.Context, c domain.Caller) (domain.Wallet, error) {
	if err := authz.Require(s.d.Authz, c, access.BillingRead); err != nil {
		return domain.Wallet{}, err
	}
	return s.d.Store.Wallet(ctx, c.WorkspaceID)
}

// MaxUsageRange bounds a usage query.
const MaxUsageRange = 366 * 24 * time.Hour

// Usage sums the workspace's charges of q by its grouping.
func (s *Service) Usage(ctx context.Context, c domain.Caller, q UsageQuery) ([]UsageRow, error) {
	if err := authz.Require(s.d.Authz, c, access.BillingRead); err != nil {
		return nil, err
	}
	q, err := s.checkQuery(q, true)
	if err != nil {
		return nil, err
	}
	return s.d.Store.Usage(ctx, c.WorkspaceID, q)
}

// ExportPage is how many charges an export reads at a time.
const ExportPage = 1000

// ExportUsage streams the workspace's charges of q, oldest first, a page at a time to
// write (the export never holds them all).
func (s *Service) ExportUsage(ctx context.Context, c domain.Caller, q UsageQuery, write func([]Charge) error) error {
	if err := authz.Require(s.d.Authz, c, access.BillingRead); err != nil {
		return err
	}
	q, err := s.checkQuery(q, false)
	if err != nil {
		return err
	}
	var after Charge
	for {
		page, err := s.d.Store.Charges(ctx, c.WorkspaceID, q, after, ExportPage)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := write(page); err != nil {
				return err
			}
			after = page[len(page)-1]
		}
		if len(page) < ExportPage {
			return nil
		}
	}
}

// checkQuery validates a usage query: a range of at most MaxUsageRange (the last 30 days
// when none is given) and, when grouped, a known grouping.
func (s *Service) checkQuery(q UsageQuery, grouped bool) (UsageQuery, error) {
	var v domain.Validator
	if q.To.IsZero() {
		q.To = s.now().UTC()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-30 * 24 * time.Hour)
	}
	v.Check(q.From.Before(q.To), "from", "must be before to")
	v.Check(q.To.Sub(q.From) <= MaxUsageRange, "to", "must be at most 366 days after from")
	if grouped {
		if q.GroupBy == "" {
			q.GroupBy = ByDay
		}
		switch q.GroupBy {
		case ByDay, ByCategory, ByMarket, ByPhoneNumber, ByCampaign:
		default:
			v.Add("group_by", "must be day, category, market, phone_number or campaign")
		}
	}
	return q, v.Err()
}

// Transactions pages through the workspace's ledger, newest first.
func (s *Service) Transactions(ctx context.Context, c domain.Caller, limit int, cursor domain.ID) (domain.Page[Transaction], error) {
	if err := authz.Require(s.d.Authz, c, access.BillingRead); err != nil {
		return domain.Page[Transaction]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]Transaction, error) {
		return s.d.Store.Transactions(ctx, c.WorkspaceID, cursor, n)
	}, func(t Transaction) domain.ID { return t.ID })
}

// EstimateInput is what to price: a template (its category) to an audience, or a category
// to a list of phones.
type EstimateInput struct {
	TemplateName, TemplateLanguage string
	Audience                       *domain.Audience
	Category                       string
	Recipients                     []string
}

// MarketEstimate is an estimate's part for one market.
type MarketEstimate struct {
	Market   string // the recipients' region; "*" for phones whose region is unknown
	Messages int64
	Amount   int64
}

// Estimate is the price of sending one message to each recipient, at today's card.
type Estimate struct {
	Currency string
	Amount   int64
	ByMarket []MarketEstimate
}

// MaxEstimateRecipients bounds an estimate's phone list.
const MaxEstimateRecipients = 10000

// Estimate prices one message of a template (or a category) to each recipient of an
// audience (or each phone of a list) with the card in force now, in the wallet's currency.
func (s *Service) Estimate(ctx context.Context, c domain.Caller, in EstimateInput) (Estimate, error) {
	if err := authz.Require(s.d.Authz, c, access.BillingRead); err != nil {
		return Estimate{}, err
	}
	var v domain.Validator
	byTemplate := in.TemplateName != "" || in.Audience != nil
	switch {
	case byTemplate:
		v.Check(strings.TrimSpace(in.TemplateName) != "" && strings.TrimSpace(in.TemplateLanguage) != "", "template",
			"needs a name and a language")
		v.Check(in.Audience != nil && !in.Audience.Empty(), "audience", "is required with a template: all, tags or contact_ids")
		if in.Audience != nil {
			if field, why := in.Audience.Check(); why != "" {
				v.Add(field, why)
			}
		}
	default:
		v.Check(domain.KnownPricingCategory(domain.PricingCategory(in.Category)), "category",
			"is required without a template: marketing, utility, authentication, authentication_international, service, ...")
		v.Check(len(in.Recipients) > 0 && len(in.Recipients) <= MaxEstimateRecipients, "recipients", "must list 1 to 10000 phones")
	}
	if err := v.Err(); err != nil {
		return Estimate{}, err
	}
	category := domain.PricingCategory(in.Category)
	counts := map[string]int64{}
	if byTemplate {
		ts, err := s.d.Templates.List(ctx, c.WorkspaceID, templates.Filter{Name: strings.TrimSpace(in.TemplateName),
			Language: strings.TrimSpace(in.TemplateLanguage)}, 1)
		if err != nil {
			return Estimate{}, err
		}
		if len(ts) == 0 {
			return Estimate{}, domain.Errorf(domain.KindTemplateNotFound, "no template %q in %q in this workspace",
				in.TemplateName, in.TemplateLanguage)
		}
		category = domain.PricingCategory(ts[0].Category)
		groups, err := s.d.Store.AudiencePhones(ctx, c.WorkspaceID, *in.Audience)
		if err != nil {
			return Estimate{}, err
		}
		addGroups(counts, groups)
	} else {
		for i, p := range in.Recipients {
			e164, err := phone.Normalize(p)
			if err != nil {
				v.Add("recipients["+strconv.Itoa(i)+"]", "is not a phone number with its country code")
				continue
			}
			counts[phone.Market(e164)]++
		}
		if err := v.Err(); err != nil {
			return Estimate{}, err
		}
	}
	w, err := s.d.Store.Wallet(ctx, c.WorkspaceID)
	if err != nil {
		return Estimate{}, err
	}
	return price(ctx, s.d.Store, s.now().UTC(), w.Currency, category, counts)
}

// addGroups counts grouped phones by their market.
func addGroups(counts map[string]int64, groups []PhoneGroup) {
	for _, g := range groups {
		counts[phone.Market(g.Sample)] += g.Count
	}
}

// price sums counts (recipients by market, "" for unknown) at the card in force at at.
func price(ctx context.Context, store Store, at time.Time, currency, category string, counts map[string]int64) (Estimate, error) {
	markets := make([]string, 0, len(counts))
	for m := range counts {
		markets = append(markets, m)
	}
	rates, err := store.Prices(ctx, at, category, currency, markets)
	if err != nil {
		return Estimate{}, err
	}
	out := Estimate{Currency: currency}
	for _, m := range markets {
		n := counts[m]
		e := MarketEstimate{Market: m, Messages: n, Amount: n * rates[m]}
		if m == "" {
			e.Market = domain.RestOfWorld
		}
		out.Amount += e.Amount
		out.ByMarket = append(out.ByMarket, e)
	}
	slices.SortFunc(out.ByMarket, func(a, b MarketEstimate) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), cmp.Compare(a.Market, b.Market))
	})
	return out, nil
}

// Costs prices a campaign's recipients still to send against the wallet, inside the
// transaction that starts the campaign (campaigns declares the port), so it sees the
// audience that transaction took.
type Costs struct {
	store Store
}

// CostsInTx returns the costs bound to a transaction's Store.
func CostsInTx(store Store) *Costs { return &Costs{store: store} }

// CampaignCost is the price of one message of the template category to each recipient of
// the campaign still to send, at at, in the wallet's currency, and the wallet.
func (c *Costs) CampaignCost(ctx context.Context, ws, campaignID domain.ID, templateCategory string, at time.Time) (domain.Money, domain.Wallet, error) {
	w, err := c.store.Wallet(ctx, ws)
	if err != nil {
		return domain.Money{}, w, err
	}
	groups, err := c.store.RecipientPhones(ctx, ws, campaignID)
	if err != nil {
		return domain.Money{}, w, err
	}
	counts := map[string]int64{}
	addGroups(counts, groups)
	est, err := price(ctx, c.store, at, w.Currency, domain.PricingCategory(templateCategory), counts)
	return domain.Money{Currency: est.Currency, Micros: est.Amount}, w, err
}
