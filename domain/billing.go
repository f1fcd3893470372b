package domain

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BillingMode is how a workspace pays: prepaid credit that sends draw on (and that blocks
// a send it cannot cover), or postpaid usage that never blocks.
type BillingMode string

// The billing modes.
const (
	BillingPrepaid  BillingMode = "prepaid"
	BillingPostpaid BillingMode = "postpaid"
)

// Money is an amount of micros of a currency.
type Money struct {
	Currency string
	Micros   int64
}

// Wallet is a workspace's balance. Money is integer micros of Currency.
type Wallet struct {
	Mode     BillingMode
	Currency string
	Balance  int64
	Reserved int64 // estimated prices of queued template sends, held until charged
}

// Available is what a new reservation may take.
func (w Wallet) Available() int64 { return w.Balance - w.Reserved }

// LedgerKind is the kind of a ledger entry (a transaction).
type LedgerKind string

// The ledger kinds (API.md "Usage and billing").
const (
	LedgerCredit     LedgerKind = "credit"
	LedgerCharge     LedgerKind = "charge"
	LedgerRefund     LedgerKind = "refund"
	LedgerAdjustment LedgerKind = "adjustment"
)

// Pricing is Meta's account of what it charges for one message, as a status report gives
// it: Model PMP (per message, since July 2025) or CBP (per conversation, legacy), Type
// regular (charged), free_customer_service or free_entry_point, and the category.
type Pricing struct {
	Model    string
	Type     string
	Category string // normalized: lower case, '_' (PricingCategory)
	// Billable is nil when Meta no longer sends it (it is being deprecated).
	Billable       *bool
	ConversationID string // CBP's conversation, when Meta sent one
}

// Pricing types.
const (
	PricingRegular             = "regular"
	PricingFreeCustomerService = "free_customer_service"
	PricingFreeEntryPoint      = "free_entry_point"
)

// Charged reports whether Meta charges for the message: its type says so, and without a
// type (older payloads) its billable flag does. Free types are never charged.
func (p Pricing) Charged() bool {
	if p.Type != "" {
		return p.Type == PricingRegular
	}
	return p.Billable != nil && *p.Billable
}

// ChargeKey names what one charge covers: the message, or under CBP the conversation (a
// conversation is charged once whatever number of messages it holds).
func (p Pricing) ChargeKey(messageID ID) string {
	if strings.EqualFold(p.Model, "CBP") && p.ConversationID != "" {
		return "cbp:" + p.ConversationID
	}
	return messageID.String()
}

// pricingCategories are the categories Meta prices by (its pricing object's category).
var pricingCategories = []string{"marketing", "utility", "authentication", "authentication_international", "service",
	"marketing_lite", "referral_conversion", "group_marketing", "group_utility", "group_service"}

// KnownPricingCategory reports whether c (normalized) is one of Meta's pricing categories.
func KnownPricingCategory(c string) bool { return slices.Contains(pricingCategories, c) }

// PricingCategory normalizes a category as the rate card keys it: Meta writes
// "authentication-international" and "authentication_international", templates say
// "MARKETING".
func PricingCategory(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
}

// Priced is a message Meta reported the pricing of, delivered to its recipient.
type Priced struct {
	WorkspaceID   ID
	MessageID     ID
	PhoneNumberID string
	CampaignID    *ID
	Recipient     string // the user's number (wa_id digits or E.164), "" when unknown
	Market        string // the recipient's ISO 3166 alpha-2 region, "" when unknown
	Pricing       Pricing
	At            time.Time // when Meta reported it: the rate card in force then prices it
}

// Hold is the reservation a queued template send asks of a prepaid wallet: its estimated
// price, one message of Category (a pricing category) to Market.
type Hold struct {
	MessageID ID
	Market    string
	Category  string
}

// Spend is what one recorded charge costs, for the metrics.
type Spend struct {
	Category string
	Currency string
	Billable bool
	Amount   int64
}

// Rate is one line of a rate card: the price of a message of Category to Market in
// Currency. Market "*" is the rest of the world.
type Rate struct {
	Market   string
	Category string
	Currency string
	Micros   int64
}

// RestOfWorld is the market of a rate that applies where no market's own does.
const RestOfWorld = "*"

// Bounds of a rate card.
const (
	MaxRateCardLines = 20000
	maxRateMicros    = 1_000_000_000_000 // a million units of any currency per message: a typo
)

var (
	marketCode   = regexp.MustCompile(`^[A-Z]{2}$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	categoryWord = regexp.MustCompile(`^[a-z][a-z_]{1,39}$`)
)

// rateCardHeader is the only header a rate card CSV may have.
var rateCardHeader = []string{"market", "category", "currency", "rate_micros"}

// ParseRateCard reads a rate card CSV (market,category,currency,rate_micros). Every line
// must be well formed and a (market, category, currency) given once; the errors name their
// lines (KindValidation, field "line N").
func ParseRateCard(r io.Reader) ([]Rate, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(rateCardHeader)
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, badCard("must be CSV with the header market,category,currency,rate_micros")
	}
	for i, h := range head {
		if !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), rateCardHeader[i]) {
			return nil, badCard("must be CSV with the header market,category,currency,rate_micros")
		}
	}
	var v Validator
	var rates []Rate
	seen := map[[3]string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var line int
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			line = perr.StartLine // FieldPos panics for a record that failed before its first field
		} else if err == nil {
			line, _ = cr.FieldPos(0)
		}
		field := "line " + strconv.Itoa(line)
		if err != nil {
			v.Add(field, "is not a CSV record of 4 fields")
			if v.Len() >= maxRateCardErrors {
				break
			}
			continue
		}
		if len(rates) >= MaxRateCardLines {
			return nil, badCard(fmt.Sprintf("holds more than %d rates", MaxRateCardLines))
		}
		rt := Rate{Market: strings.ToUpper(strings.TrimSpace(rec[0])), Category: PricingCategory(rec[1]),
			Currency: strings.ToUpper(strings.TrimSpace(rec[2]))}
		micros, nerr := strconv.ParseInt(strings.TrimSpace(rec[3]), 10, 64)
		switch {
		case rt.Market != RestOfWorld && !marketCode.MatchString(rt.Market):
			v.Add(field, "market must be an ISO 3166 alpha-2 code or *")
		case !categoryWord.MatchString(rt.Category):
			v.Add(field, "category must be a pricing category such as marketing, utility or authentication")
		case !currencyCode.MatchString(rt.Currency):
			v.Add(field, "currency must be an ISO 4217 code such as USD")
		case nerr != nil || micros < 0 || micros > maxRateMicros:
			v.Add(field, "rate_micros must be a whole number of micros, 0 or more")
		default:
			k := [3]string{rt.Market, rt.Category, rt.Currency}
			if first, ok := seen[k]; ok {
				v.Add(field, fmt.Sprintf("repeats line %d's market, category and currency", first))
				break
			}
			seen[k] = line
			rt.Micros = micros
			rates = append(rates, rt)
		}
		if v.Len() >= maxRateCardErrors {
			break
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(rates) == 0 {
		return nil, badCard("holds no rates")
	}
	return rates, nil
}

// maxRateCardErrors bounds the lines a refused card's error names.
const maxRateCardErrors = 100

func badCard(why string) error {
	return &Error{Kind: KindValidation, Message: "the rate card is invalid", Fields: []FieldError{{"body", why}}}
}

// CheckCurrency returns a reason when s is not an ISO 4217 code ("" when it is).
func CheckCurrency(s string) string {
	if !currencyCode.MatchString(s) {
		return "must be an ISO 4217 code such as USD"
	}
	return ""
}

// BillingCredited: the operator put money into a workspace's wallet (a credit, a refund or
// an adjustment, which may be negative).
type BillingCredited struct {
	TransactionID ID
	Entry         LedgerKind
	Amount        int64
	Currency      string
	Reference     string
	BalanceAfter  int64
}

func (BillingCredited) Kind() EventKind { return EventBillingCredited }
func (e BillingCredited) Subject() Subject {
	return audited("billing", e.TransactionID.String(), map[string]any{"kind": string(e.Entry), "amount_micros": e.Amount,
		"currency": e.Currency, "reference": e.Reference, "balance_after_micros": e.BalanceAfter})
}

// BillingModeChanged: the operator set a workspace's billing mode or currency.
type BillingModeChanged struct {
	From, To                 BillingMode
	FromCurrency, ToCurrency string
}

func (BillingModeChanged) Kind() EventKind { return EventBillingModeChanged }
func (e BillingModeChanged) Subject() Subject {
	return audited("billing", "", map[string]any{"from": string(e.From), "to": string(e.To),
		"from_currency": e.FromCurrency, "to_currency": e.ToCurrency})
}

// RateCardUpdated: the operator stored a new rate card, in force from EffectiveAt.
type RateCardUpdated struct {
	CardID      ID
	EffectiveAt time.Time
	Rates       int
}

func (RateCardUpdated) Kind() EventKind { return EventRateCardUpdated }
func (e RateCardUpdated) Subject() Subject {
	return audited("rate_card", e.CardID.String(), map[string]any{"effective_at": e.EffectiveAt.UTC().Format(time.RFC3339),
		"rates": e.Rates})
}
