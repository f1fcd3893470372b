package domain_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

const rateCardHead = "market,category,currency,rate_micros\n"

// cardFields returns the fields a refused rate card's validation error names.
func cardFields(t *testing.T, err error) []string {
	t.Helper()
	var e *domain.Error
	require.True(t, errors.As(err, &e), "error %v is not a *domain.Error", err)
	require.Equal(t, domain.KindValidation, e.Kind, "%v", err)
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		require.NotEmpty(t, f.Message)
		out[i] = f.Field
	}
	return out
}

func TestParseRateCardValid(t *testing.T) {
	t.Parallel()
	card := "\ufeffMarket, CATEGORY ,Currency,Rate_Micros\n" +
		"us,MARKETING,usd,25000\n" +
		"IN, authentication-international ,USD, 1400\n" +
		"*,marketing,USD,60000\n" +
		"*,Utility,eur,0\n" +
		"GB,utility,EUR,+7\n" +
		"BR,marketing,BRL,1000000000000\n"
	rates, err := domain.ParseRateCard(strings.NewReader(card))
	require.NoError(t, err)
	require.Equal(t, []domain.Rate{
		{Market: "US", Category: "marketing", Currency: "USD", Micros: 25000},
		{Market: "IN", Category: "authentication_international", Currency: "USD", Micros: 1400},
		{Market: domain.RestOfWorld, Category: "marketing", Currency: "USD", Micros: 60000},
		{Market: domain.RestOfWorld, Category: "utility", Currency: "EUR", Micros: 0},
		{Market: "GB", Category: "utility", Currency: "EUR", Micros: 7},
		{Market: "BR", Category: "marketing", Currency: "BRL", Micros: 1_000_000_000_000},
	}, rates)

	// The same (market, category) in two currencies are two rates; CRLF line ends are fine.
	rates, err = domain.ParseRateCard(strings.NewReader("market,category,currency,rate_micros\r\nUS,utility,USD,1\r\nUS,utility,EUR,2\r\n"))
	require.NoError(t, err)
	require.Len(t, rates, 2)
}

func TestParseRateCardRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, card string
		fields     []string
	}{
		{"bad market", rateCardHead + "USA,marketing,USD,1\n", []string{"line 2"}},
		{"numeric market", rateCardHead + "US,marketing,USD,1\n12,marketing,USD,1\n", []string{"line 3"}},
		{"empty market", rateCardHead + ",marketing,USD,1\n", []string{"line 2"}},
		{"bad category", rateCardHead + "US,marketing!,USD,1\n", []string{"line 2"}},
		{"one-letter category", rateCardHead + "US,m,USD,1\n", []string{"line 2"}},
		{"category with digits", rateCardHead + "US,tier2,USD,1\n", []string{"line 2"}},
		{"bad currency", rateCardHead + "US,marketing,US$,1\n", []string{"line 2"}},
		{"two-letter currency", rateCardHead + "US,marketing,US,1\n", []string{"line 2"}},
		{"negative rate", rateCardHead + "US,marketing,USD,-1\n", []string{"line 2"}},
		{"fractional rate", rateCardHead + "US,marketing,USD,1.5\n", []string{"line 2"}},
		{"exponent rate", rateCardHead + "US,marketing,USD,1e6\n", []string{"line 2"}},
		{"empty rate", rateCardHead + "US,marketing,USD,\n", []string{"line 2"}},
		{"huge rate", rateCardHead + "US,marketing,USD,1000000000001\n", []string{"line 2"}},
		{"overflowing rate", rateCardHead + "US,marketing,USD,99999999999999999999\n", []string{"line 2"}},
		{"repeated line", rateCardHead + "US,marketing,USD,1\nGB,marketing,USD,2\nus,Marketing,usd,3\n", []string{"line 4"}},
		{"repeated rest of world", rateCardHead + "*,utility,USD,1\n*,UTILITY,USD,1\n", []string{"line 3"}},
		{"too few fields", rateCardHead + "US,marketing,USD\n", []string{"line 2"}},
		{"too many fields", rateCardHead + "US,marketing,USD,1,2\n", []string{"line 2"}},
		{"every bad line", rateCardHead + "US,marketing,USD,1\nXXX,marketing,USD,1\nGB,marketing,USD,-2\nFR,utility,USD\n",
			[]string{"line 3", "line 4", "line 5"}},
		{"wrong header", "market,category,rate_micros,currency\nUS,marketing,1,USD\n", []string{"body"}},
		{"missing header", "US,marketing,USD,1\n", []string{"body"}},
		{"short header", "market,category,currency\nUS,marketing,USD\n", []string{"body"}},
		{"empty card", "", []string{"body"}},
		{"header only", rateCardHead, []string{"body"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rates, err := domain.ParseRateCard(strings.NewReader(c.card))
			require.Error(t, err)
			require.Nil(t, rates)
			require.Equal(t, c.fields, cardFields(t, err))
		})
	}
}

