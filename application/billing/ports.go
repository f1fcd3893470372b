package billing

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// Transaction is one entry of a workspace's ledger as the transactions list shows it.
type Transaction struct {
	ID           domain.ID
	WorkspaceID  domain.ID
	Kind         domain.LedgerKind
	Amount       int64 // signed: a charge is negative
	BalanceAfter int64
	Currency     string
	Reference    string
	CreatedAt    time.Time
}

// Charge is one priced message of the usage ledger (free ones at 0).
type Charge struct {
	TransactionID domain.ID
	MessageID     domain.ID
	PhoneNumberID string
	CampaignID    *domain.ID
	Market        string
	Category      string
	PricingModel  string
	PricingType   string
	Billable      bool
	Currency      string
	Amount        int64 // what the workspace pays, 0 or more
	CreatedAt     time.Time
}

// GroupBy is what usage is summed by.
type GroupBy string

// The usage groupings (API.md).
const (
	ByDay         GroupBy = "day"
	ByCategory    GroupBy = "category"
	ByMarket      GroupBy = "market"
	ByPhoneNumber GroupBy = "phone_number"
	ByCampaign    GroupBy = "campaign"
)

// UsageQuery is a time range [From, To) of charges and a grouping.
type UsageQuery struct {
	From, To time.Time
	GroupBy  GroupBy
}

// UsageRow is one group of usage: the messages priced, how many Meta charged, and what
// the workspace pays for them.
type UsageRow struct {
	Key      string
	Messages int64
	Billable int64
	Amount   int64
}

// RateCard is the rate card in force at a time.
type RateCard struct {
	ID          domain.ID
	EffectiveAt time.Time
	Source      string // "default" or "operator"
	Rates       []domain.Rate
}

// PhoneGroup is a part of an audience whose phones share a prefix long enough to name
// their market: Count phones, of which Sample is one.
type PhoneGroup struct {
	Sample string
	Count  int64
}

// Store reads billing outside transactions.
type Store interface {
	// Wallet is the workspace's wallet: a postpaid one in the default currency when it has
	// none yet.
	Wallet(ctx context.Context, ws domain.ID) (domain.Wallet, error)
	Usage(ctx context.Context, ws domain.ID, q UsageQuery) ([]UsageRow, error)
	// Charges returns up to n charges of q after the charge after (by time, then id),
	// oldest first; the zero Charge asks for the first.
	Charges(ctx context.Context, ws domain.ID, q UsageQuery, after Charge, n int) ([]Charge, error)
	// Transactions returns up to n credits, refunds, adjustments and charges that cost
	// something, newest first, before the cursor (a transaction id) when set.
	Transactions(ctx context.Context, ws domain.ID, cursor domain.ID, n int) ([]Transaction, error)
	// RateCard is the card in force at at.
	RateCard(ctx context.Context, at time.Time) (RateCard, error)
	// Prices are the rates of category in currency at at for each market: the market's
	// own, else the card's rest-of-world rate ("" is priced as the rest of the world); a
	// market the card prices neither way is missing.
	Prices(ctx context.Context, at time.Time, category, currency string, markets []string) (map[string]int64, error)
	// AudiencePhones groups the phones of the workspace's contacts an audience names.
	AudiencePhones(ctx context.Context, ws domain.ID, a domain.Audience) ([]PhoneGroup, error)
	// RecipientPhones groups the phones of a campaign's recipients still to send (pending
	// without a message, or waiting for a retry).
	RecipientPhones(ctx context.Context, ws, campaignID domain.ID) ([]PhoneGroup, error)
}

// Ref names one message.
type Ref struct {
	WorkspaceID, MessageID domain.ID
}

// Ledger writes the wallet and the ledger in the current transaction. Every write that
// changes a wallet locks its row first, so the balance and the reservations move in one
// order whatever runs at once.
type Ledger interface {
	// Credit appends a credit, refund or adjustment of amount and moves the balance; it
	// returns the transaction (with the balance after it). KindNotFound for an unknown
	// workspace.
	Credit(ctx context.Context, ws domain.ID, kind domain.LedgerKind, amount int64, reference string, at time.Time) (Transaction, error)
	// SetMode sets the wallet's mode and currency and returns the wallet as it was.
	SetMode(ctx context.Context, ws domain.ID, mode domain.BillingMode, currency string, at time.Time) (domain.Wallet, error)
	// PutRateCard stores a card.
	PutRateCard(ctx context.Context, card RateCard, at time.Time) error
	// Charge records each priced message once (by its charge key), priced with the card in
	// force when Meta reported it, moves the balances and settles the messages'
	// reservations; it returns the charges it recorded (a repeat records nothing).
	Charge(ctx context.Context, ps []domain.Priced, at time.Time) ([]Charge, error)
	// Reserve holds the estimated price of each send in a prepaid wallet, all or none:
	// KindInsufficientBalance when the available balance cannot cover them. Postpaid
	// wallets hold nothing.
	Reserve(ctx context.Context, ws domain.ID, holds []domain.Hold, at time.Time) error
	// Release gives back the reservations of messages that will not be charged.
	Release(ctx context.Context, ms []Ref) error
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Ledger Ledger
	Events events.Log
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Templates lists the workspace's templates (templates.Store): an estimate prices a
// template's category.
type Templates interface {
	List(ctx context.Context, workspaceID domain.ID, f templates.Filter, limit int) ([]domain.Template, error)
}
