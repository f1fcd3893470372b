package httpapi

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/billing"
	"github.com/wabaplatform/waba/domain"
)

// Billing serves usage and billing (API.md "Usage and billing"): the workspace's routes,
// and the operator's under /admin/ behind ADMIN_TOKEN.
type Billing struct {
	API        *API
	Billing    *billing.Service
	AdminToken string
}

// Register adds the routes to e.
func (h *Billing) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, "/billing"+path, fn) }
	ws(http.MethodGet, "", h.wallet)
	ws(http.MethodGet, "/usage", h.usage)
	ws(http.MethodGet, "/usage/export", h.export) // UsageExportPath
	ws(http.MethodGet, "/transactions", h.transactions)
	ws(http.MethodPost, "/estimate", h.estimate)
	if h.AdminToken == "" {
		return
	}
	op := operator(h.AdminToken)
	e.GET("/admin/rate-card", h.rateCard, op)
	e.PUT("/admin/rate-card", h.putRateCard, op)
	e.POST("/admin/workspaces/:ws/credits", h.credit, op)
	e.PUT("/admin/workspaces/:ws/billing", h.setMode, op)
}

type walletDTO struct {
	Mode      string `json:"mode"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance_micros"`
	Reserved  int64  `json:"reserved_micros"`
	Available int64  `json:"available_micros"`
}

func toWallet(w domain.Wallet) walletDTO {
	return walletDTO{Mode: string(w.Mode), Currency: w.Currency, Balance: w.Balance, Reserved: w.Reserved, Available: w.Available()}
}

func (h *Billing) wallet(c echo.Context) error {
	w, err := h.Billing.Wallet(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWallet(w))
}

// usageQuery reads from, to (RFC 3339) and group_by.
func usageQuery(c echo.Context) (billing.UsageQuery, error) {
	q := billing.UsageQuery{GroupBy: billing.GroupBy(c.QueryParam("group_by"))}
	var v domain.Validator
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} { // in this order, so the errors always list alike
		name, dst := f.name, f.dst
		if s := c.QueryParam(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				v.Add(name, "must be a time in RFC 3339, such as 2026-01-01T00:00:00Z")
				continue
			}
			*dst = t.UTC()
		}
	}
	return q, v.Err()
}

type usageRowDTO struct {
	Key      string `json:"key"`
	Messages int64  `json:"messages"`
	Billable int64  `json:"billable"`
	Amount   int64  `json:"amount_micros"`
}

func (h *Billing) usage(c echo.Context) error {
	q, err := usageQuery(c)
	if err != nil {
		return err
	}
	rows, err := h.Billing.Usage(c.Request().Context(), caller(c), q)
	if err != nil {
		return err
	}
	out := struct {
		Data  []usageRowDTO `json:"data"`
		Total int64         `json:"total_micros"`
	}{Data: make([]usageRowDTO, len(rows))}
	for i, r := range rows {
		out.Data[i] = usageRowDTO{Key: r.Key, Messages: r.Messages, Billable: r.Billable, Amount: r.Amount}
		out.Total += r.Amount
	}
	return c.JSON(http.StatusOK, out)
}

var usageCSVHeader = []string{"created_at", "transaction_id", "message_id", "phone_number_id", "campaign_id", "market",
	"category", "pricing_model", "pricing_type", "billable", "currency", "amount_micros"}

// UsageExportPath is the route of the usage CSV, which skips the request timeout for
// exportTimeout (a month of a busy workspace is millions of rows).
const UsageExportPath = "/v1/workspaces/:ws/billing/usage/export"