func TestParseRateCardRepeatNamesFirstLine(t *testing.T) {
	t.Parallel()
	_, err := domain.ParseRateCard(strings.NewReader(rateCardHead + "US,marketing,USD,1\nGB,marketing,USD,2\nUS,marketing,USD,3\n"))
	var e *domain.Error
	require.True(t, errors.As(err, &e))
	require.Len(t, e.Fields, 1)
	require.Equal(t, "line 4", e.Fields[0].Field)
	require.Contains(t, e.Fields[0].Message, "line 2")
}

func TestParseRateCardBoundsErrors(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(rateCardHead)
	for range 500 {
		b.WriteString("XXX,marketing,USD,1\n")
	}
	_, err := domain.ParseRateCard(strings.NewReader(b.String()))
	fields := cardFields(t, err)
	require.Len(t, fields, 100)
	require.Equal(t, "line 2", fields[0])
}

// A quote out of place in a line's first field is a malformed line like any other: the
// card is refused naming the line, and the parser does not panic.
func TestParseRateCardStrayQuoteInFirstField(t *testing.T) {
	t.Parallel()
	for _, line := range []string{`U"S,marketing,USD,1`, `"US"x,marketing,USD,1`, `"US,marketing,USD,1`, `"`} {
		var err error
		require.NotPanics(t, func() {
			_, err = domain.ParseRateCard(strings.NewReader(rateCardHead + "GB,utility,USD,1\n" + line + "\n"))
		}, line)
		require.Equal(t, []string{"line 3"}, cardFields(t, err), line)
	}
	// Elsewhere in the line it is refused already.
	_, err := domain.ParseRateCard(strings.NewReader(rateCardHead + `US,mark"eting,USD,1` + "\n"))
	require.Equal(t, []string{"line 2"}, cardFields(t, err))
}

func TestParseRateCardTooManyRates(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(rateCardHead)
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	n := 0
	for _, c1 := range letters {
		for _, c2 := range letters {
			for _, cat := range []string{"marketing", "utility", "authentication", "service", "marketing_lite", "authentication_intl",
				"utility_x", "service_x", "promo", "referral", "other_one", "other_two", "other_three", "other_four", "other_five",
				"other_six", "other_seven", "other_eight", "other_nine", "other_ten", "other_eleven", "other_twelve", "other_thirteen",
				"other_fourteen", "other_fifteen", "other_sixteen", "other_seventeen", "other_eighteen", "other_nineteen", "other_twenty"} {
				if n > domain.MaxRateCardLines {
					break
				}
				b.WriteString(string(c1) + string(c2) + "," + cat + ",USD,1\n")
				n++
			}
		}
	}
	require.Greater(t, n, domain.MaxRateCardLines)
	_, err := domain.ParseRateCard(strings.NewReader(b.String()))
	require.Equal(t, []string{"body"}, cardFields(t, err))
}

func TestPricingCharged(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	cases := []struct {
		typ      string
		billable *bool
		want     bool
	}{
		{domain.PricingRegular, &yes, true},
		{domain.PricingRegular, &no, true}, // the type decides when there is one
		{domain.PricingRegular, nil, true},
		{domain.PricingFreeCustomerService, &yes, false},
		{domain.PricingFreeCustomerService, &no, false},
		{domain.PricingFreeCustomerService, nil, false},
		{domain.PricingFreeEntryPoint, &yes, false},
		{domain.PricingFreeEntryPoint, &no, false},
		{domain.PricingFreeEntryPoint, nil, false},
		{"", &yes, true}, // older payloads: the billable flag decides
		{"", &no, false},
		{"", nil, false},
	}
	for _, c := range cases {
		p := domain.Pricing{Model: "PMP", Type: c.typ, Category: "marketing", Billable: c.billable}
		require.Equal(t, c.want, p.Charged(), "type %q billable %v", c.typ, c.billable)
	}
}

func TestPricingChargeKey(t *testing.T) {
	t.Parallel()
	msg := domain.NewID()
	cases := []struct {
		model, conversation, want string
	}{
		{"PMP", "", msg.String()},
		{"PMP", "conv1", msg.String()}, // per message whatever the conversation
		{"CBP", "conv1", "cbp:conv1"},
		{"cbp", "conv1", "cbp:conv1"},
		{"CBP", "", msg.String()}, // no conversation to charge once
		{"", "conv1", msg.String()},
	}
	for _, c := range cases {
		p := domain.Pricing{Model: c.model, ConversationID: c.conversation}
		require.Equal(t, c.want, p.ChargeKey(msg), "model %q conversation %q", c.model, c.conversation)
	}
	// Two messages of one CBP conversation share a key; under PMP they do not.
	cbp := domain.Pricing{Model: "CBP", ConversationID: "c"}
	require.Equal(t, cbp.ChargeKey(domain.NewID()), cbp.ChargeKey(domain.NewID()))
	pmp := domain.Pricing{Model: "PMP", ConversationID: "c"}
	require.NotEqual(t, pmp.ChargeKey(domain.NewID()), pmp.ChargeKey(domain.NewID()))
}

