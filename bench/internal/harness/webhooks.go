package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

// Tenant is a business number webhooks are addressed to.
type Tenant struct {
	WorkspaceID   string
	WABAID        string
	PhoneNumberID string
	Display       string // digits
}

// NewTenants returns n numbers with ids unique to this run (not yet registered).
func NewTenants(n int) []Tenant {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	base := 100000000 + int(b[0])<<16 + int(b[1])<<8 + int(b[2])
	out := make([]Tenant, n)
	for i := range out {
		out[i] = Tenant{
			WABAID:        strconv.Itoa(2_000_000_000_000_00 + base*10 + i),
			PhoneNumberID: strconv.Itoa(1_000_000_000_000_00 + base*10 + i),
			Display:       fmt.Sprintf("1555%07d", (base+i)%10_000_000),
		}
	}
	return out
}

// Kinds of generated webhooks.
const (
	KindMessage = "message"
	KindStatus  = "status"
)

// Payload is one signed webhook body carrying one message or one status.
type Payload struct {
	Body      []byte
	Signature string
	WAMID     string
	SHA256    string // hex SHA-256 of Body: the unique key of its webhook job
	Kind      string
	Tenant    int
}

// Generator builds realistic webhook bodies in the shapes of test/testdata/webhooks (Meta's
// compact serialization, escaped non-ASCII), each with a wamid unique to the run: inbound
// messages of several types from a pool of users per number, and statuses of outbound
// messages with pricing. Safe for concurrent use.
type Generator struct {
	Tenants []Tenant
	// UsersPerTenant is the pool of senders per number (contacts are upserted).
	UsersPerTenant int
	// StatusEvery makes every k-th webhook a status (0: never).
	StatusEvery int
	// KnownOutbound, when positive, makes the statuses report on outbound messages the
	// database holds (HistoryWAMID(workspace, j) for j < KnownOutbound, as a seeded
	// history has them) instead of on wamids nobody sent.
	KnownOutbound int
	// StatusWAMID, when set, names the message the status of payload number i (to tenant
	// t) reports on; it takes over from KnownOutbound.
	StatusWAMID func(i int, t Tenant) string
	// StatusKinds are the statuses reported in turn by payload number (nil: sent,
	// delivered, read).
	StatusKinds []string
	// NoPricing leaves the pricing object out of the statuses, as in the statuses Meta does
	// not price: their processing never reaches the usage ledger.
	NoPricing bool
	run       string
	n         atomic.Int64
}

// NewGenerator returns a generator over tenants.
func NewGenerator(tenants []Tenant, usersPerTenant, statusEvery int) *Generator {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Generator{Tenants: tenants, UsersPerTenant: max(usersPerTenant, 1), StatusEvery: statusEvery, run: hex.EncodeToString(b)}
}

var messageKinds = []string{
	`"type":"text","text":{"body":"Hola, \u00bftienen env\u00edo a Monterrey? \ud83c\udf89 pedido %d"}`,
	`"type":"image","image":{"caption":"Foto del producto %d","mime_type":"image\/jpeg","sha256":"HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=","id":"1479537139650973"}`,
	`"type":"location","location":{"latitude":19.4326,"longitude":-99.1332,"name":"Tienda %d","address":"Av. Reforma 222, CDMX","url":"https:\/\/example.com\/tienda"}`,
	`"context":{"from":"15550783881","id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBBMDA1AA=="},"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"confirm_yes_%d","title":"S\u00ed, confirmar"}}`,
	`"referral":{"source_url":"https:\/\/fb.me\/3cr4Wqqkv","source_id":"120226305854810726","source_type":"ad","headline":"Verano","body":"Rebajas","media_type":"image","ctwa_clid":"ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0"},"type":"text","text":{"body":"Quiero m\u00e1s informaci\u00f3n %d"}`,
}

var statusKinds = []string{"sent", "delivered", "read"}

// Next returns the next payload.
func (g *Generator) Next() Payload { return g.At(int(g.n.Add(1) - 1)) }

// At returns payload number i (the same i gives the same body within one generator).
func (g *Generator) At(i int) Payload {
	ti := i % len(g.Tenants)
	t := g.Tenants[ti]
	user := (i / len(g.Tenants)) % g.UsersPerTenant
	waID := fmt.Sprintf("52155%02d%06d", ti%100, user)
	ts := time.Now().Unix()
	wamid := "wamid." + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("\x15\x02BENCH%s%012d", g.run, i)))
	meta := fmt.Sprintf(`"messaging_product":"whatsapp","metadata":{"display_phone_number":"%s","phone_number_id":"%s"}`, t.Display, t.PhoneNumberID)
	var value, kind string
	if g.StatusEvery > 0 && i%g.StatusEvery == g.StatusEvery-1 {
		kind = KindStatus
		switch {
		case g.StatusWAMID != nil:
			wamid = g.StatusWAMID(i, t)
		case g.KnownOutbound > 0:
			wamid = HistoryWAMID(t.WorkspaceID, (i/g.StatusEvery)%g.KnownOutbound)
		}
		kinds, pricing := statusKinds, `,"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}`
		if len(g.StatusKinds) > 0 {
			kinds = g.StatusKinds
		}
		if g.NoPricing {
			pricing = ""
		}
		value = fmt.Sprintf(`{%s,"statuses":[{"id":"%s","status":"%s","timestamp":"%d","recipient_id":"%s","biz_opaque_callback_data":"bench:%d",`+
			`"conversation":{"id":"2bd1e5c7d8f04a0b9e1f3c2a7b6d5e4f","origin":{"type":"marketing"}}%s}]}`,
			meta, wamid, kinds[i%len(kinds)], ts, waID, i, pricing)
	} else {
		kind = KindMessage
		body := fmt.Sprintf(messageKinds[i%len(messageKinds)], i)
		value = fmt.Sprintf(`{%s,"contacts":[{"profile":{"name":"Jos\u00e9 Garc\u00eda %d"},"wa_id":"%s"}],`+
			`"messages":[{"from":"%s","id":"%s","timestamp":"%d",%s}]}`, meta, user, waID, waID, wamid, ts, body)
	}
	raw := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"value":%s,"field":"messages"}]}]}`, t.WABAID, value))
	sum := sha256.Sum256(raw)
	return Payload{Body: raw, Signature: webhook.Sign([]byte(AppSecret), raw), WAMID: wamid, SHA256: hex.EncodeToString(sum[:]), Kind: kind, Tenant: ti}
}

// HistoryWAMID is the wamid of the j-th seeded outbound message of a workspace.
func HistoryWAMID(workspaceID string, j int) string {
	return fmt.Sprintf("wamid.HISTORY.%s.%d", workspaceID, j)
}

// PostWebhook posts a signed body to base's /webhooks/meta and returns the status.
func PostWebhook(ctx context.Context, hc *http.Client, base string, body []byte, signature string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/meta", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// NewHTTPClient is a keep-alive client for conc concurrent callers.
func NewHTTPClient(conc int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, DisableCompression: true, IdleConnTimeout: time.Minute}}
}