// export streams one CSV row per charged message, a page at a time (streamCSV).
func (h *Billing) export(c echo.Context) error {
	q, err := usageQuery(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), exportTimeout)
	defer cancel()
	return streamCSV(c, "usage.csv", usageCSVHeader, func(write func([]string) error) error {
		return h.Billing.ExportUsage(ctx, caller(c), q, func(page []billing.Charge) error {
			for _, ch := range page {
				campaign := ""
				if ch.CampaignID != nil {
					campaign = ch.CampaignID.String()
				}
				if err := write([]string{ch.CreatedAt.UTC().Format(time.RFC3339Nano), ch.TransactionID.String(), ch.MessageID.String(),
					ch.PhoneNumberID, campaign, ch.Market, ch.Category, ch.PricingModel, ch.PricingType, strconv.FormatBool(ch.Billable),
					ch.Currency, strconv.FormatInt(ch.Amount, 10)}); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

type transactionDTO struct {
	ID           domain.ID `json:"id"`
	Kind         string    `json:"kind"`
	Amount       int64     `json:"amount_micros"`
	BalanceAfter int64     `json:"balance_after_micros"`
	Currency     string    `json:"currency"`
	Reference    string    `json:"reference"`
	CreatedAt    time.Time `json:"created_at"`
}

func toTransaction(t billing.Transaction) transactionDTO {
	return transactionDTO{ID: t.ID, Kind: string(t.Kind), Amount: t.Amount, BalanceAfter: t.BalanceAfter, Currency: t.Currency,
		Reference: t.Reference, CreatedAt: t.CreatedAt.UTC()}
}

func (h *Billing) transactions(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Billing.Transactions(c.Request().Context(), caller(c), limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toTransaction))
}

func (h *Billing) estimate(c echo.Context) error {
	var req struct {
		Template *struct {
			Name     string `json:"name"`
			Language string `json:"language"`
		} `json:"template"`
		Audience   *audienceDTO `json:"audience"`
		Category   string       `json:"category"`
		Recipients []string     `json:"recipients"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	in := billing.EstimateInput{Category: req.Category, Recipients: req.Recipients}
	if req.Template != nil {
		in.TemplateName, in.TemplateLanguage = req.Template.Name, req.Template.Language
	}
	if req.Audience != nil {
		in.Audience = &domain.Audience{All: req.Audience.All, Tags: req.Audience.Tags, ContactIDs: req.Audience.ContactIDs}
	}
	est, err := h.Billing.Estimate(c.Request().Context(), caller(c), in)
	if err != nil {
		return err
	}
	type marketDTO struct {
		Market   string `json:"market"`
		Messages int64  `json:"messages"`
		Amount   int64  `json:"amount_micros"`
	}
	out := struct {
		Currency string      `json:"currency"`
		Amount   int64       `json:"amount_micros"`
		ByMarket []marketDTO `json:"by_market"`
	}{Currency: est.Currency, Amount: est.Amount, ByMarket: make([]marketDTO, len(est.ByMarket))}
	for i, m := range est.ByMarket {
		out.ByMarket[i] = marketDTO{Market: m.Market, Messages: m.Messages, Amount: m.Amount}
	}
	return c.JSON(http.StatusOK, out)
}

// rateCard answers the card in force as CSV, the format PUT takes, with its id and
// effective time in headers.
func (h *Billing) rateCard(c echo.Context) error {
	card, err := h.Billing.RateCard(c.Request().Context())
	if err != nil {
		return err
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set("Rate-Card-Id", card.ID.String())
	res.Header().Set("Rate-Card-Effective-At", card.EffectiveAt.UTC().Format(time.RFC3339))
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	_ = w.Write([]string{"market", "category", "currency", "rate_micros"})
	for _, r := range card.Rates {
		_ = w.Write([]string{r.Market, r.Category, r.Currency, strconv.FormatInt(r.Micros, 10)})
	}
	w.Flush()
	return w.Error()
}

// maxRateCardBytes bounds a rate card upload (20,000 lines fit easily).
const maxRateCardBytes = 2 << 20

// putRateCard stores a new card from the CSV body, in force from ?effective_at= (now
// when absent).
func (h *Billing) putRateCard(c echo.Context) error {
	if err := csvMediaType(c.Request().Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	var at time.Time
	if s := c.QueryParam("effective_at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			var v domain.Validator
			v.Add("effective_at", "must be a time in RFC 3339, such as 2027-01-01T00:00:00Z")
			return v.Err()
		}
		at = t
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, c.Request().Body, maxRateCardBytes))
	if err != nil {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the rate card is larger than 2 MiB")
	}
	card, err := h.Billing.PutRateCard(c.Request().Context(), body, at, requestMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": card.ID, "effective_at": card.EffectiveAt.UTC(), "rates": len(card.Rates)})
}

func (h *Billing) credit(c echo.Context) error {
	ws, err := pathID(c, "ws", "workspace")
	if err != nil {
		return err
	}
	var req struct {
		Kind      string `json:"kind"`
		Amount    int64  `json:"amount_micros"`
		Reference string `json:"reference"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	t, err := h.Billing.Credit(c.Request().Context(), ws, billing.CreditInput{Kind: domain.LedgerKind(req.Kind), Amount: req.Amount,
		Reference: req.Reference}, requestMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toTransaction(t))
}

func (h *Billing) setMode(c echo.Context) error {
	ws, err := pathID(c, "ws", "workspace")
	if err != nil {
		return err
	}
	var req struct {
		Mode     string `json:"mode"`
		Currency string `json:"currency"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	w, err := h.Billing.SetMode(c.Request().Context(), ws, domain.BillingMode(req.Mode), req.Currency, requestMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWallet(w))
}