func TestPricingCategory(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"MARKETING":                      "marketing",
		" Utility ":                      "utility",
		"authentication-international":   "authentication_international",
		"authentication_international":   "authentication_international",
		"AUTHENTICATION-INTERNATIONAL\n": "authentication_international",
		"marketing_lite":                 "marketing_lite",
		"":                               "",
	} {
		require.Equal(t, want, domain.PricingCategory(in), "%q", in)
	}
}

func TestWalletAvailable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ balance, reserved, want int64 }{
		{0, 0, 0}, {1000, 0, 1000}, {1000, 400, 600}, {1000, 1000, 0}, {100, 300, -200}, {-50, 0, -50},
	} {
		w := domain.Wallet{Mode: domain.BillingPrepaid, Currency: "USD", Balance: c.balance, Reserved: c.reserved}
		require.Equal(t, c.want, w.Available(), "%+v", c)
	}
}

func TestCheckCurrency(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"USD", "EUR", "INR"} {
		require.Empty(t, domain.CheckCurrency(ok), ok)
	}
	for _, bad := range []string{"", "usd", "US", "USDX", "US1", " USD"} {
		require.NotEmpty(t, domain.CheckCurrency(bad), bad)
	}
}

func TestBillingEventSubjects(t *testing.T) {
	t.Parallel()
	tx, card := domain.NewID(), domain.NewID()
	credited := domain.BillingCredited{TransactionID: tx, Entry: domain.LedgerAdjustment, Amount: -500, Currency: "USD",
		Reference: "inv-1", BalanceAfter: 1500}
	s := credited.Subject()
	require.Equal(t, domain.EventBillingCredited, credited.Kind())
	require.True(t, s.Audited)
	require.Equal(t, "billing", s.ResourceType)
	require.Equal(t, tx.String(), s.ResourceID)
	require.Equal(t, map[string]any{"kind": "adjustment", "amount_micros": int64(-500), "currency": "USD", "reference": "inv-1",
		"balance_after_micros": int64(1500)}, s.Details)

	mode := domain.BillingModeChanged{From: domain.BillingPostpaid, To: domain.BillingPrepaid, FromCurrency: "USD", ToCurrency: "EUR"}
	s = mode.Subject()
	require.Equal(t, domain.EventBillingModeChanged, mode.Kind())
	require.True(t, s.Audited)
	require.Equal(t, "billing", s.ResourceType)
	require.Equal(t, map[string]any{"from": "postpaid", "to": "prepaid", "from_currency": "USD", "to_currency": "EUR"}, s.Details)

	at := time.Date(2026, 7, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	updated := domain.RateCardUpdated{CardID: card, EffectiveAt: at, Rates: 12}
	s = updated.Subject()
	require.Equal(t, domain.EventRateCardUpdated, updated.Kind())
	require.True(t, s.Audited)
	require.Equal(t, "rate_card", s.ResourceType)
	require.Equal(t, card.String(), s.ResourceID)
	require.Equal(t, map[string]any{"effective_at": "2026-07-01T10:00:00Z", "rates": 12}, s.Details)
}

var (
	fuzzMarket   = regexp.MustCompile(`^([A-Z]{2}|\*)$`)
	fuzzCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	fuzzCategory = regexp.MustCompile(`^[a-z][a-z_]*$`)
)

func FuzzParseRateCard(f *testing.F) {
	for _, seed := range []string{
		rateCardHead + "US,marketing,USD,25000\n*,utility,USD,0\n",
		"\ufeffMARKET,Category,currency,RATE_MICROS\r\nin,authentication-international,usd,1400\r\n",
		rateCardHead + "US,marketing,USD,1\nUS,marketing,USD,2\n",
		rateCardHead + "USA,marketing,USD,-1\n",
		rateCardHead + "US,marketing,USD\n",
		rateCardHead + `"US",marketing,USD,"1"` + "\n",
		rateCardHead + `GB,"a""b",USD,1` + "\n",
		rateCardHead,
		"",
		"\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rates, err := domain.ParseRateCard(strings.NewReader(string(data)))
		if err != nil {
			require.Nil(t, rates)
			require.Equal(t, domain.KindValidation, domain.KindOf(err), "%v", err)
			return
		}
		require.NotEmpty(t, rates)
		require.LessOrEqual(t, len(rates), domain.MaxRateCardLines)
		seen := map[[3]string]bool{}
		for _, r := range rates {
			require.Regexp(t, fuzzMarket, r.Market)
			require.Regexp(t, fuzzCurrency, r.Currency)
			require.Regexp(t, fuzzCategory, r.Category)
			require.Equal(t, r.Category, domain.PricingCategory(r.Category))
			require.GreaterOrEqual(t, r.Micros, int64(0))
			k := [3]string{r.Market, r.Category, r.Currency}
			require.False(t, seen[k], "%v repeated", k)
			seen[k] = true
		}
	})
}
