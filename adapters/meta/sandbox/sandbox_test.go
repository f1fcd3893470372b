package sandbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/domain"
)

const (
	appID       = "4455667788"
	appSecret   = "sandbox-app-secret"
	verifyToken = "verify-me"
	userWaID    = "919812345678"
)

// hook is the subset of Meta's webhook envelope the tests read.
type hook struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Time    int64  `json:"time"`
		Changes []struct {
			Field string    `json:"field"`
			Value hookValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type hookValue struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []map[string]any `json:"messages"`
	Statuses []hookStatus     `json:"statuses"`

	Event             string      `json:"event"`
	MessageTemplateID json.Number `json:"message_template_id"`
	TemplateName      string      `json:"message_template_name"`
	TemplateLanguage  string      `json:"message_template_language"`
	TemplateCategory  string      `json:"message_template_category"`
	Reason            string      `json:"reason"`
}

type hookStatus struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	Timestamp       string `json:"timestamp"`
	RecipientID     string `json:"recipient_id"`
	RecipientUserID string `json:"recipient_user_id"`
	BizOpaque       string `json:"biz_opaque_callback_data"`
	Pricing         *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Type         string `json:"type"`
		Category     string `json:"category"`
	} `json:"pricing"`
	Errors []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
		Href string `json:"href"`
	} `json:"errors"`
}

type received struct {
	raw  []byte
	hook hook
}

// receiver is the product's webhook endpoint as the tests see it: it answers the GET
// handshake and verifies every POST's signature over the raw bytes, independently of the
// sandbox's own signing code.
type receiver struct {
	srv         *httptest.Server
	secret      string
	verifyToken string

	mu        sync.Mutex
	got       []received
	badSigs   int
	failNext  int
	posts     int
	handshake int
}

func newReceiver(t *testing.T, secret, token string) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, verifyToken: token}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		rc.mu.Lock()
		rc.handshake++
		rc.mu.Unlock()
		if q.Get("hub.mode") == "subscribe" && q.Get("hub.verify_token") == rc.verifyToken {
			_, _ = io.WriteString(w, q.Get("hub.challenge"))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.failNext > 0 {
		rc.failNext--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write(raw)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Hub-Signature-256"))) {
		rc.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var h hook
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, received{raw: raw, hook: h})
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// statuses returns the status webhooks for wamid in arrival order.
func (rc *receiver) statuses(wamid string) []hookStatus {
	var out []hookStatus
	for _, r := range rc.received() {
		for _, e := range r.hook.Entry {
			for _, c := range e.Changes {
				for _, s := range c.Value.Statuses {
					if s.ID == wamid {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// inbound returns the webhook carrying the inbound message wamid.
func (rc *receiver) inbound(wamid string) (received, bool) {
	for _, r := range rc.received() {
		for _, e := range r.hook.Entry {
			for _, c := range e.Changes {
				for _, m := range c.Value.Messages {
					if m["id"] == wamid {
						return r, true
					}
				}
			}
		}
	}
	return received{}, false
}

func (rc *receiver) waitStatuses(t *testing.T, wamid string, n int) []hookStatus {
	t.Helper()
	require.Eventually(t, func() bool { return len(rc.statuses(wamid)) >= n }, 5*time.Second, 5*time.Millisecond,
		"waiting for %d statuses of %s", n, wamid)
	time.Sleep(30 * time.Millisecond) // nothing more must follow
	return rc.statuses(wamid)
}

func (rc *receiver) waitInbound(t *testing.T, wamid string) received {
	t.Helper()
	var got received
	require.Eventually(t, func() bool {
		var ok bool
		got, ok = rc.inbound(wamid)
		return ok
	}, 5*time.Second, 5*time.Millisecond)
	return got
}

type testBundle struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	rc     *receiver
	client *meta.Client
	ctx    context.Context
}

func setup(t *testing.T, mutate ...func(*sandbox.Config)) *testBundle {
	t.Helper()
	rc := newReceiver(t, appSecret, verifyToken)
	cfg := sandbox.Config{
		AppID: appID, AppSecret: appSecret, CallbackURL: rc.srv.URL + "/webhooks/meta", VerifyToken: verifyToken,
		StatusDelay: 5 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	return &testBundle{
		sb: sb, srv: srv, rc: rc, ctx: context.Background(),
		client: meta.NewClient(meta.ClientConfig{BaseURL: srv.URL, Version: "v25.0", AppID: appID, AppSecret: appSecret, Timeout: 5 * time.Second}),
	}
}

// ready creates a registered, subscribed account.
func (b *testBundle) ready(t *testing.T, opts sandbox.AccountOptions) sandbox.Account {
	t.Helper()
	opts.Registered, opts.Subscribed = true, true
	acct, err := b.sb.CreateAccount(opts)
	require.NoError(t, err)
	return acct
}

// dev calls a /_sandbox endpoint and decodes the answer.
func (b *testBundle) dev(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(b.ctx, method, b.srv.URL+path, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode
}

func text(to, body string) map[string]any {
	return map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
		"text": map[string]any{"body": body}}
}

func graphErr(t *testing.T, err error) *meta.Error {
	t.Helper()
	var ge *meta.Error
	require.ErrorAs(t, err, &ge)
	return ge
}

// TestFullFlow walks onboarding and a conversation with the meta client, as the product does.
func TestFullFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// A business completes Embedded Signup (developer endpoint).
	var acct sandbox.Account
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/accounts",
		map[string]string{"display_phone_number": "15550100001", "verified_name": "Acme Store"}, &acct))
	require.NotEmpty(t, acct.Code)
	require.NotEmpty(t, acct.AccessToken)
	require.Equal(t, "+1 555-010-0001", acct.DisplayPhoneNumber)

	token, err := b.client.ExchangeCode(b.ctx, acct.Code)
	require.NoError(t, err)
	require.Equal(t, acct.AccessToken, token)
	_, err = b.client.ExchangeCode(b.ctx, acct.Code)
	require.Equal(t, 100, graphErr(t, err).Code, "codes are single use")
	require.Equal(t, meta.ClassFinal, meta.Classify(err))

	wabas, err := b.client.DebugToken(b.ctx, token)
	require.NoError(t, err)
	require.Equal(t, []string{acct.WABAID}, wabas)

	nums, err := b.client.ListPhoneNumbers(b.ctx, token, acct.WABAID)
	require.NoError(t, err)
	require.Len(t, nums, 1)
	require.Equal(t, acct.PhoneNumberID, nums[0].ID)
	require.Equal(t, "+1 555-010-0001", nums[0].DisplayPhoneNumber)
	require.Equal(t, "Acme Store", nums[0].VerifiedName)
	require.Equal(t, "GREEN", nums[0].QualityRating)

	require.NoError(t, b.client.SubscribeApp(b.ctx, token, acct.WABAID))

	info, err := b.client.GetPhoneNumber(b.ctx, token, acct.PhoneNumberID)
	require.NoError(t, err)
	require.Equal(t, "NOT_APPLICABLE", info.PlatformType, "not registered yet")

	_, err = b.client.SendMessage(b.ctx, token, acct.PhoneNumberID, text(userWaID, "too early"))
	require.Equal(t, 133010, graphErr(t, err).Code)
	require.Equal(t, meta.ClassStop, meta.Classify(err))

	require.NoError(t, b.client.RegisterPhoneNumber(b.ctx, token, acct.PhoneNumberID, "246810"))

	info, err = b.client.GetPhoneNumber(b.ctx, token, acct.PhoneNumberID)
	require.NoError(t, err)
	require.Equal(t, acct.PhoneNumberID, info.ID)
	require.Equal(t, "+1 555-010-0001", info.DisplayPhoneNumber)
	require.Equal(t, "Acme Store", info.VerifiedName)
	require.Equal(t, "GREEN", info.QualityRating)
	require.Equal(t, "VERIFIED", info.CodeVerificationStatus)
	require.Equal(t, "APPROVED", info.NameStatus)
	require.Equal(t, "CLOUD_API", info.PlatformType)
	require.Equal(t, "STANDARD", info.Throughput.Level)
	require.Equal(t, "TIER_250", info.MessagingLimitTier())
	require.Equal(t, "LIVE", info.AccountMode)

	// Meta's quality system lowers the rating and raises the tier (developer endpoint).
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/quality",
		map[string]string{"phone_number_id": acct.PhoneNumberID, "quality_rating": "red", "messaging_limit_tier": "TIER_2K"}, nil))
	require.Equal(t, http.StatusBadRequest, b.dev(t, http.MethodPost, "/_sandbox/quality",
		map[string]string{"phone_number_id": acct.PhoneNumberID, "quality_rating": "PURPLE"}, nil))
	require.Equal(t, http.StatusNotFound, b.dev(t, http.MethodPost, "/_sandbox/quality",
		map[string]string{"phone_number_id": "404", "quality_rating": "RED"}, nil))
	info, err = b.client.GetPhoneNumber(b.ctx, token, acct.PhoneNumberID)
	require.NoError(t, err)
	require.Equal(t, "RED", info.QualityRating)
	require.Equal(t, "TIER_2K", info.MessagingLimitTier())
	require.NoError(t, b.sb.SetNumberQuality(acct.PhoneNumberID, sandbox.NumberQuality{QualityRating: "GREEN"}))

	// The customer writes first (developer endpoint), which opens the 24 h window.
	var in struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/inbound", map[string]any{
		"phone_number_id": acct.PhoneNumberID, "from": "+" + userWaID, "name": "Asha", "text": "Hi, is my order shipped?",
	}, &in))
	require.True(t, strings.HasPrefix(in.ID, "wamid."))
	got := b.rc.waitInbound(t, in.ID)
	require.Equal(t, "whatsapp_business_account", got.hook.Object)
	require.Equal(t, acct.WABAID, got.hook.Entry[0].ID)
	ch := got.hook.Entry[0].Changes[0]
	require.Equal(t, "messages", ch.Field)
	require.Equal(t, "whatsapp", ch.Value.MessagingProduct)
	require.Equal(t, "15550100001", ch.Value.Metadata.DisplayPhoneNumber)
	require.Equal(t, acct.PhoneNumberID, ch.Value.Metadata.PhoneNumberID)
	require.Equal(t, "Asha", ch.Value.Contacts[0].Profile.Name)
	require.Equal(t, userWaID, ch.Value.Contacts[0].WaID)
	msg := ch.Value.Messages[0]
	require.Equal(t, userWaID, msg["from"])
	require.Equal(t, "text", msg["type"])
	require.Equal(t, map[string]any{"body": "Hi, is my order shipped?"}, msg["text"])
	require.IsType(t, "", msg["timestamp"], "timestamps are strings")

	require.NoError(t, b.client.MarkRead(b.ctx, token, acct.PhoneNumberID, in.ID))
	require.NoError(t, b.client.ShowTyping(b.ctx, token, acct.PhoneNumberID, in.ID))
	err = b.client.MarkRead(b.ctx, token, acct.PhoneNumberID, "wamid.unknown")
	require.Equal(t, 131009, graphErr(t, err).Code)

	// Reply inside the window: accepted, then sent, delivered, read, each signed.
	payload := text("+"+userWaID, "Yes, it ships today")
	payload["biz_opaque_callback_data"] = "msg-0001"
	res, err := b.client.SendMessage(b.ctx, token, acct.PhoneNumberID, payload)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.WAMID, "wamid."))
	require.Equal(t, userWaID, res.WaID)

	sts := b.rc.waitStatuses(t, res.WAMID, 3)
	require.Len(t, sts, 3)
	require.Equal(t, []string{"sent", "delivered", "read"}, []string{sts[0].Status, sts[1].Status, sts[2].Status})
	for _, st := range sts {
		require.Equal(t, userWaID, st.RecipientID)
		require.Equal(t, "msg-0001", st.BizOpaque)
		require.NotEmpty(t, st.Timestamp)
		require.Empty(t, st.Errors)
	}
	require.NotNil(t, sts[0].Pricing)
	require.False(t, sts[0].Pricing.Billable)
	require.Equal(t, "PMP", sts[0].Pricing.PricingModel)
	require.Equal(t, "service", sts[0].Pricing.Category)
	require.Equal(t, "free_customer_service", sts[0].Pricing.Type)
	require.NotNil(t, sts[1].Pricing)
	require.Nil(t, sts[2].Pricing)
	require.Zero(t, b.rc.badSigs)

	// The sandbox's logs: calls carry ids but never a token; messages carry the outcome.
	var calls struct {
		Data []sandbox.Call `json:"data"`
	}
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodGet, "/_sandbox/calls", nil, &calls))
	require.NotEmpty(t, calls.Data)
	rawCalls, err := json.Marshal(calls)
	require.NoError(t, err)
	require.NotContains(t, string(rawCalls), token)
	require.NotContains(t, string(rawCalls), appSecret)
	sawSend := false
	for _, c := range calls.Data {
		if c.Method == http.MethodPost && c.Path == "/v25.0/"+acct.PhoneNumberID+"/messages" && c.Status == 200 {
			sawSend = true
			require.Equal(t, acct.PhoneNumberID, c.PhoneNumberID)
			require.Equal(t, acct.WABAID, c.WABAID)
		}
	}
	require.True(t, sawSend)

	var msgs struct {
		Data []sandbox.Message `json:"data"`
	}
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodGet, "/_sandbox/messages?phone_number_id="+acct.PhoneNumberID, nil, &msgs))
	require.Len(t, msgs.Data, 1)
	require.Equal(t, res.WAMID, msgs.Data[0].ID)
	require.Equal(t, "read", msgs.Data[0].Status)
	require.Equal(t, userWaID, msgs.Data[0].To)
	require.Equal(t, "msg-0001", msgs.Data[0].BizOpaqueCallbackData)
}

func TestWindowAndTemplates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})
	_, err := b.sb.AddTemplate(acct.WABAID, sandbox.TemplateSpec{
		Name: "spring_sale", Language: "en_US", Category: "MARKETING",
		Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}, {{2}} off today"}]`),
	})
	require.NoError(t, err)

	t.Run("NoInboundEver", func(t *testing.T) {
		t.Parallel()
		res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text("14155550101", "hello?"))
		require.NoError(t, err, "Meta accepts the send and fails it asynchronously")
		sts := b.rc.waitStatuses(t, res.WAMID, 1)
		require.Len(t, sts, 1)
		require.Equal(t, "failed", sts[0].Status)
		require.Nil(t, sts[0].Pricing, "never pricing on failed")
		require.Len(t, sts[0].Errors, 1)
		require.Equal(t, 131047, sts[0].Errors[0].Code)
		require.NotEmpty(t, sts[0].Errors[0].Title)
		require.Contains(t, sts[0].Errors[0].ErrorData.Details, "24 hours")
		require.NotEmpty(t, sts[0].Errors[0].Href)
		require.Equal(t, meta.ClassFinal, meta.Classify(&meta.Error{Code: sts[0].Errors[0].Code}))
	})

	t.Run("LastInboundOlderThan24h", func(t *testing.T) {
		t.Parallel()
		_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "14155550102", Text: "old",
			Timestamp: time.Now().Add(-25 * time.Hour)})
		require.NoError(t, err)
		res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text("14155550102", "late reply"))
		require.NoError(t, err)
		sts := b.rc.waitStatuses(t, res.WAMID, 1)
		require.Equal(t, "failed", sts[0].Status)
		require.Equal(t, 131047, sts[0].Errors[0].Code)
	})

	// springSale sends spring_sale (MARKETING) to the user.
	springSale := func(t *testing.T, to string) meta.SendResult {
		t.Helper()
		res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, map[string]any{
			"messaging_product": "whatsapp", "to": to, "type": "template",
			"template": map[string]any{"name": "spring_sale", "language": map[string]string{"code": "en_US"},
				"components": []any{map[string]any{"type": "body", "parameters": []any{
					map[string]string{"type": "text", "text": "Asha"}, map[string]string{"type": "text", "text": "20%"}}}}},
		})
		require.NoError(t, err)
		return res
	}

	t.Run("MarketingTemplateOutsideWindow", func(t *testing.T) {
		t.Parallel()
		res := springSale(t, "14155550103")
		require.Equal(t, "accepted", res.MessageStatus)
		sts := b.rc.waitStatuses(t, res.WAMID, 3)
		require.Equal(t, "sent", sts[0].Status)
		require.True(t, sts[0].Pricing.Billable)
		require.Equal(t, "marketing", sts[0].Pricing.Category)
		require.Equal(t, "regular", sts[0].Pricing.Type)
	})

	t.Run("MarketingLimitUntilLifted", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/marketing-limit", map[string]string{"wa_id": "+14155550105"}, nil))
		sts := b.rc.waitStatuses(t, springSale(t, "14155550105").WAMID, 1)
		require.Equal(t, "failed", sts[0].Status, "accepted, then failed")
		require.Equal(t, 131049, sts[0].Errors[0].Code)
		require.Equal(t, http.StatusOK, b.dev(t, http.MethodDelete, "/_sandbox/marketing-limit", map[string]string{"wa_id": "14155550105"}, nil))
		require.Equal(t, "sent", b.rc.waitStatuses(t, springSale(t, "14155550105").WAMID, 1)[0].Status)
	})

	t.Run("UtilityTemplateInsideWindowIsFree", func(t *testing.T) {
		t.Parallel()
		_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "14155550104", Text: "hi"})
		require.NoError(t, err)
		res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, map[string]any{
			"messaging_product": "whatsapp", "to": "14155550104", "type": "template",
			"template": map[string]any{"name": "hello_world", "language": map[string]string{"code": "en_US"}},
		})
		require.NoError(t, err)
		sts := b.rc.waitStatuses(t, res.WAMID, 3)
		require.Equal(t, "utility", sts[0].Pricing.Category)
		require.Equal(t, "free_customer_service", sts[0].Pricing.Type)
		require.False(t, sts[0].Pricing.Billable)
	})

	t.Run("TemplateErrors", func(t *testing.T) {
		t.Parallel()
		send := func(name, lang string, params ...string) error {
			var ps []any
			for _, p := range params {
				ps = append(ps, map[string]string{"type": "text", "text": p})
			}
			tmpl := map[string]any{"name": name, "language": map[string]string{"code": lang}}
			if ps != nil {
				tmpl["components"] = []any{map[string]any{"type": "body", "parameters": ps}}
			}
			_, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, map[string]any{
				"messaging_product": "whatsapp", "to": "14155550105", "type": "template", "template": tmpl})
			return err
		}
		err := send("no_such_template", "en_US")
		require.Equal(t, 132001, graphErr(t, err).Code)
		require.Equal(t, http.StatusNotFound, graphErr(t, err).HTTPStatus)
		err = send("spring_sale", "pt_BR", "a", "b")
		require.Equal(t, 132001, graphErr(t, err).Code)
		err = send("spring_sale", "en_US", "only one")
		require.Equal(t, 132000, graphErr(t, err).Code)
		require.Equal(t, meta.ClassFinal, meta.Classify(err))
	})
}

func TestUndeliverable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})
	_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "447700900123", Text: "hi"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/undeliverable", map[string]string{"wa_id": "+447700900123"}, nil))

	res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text("447700900123", "hello"))
	require.NoError(t, err)
	sts := b.rc.waitStatuses(t, res.WAMID, 1)
	require.Len(t, sts, 1)
	require.Equal(t, "failed", sts[0].Status)
	require.Equal(t, 131026, sts[0].Errors[0].Code)
}

// TestMessagesKeepsTheNewest: Messages keeps Config.MaxMessages accepted sends, dropping the
// oldest first.
func TestMessagesKeepsTheNewest(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sandbox.Config) { c.MaxMessages = 2 })
	acct := b.ready(t, sandbox.AccountOptions{})
	_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "447700900123", Text: "hi"})
	require.NoError(t, err)
	var sent []string
	for i := range 3 {
		res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text("447700900123", "hello "+strconv.Itoa(i)))
		require.NoError(t, err)
		sent = append(sent, res.WAMID)
	}
	var kept []string
	for _, m := range b.sb.Messages() {
		kept = append(kept, m.ID)
	}
	require.Equal(t, sent[1:], kept)
}

// TestReadReceipts: a read receipt names an inbound message the number received; the
// sandbox records it (ReadReceipts, GET /_sandbox/read-receipts) and refuses any other id
// with Meta's 131009, which the client classifies as final.
func TestReadReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})
	other := b.ready(t, sandbox.AccountOptions{})
	in, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "hi"})
	require.NoError(t, err)
	elsewhere, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: other.PhoneNumberID, From: userWaID, Text: "hi"})
	require.NoError(t, err)
	require.Empty(t, b.sb.ReadReceipts(acct.PhoneNumberID))

	require.NoError(t, b.client.MarkRead(b.ctx, acct.AccessToken, acct.PhoneNumberID, in))
	require.Equal(t, []string{in}, b.sb.ReadReceipts(acct.PhoneNumberID))

	for _, wamid := range []string{"wamid.unknown", elsewhere} {
		err = b.client.MarkRead(b.ctx, acct.AccessToken, acct.PhoneNumberID, wamid)
		ge := graphErr(t, err)
		require.Equal(t, 131009, ge.Code)
		require.Equal(t, http.StatusBadRequest, ge.HTTPStatus)
		require.Contains(t, ge.Details, "message_id")
		require.Equal(t, meta.ClassFinal, meta.Classify(err))
	}
	require.Equal(t, []string{in}, b.sb.ReadReceipts(acct.PhoneNumberID), "refused receipts are not recorded")
	require.Empty(t, b.sb.ReadReceipts(other.PhoneNumberID))

	// The Graph adapter reports the refusal as a final domain error.
	g := meta.NewGraph(b.client)
	require.NoError(t, g.MarkRead(b.ctx, other.AccessToken, other.PhoneNumberID, elsewhere))
	err = g.MarkRead(b.ctx, other.AccessToken, other.PhoneNumberID, in)
	var me *domain.MetaError
	require.ErrorAs(t, err, &me)
	require.Equal(t, domain.MetaFinal, me.Class)
	require.Equal(t, 131009, me.Code)

	var got struct {
		Data []sandbox.ReadReceipt `json:"data"`
	}
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodGet, "/_sandbox/read-receipts?phone_number_id="+acct.PhoneNumberID, nil, &got))
	require.Len(t, got.Data, 1)
	require.Equal(t, in, got.Data[0].MessageID)
	require.Equal(t, acct.PhoneNumberID, got.Data[0].PhoneNumberID)
	require.False(t, got.Data[0].Time.IsZero())
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodGet, "/_sandbox/read-receipts", nil, &got))
	require.Len(t, got.Data, 2, "every number's receipts without a filter")
}

func TestThroughputExceeded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{Throughput: 3})
	_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "hi"})
	require.NoError(t, err)

	var limited []error
	ok := 0
	for range 10 {
		_, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text(userWaID, "burst"))
		if err != nil {
			limited = append(limited, err)
		} else {
			ok++
		}
	}
	require.GreaterOrEqual(t, ok, 3)
	require.NotEmpty(t, limited)
	ge := graphErr(t, limited[0])
	require.Equal(t, 130429, ge.Code)
	require.Equal(t, http.StatusBadRequest, ge.HTTPStatus, "throttling is HTTP 400, not 429")
	require.Equal(t, meta.ClassThrottled, meta.Classify(limited[0]))
	require.Equal(t, time.Second, meta.RetryAfter(limited[0]))

	require.NoError(t, b.sb.SetThroughput(acct.PhoneNumberID, 1000))
	_, err = b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text(userWaID, "after raise"))
	require.NoError(t, err)
}

func TestGraphErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{PIN: "111111"})
	other := b.ready(t, sandbox.AccountOptions{})
	_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "hi"})
	require.NoError(t, err)

	t.Run("BadToken", func(t *testing.T) {
		t.Parallel()
		_, err := b.client.SendMessage(b.ctx, "EAASnot-a-real-token", acct.PhoneNumberID, text(userWaID, "x"))
		ge := graphErr(t, err)
		require.Equal(t, 190, ge.Code)
		require.Equal(t, http.StatusUnauthorized, ge.HTTPStatus)
		require.Equal(t, "OAuthException", ge.Type)
		require.NotEmpty(t, ge.FBTraceID)
		require.Equal(t, meta.ClassAuth, meta.Classify(err))
		require.NotContains(t, err.Error(), "EAASnot-a-real-token")

		_, err = b.client.ListTemplates(b.ctx, "", acct.WABAID)
		require.Equal(t, 190, graphErr(t, err).Code)

		bad := meta.NewClient(meta.ClientConfig{BaseURL: b.srv.URL, AppID: appID, AppSecret: "wrong"})
		_, err = bad.DebugToken(b.ctx, acct.AccessToken)
		require.Equal(t, 190, graphErr(t, err).Code)
		_, err = bad.ExchangeCode(b.ctx, acct.Code)
		require.Equal(t, 1, graphErr(t, err).Code)

		ids, err := b.client.DebugToken(b.ctx, "EAASrevoked")
		require.Nil(t, ids)
		require.Equal(t, 190, graphErr(t, err).Code)
	})

	t.Run("UnknownOrForeignIDs", func(t *testing.T) {
		t.Parallel()
		for _, id := range []string{"999999999999999", other.PhoneNumberID} {
			_, err := b.client.GetPhoneNumber(b.ctx, acct.AccessToken, id)
			ge := graphErr(t, err)
			require.Equal(t, 100, ge.Code)
			require.Equal(t, 33, ge.Subcode)
			require.Equal(t, http.StatusBadRequest, ge.HTTPStatus)
			require.Equal(t, "GraphMethodException", ge.Type)
		}
		_, err := b.client.ListPhoneNumbers(b.ctx, acct.AccessToken, other.WABAID)
		require.Equal(t, 33, graphErr(t, err).Subcode)
		_, err = b.client.SendMessage(b.ctx, acct.AccessToken, other.PhoneNumberID, text(userWaID, "x"))
		require.Equal(t, 33, graphErr(t, err).Subcode)
		require.Equal(t, meta.ClassFinal, meta.Classify(err))
	})

	t.Run("Unregistered", func(t *testing.T) {
		t.Parallel()
		fresh, err := b.sb.CreateAccount(sandbox.AccountOptions{Subscribed: true})
		require.NoError(t, err)
		_, err = b.client.SendMessage(b.ctx, fresh.AccessToken, fresh.PhoneNumberID, text(userWaID, "x"))
		ge := graphErr(t, err)
		require.Equal(t, 133010, ge.Code)
		require.Equal(t, "Account not registered", ge.Details)
		require.Equal(t, meta.ClassStop, meta.Classify(err))
	})

	t.Run("Register", func(t *testing.T) {
		t.Parallel()
		err := b.client.RegisterPhoneNumber(b.ctx, acct.AccessToken, acct.PhoneNumberID, "12345")
		require.Equal(t, 100, graphErr(t, err).Code)
		err = b.client.RegisterPhoneNumber(b.ctx, acct.AccessToken, acct.PhoneNumberID, "222222")
		require.Equal(t, 133005, graphErr(t, err).Code)
		require.NotContains(t, err.Error(), "222222")
		require.NoError(t, b.client.RegisterPhoneNumber(b.ctx, acct.AccessToken, acct.PhoneNumberID, "111111"))
	})

	t.Run("InvalidMessages", func(t *testing.T) {
		t.Parallel()
		send := func(p map[string]any) *meta.Error {
			_, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, p)
			return graphErr(t, err)
		}
		require.Equal(t, 100, send(text(userWaID, strings.Repeat("é", 4097))).Code)
		require.Equal(t, 100, send(map[string]any{"to": userWaID, "type": "text", "text": map[string]string{"body": "x"}}).Code)
		require.Equal(t, 100, send(map[string]any{"messaging_product": "whatsapp", "type": "text", "text": map[string]string{"body": "x"}}).Code)
		require.Equal(t, 100, send(map[string]any{"messaging_product": "whatsapp", "to": userWaID, "type": "hologram"}).Code)
		require.Equal(t, 131021, send(text(onlyDigits(acct.DisplayPhoneNumber), "me")).Code)
		fourButtons := []any{}
		for _, id := range []string{"a", "b", "c", "d"} {
			fourButtons = append(fourButtons, map[string]any{"type": "reply", "reply": map[string]string{"id": id, "title": id}})
		}
		ge := send(map[string]any{"messaging_product": "whatsapp", "to": userWaID, "type": "interactive",
			"interactive": map[string]any{"type": "button", "body": map[string]string{"text": "Pick"},
				"action": map[string]any{"buttons": fourButtons}}})
		require.Equal(t, 131009, ge.Code)
		require.Contains(t, ge.Details, "1 to 3 buttons")
		require.Equal(t, 131009, send(map[string]any{"messaging_product": "whatsapp", "to": userWaID, "type": "image",
			"image": map[string]string{"id": "123"}}).Code)

		// Text of exactly 4096 characters is fine.
		_, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text(userWaID, strings.Repeat("é", 4096)))
		require.NoError(t, err)
	})

	t.Run("UnknownField", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.srv.URL+"/v23.0/"+acct.PhoneNumberID+"?fields=verified_name,not_a_field", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+acct.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		raw, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(raw), "not_a_field")
		require.Contains(t, string(raw), `"code":100`)
	})
}

func TestFailureRate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sandbox.Config) { c.FailureRate = 1 })
	acct := b.ready(t, sandbox.AccountOptions{})
	_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "hi"})
	require.NoError(t, err)

	_, err = b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text(userWaID, "x"))
	ge := graphErr(t, err)
	require.Equal(t, 131000, ge.Code)
	require.Equal(t, http.StatusInternalServerError, ge.HTTPStatus)
	require.Equal(t, meta.ClassRetry, meta.Classify(err))

	var settings sandbox.Settings
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/config", map[string]any{"failure_rate": 0, "latency_ms": 1}, &settings))
	require.Zero(t, settings.FailureRate)
	require.EqualValues(t, 1, settings.LatencyMS)
	_, err = b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, text(userWaID, "x"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, b.dev(t, http.MethodPost, "/_sandbox/config", map[string]any{"failure_rate": 2}, nil))
}

// TestNonASCIIInbound checks that names and texts arrive escaped as \uXXXX and that the
// signature holds over the raw bytes, not over a re-serialization.
func TestNonASCIIInbound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})

	wamid, err := b.sb.InjectInbound(sandbox.Inbound{
		PhoneNumberID: acct.PhoneNumberID, From: userWaID, Name: "José Ñandú 😀", Text: "¿Está listo? नमस्ते / <ok>",
	})
	require.NoError(t, err)
	got := b.rc.waitInbound(t, wamid)
	raw := string(got.raw)
	require.Contains(t, raw, `Jos\u00e9 \u00d1and\u00fa \ud83d\ude00`)
	require.Contains(t, raw, `\u00bfEst\u00e1 listo? \u0928\u092e\u0938\u094d\u0924\u0947 \/ <ok>`)
	for i := 0; i < len(got.raw); i++ {
		require.Less(t, got.raw[i], byte(0x80), "raw webhook bytes are ASCII")
	}
	require.Equal(t, "José Ñandú 😀", got.hook.Entry[0].Changes[0].Value.Contacts[0].Profile.Name)
	require.Zero(t, b.rc.badSigs, "the receiver verified the signature over the raw bytes")

	// The same payload re-serialized does not match Meta's signature.
	var parsed any
	require.NoError(t, json.Unmarshal(got.raw, &parsed))
	reencoded, err := json.Marshal(parsed)
	require.NoError(t, err)
	require.NotEqual(t, sandbox.Sign(appSecret, got.raw), sandbox.Sign(appSecret, reencoded))
}

func TestInboundTypesAndBSUID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})

	t.Run("ImageGetsRealMedia", func(t *testing.T) {
		t.Parallel()
		var in struct {
			ID string `json:"id"`
		}
		require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/inbound", map[string]any{
			"phone_number_id": acct.PhoneNumberID, "from": "14155550111", "type": "image",
			"image": map[string]string{"caption": "my receipt"},
		}, &in))
		got := b.rc.waitInbound(t, in.ID)
		img := got.hook.Entry[0].Changes[0].Value.Messages[0]["image"].(map[string]any)
		require.Equal(t, "my receipt", img["caption"])
		require.Equal(t, "image/jpeg", img["mime_type"])
		mediaID := img["id"].(string)

		m, err := b.client.GetMedia(b.ctx, acct.AccessToken, mediaID)
		require.NoError(t, err)
		require.Equal(t, img["sha256"], m.SHA256)
		rc, err := b.client.DownloadMedia(b.ctx, acct.AccessToken, m.URL)
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		sum := sha256.Sum256(data)
		require.Equal(t, m.SHA256, hex.EncodeToString(sum[:]))
		require.EqualValues(t, len(data), m.FileSize)
	})

	t.Run("QuickReplyButton", func(t *testing.T) {
		t.Parallel()
		var in struct {
			ID string `json:"id"`
		}
		require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/inbound", map[string]any{
			"phone_number_id": acct.PhoneNumberID, "from": "14155550112", "type": "button",
			"button":  map[string]string{"payload": "STOP_PROMOTIONS", "text": "Stop promotions"},
			"context": map[string]string{"from": "15550100001", "id": "wamid.original"},
		}, &in))
		got := b.rc.waitInbound(t, in.ID)
		msg := got.hook.Entry[0].Changes[0].Value.Messages[0]
		require.Equal(t, "button", msg["type"])
		require.Equal(t, map[string]any{"payload": "STOP_PROMOTIONS", "text": "Stop promotions"}, msg["button"])
		require.Equal(t, "wamid.original", msg["context"].(map[string]any)["id"])
	})

	t.Run("UsernameOnlyUser", func(t *testing.T) {
		t.Parallel()
		const bsuid = "US.13491208655302741918"
		wamid, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, UserID: bsuid, Name: "anon", Text: "hi"})
		require.NoError(t, err)
		got := b.rc.waitInbound(t, wamid)
		v := got.hook.Entry[0].Changes[0].Value
		require.Equal(t, bsuid, v.Contacts[0].UserID)
		require.Empty(t, v.Contacts[0].WaID)
		require.NotContains(t, v.Messages[0], "from")
		require.Equal(t, bsuid, v.Messages[0]["from_user_id"])

		res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, map[string]any{
			"messaging_product": "whatsapp", "recipient": bsuid, "type": "text", "text": map[string]string{"body": "hello"}})
		require.NoError(t, err)
		require.Equal(t, bsuid, res.UserID)
		sts := b.rc.waitStatuses(t, res.WAMID, 3)
		require.Equal(t, bsuid, sts[0].RecipientUserID)
		require.Equal(t, "read", sts[2].Status)
	})
}

func TestMediaUploadAndSend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})
	_, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "send the invoice"})
	require.NoError(t, err)

	pdf := []byte("%PDF-1.4 invoice")
	id, err := b.client.UploadMedia(b.ctx, acct.AccessToken, acct.PhoneNumberID, "application/pdf", "inv.pdf", bytes.NewReader(pdf))
	require.NoError(t, err)

	m, err := b.client.GetMedia(b.ctx, acct.AccessToken, id)
	require.NoError(t, err)
	require.Equal(t, "application/pdf", m.MimeType)
	require.EqualValues(t, len(pdf), m.FileSize)
	require.True(t, strings.HasPrefix(m.URL, b.srv.URL+"/whatsapp_business/attachments/?"))

	rc, err := b.client.DownloadMedia(b.ctx, acct.AccessToken, m.URL)
	require.NoError(t, err)
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, pdf, data)

	other := b.ready(t, sandbox.AccountOptions{})
	_, err = b.client.DownloadMedia(b.ctx, other.AccessToken, m.URL)
	require.Error(t, err, "another business cannot download it")
	_, err = b.client.GetMedia(b.ctx, other.AccessToken, id)
	require.Equal(t, 33, graphErr(t, err).Subcode)

	_, err = b.client.UploadMedia(b.ctx, acct.AccessToken, acct.PhoneNumberID, "application/x-msdownload", "x.exe", strings.NewReader("MZ"))
	require.Equal(t, 100, graphErr(t, err).Code)

	res, err := b.client.SendMessage(b.ctx, acct.AccessToken, acct.PhoneNumberID, map[string]any{
		"messaging_product": "whatsapp", "to": userWaID, "type": "document",
		"document": map[string]string{"id": id, "filename": "inv.pdf", "caption": "Invoice"}})
	require.NoError(t, err)
	require.Equal(t, "read", b.rc.waitStatuses(t, res.WAMID, 3)[2].Status)
}

func TestTemplatesListAndCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.ready(t, sandbox.AccountOptions{})
	for i := range 130 {
		_, err := b.sb.AddTemplate(acct.WABAID, sandbox.TemplateSpec{
			Name: "bulk_" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Language: "en", Category: "UTILITY"})
		require.NoError(t, err)
	}

	created, err := b.client.CreateTemplate(b.ctx, acct.AccessToken, acct.WABAID, meta.TemplateCreate{
		Name: "order_shipped", Language: "en_US", Category: "utility",
		Components: []meta.TemplateComponent{{Type: "BODY", Text: "Hi {{1}}", Example: json.RawMessage(`{"body_text":[["Asha"]]}`)}},
	})
	require.NoError(t, err)
	require.Equal(t, "PENDING", created.Status)
	require.Equal(t, "UTILITY", created.Category)

	_, err = b.client.CreateTemplate(b.ctx, acct.AccessToken, acct.WABAID, meta.TemplateCreate{
		Name: "order_shipped", Language: "en_US", Category: "UTILITY", Components: []meta.TemplateComponent{{Type: "BODY", Text: "x"}}})
	ge := graphErr(t, err)
	require.Equal(t, 100, ge.Code)
	require.NotEmpty(t, ge.UserTitle)
	_, err = b.client.CreateTemplate(b.ctx, acct.AccessToken, acct.WABAID, meta.TemplateCreate{
		Name: "Bad Name", Language: "en_US", Category: "UTILITY", Components: []meta.TemplateComponent{{Type: "BODY", Text: "x"}}})
	require.Equal(t, 100, graphErr(t, err).Code)

	// The review outcome arrives as message_template_status_update.
	require.Eventually(t, func() bool {
		for _, r := range b.rc.received() {
			ch := r.hook.Entry[0].Changes[0]
			if ch.Field == "message_template_status_update" && ch.Value.MessageTemplateID.String() == created.ID {
				return ch.Value.Event == "APPROVED" && ch.Value.TemplateName == "order_shipped" &&
					ch.Value.TemplateCategory == "UTILITY" && r.hook.Entry[0].Time > 0 &&
					strings.Contains(string(r.raw), `"message_template_id":`+created.ID)
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond)

	all, err := b.client.ListTemplates(b.ctx, acct.AccessToken, acct.WABAID)
	require.NoError(t, err)
	require.Len(t, all, 132, "hello_world + 130 + order_shipped, across two pages")
	byName := map[string]meta.Template{}
	for _, tp := range all {
		byName[tp.Name] = tp
	}
	require.Equal(t, "APPROVED", byName["order_shipped"].Status)
	require.Equal(t, created.ID, byName["order_shipped"].ID)
	require.Equal(t, "BODY", byName["order_shipped"].Components[0].Type)
	require.Equal(t, "APPROVED", byName["hello_world"].Status)
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()

	t.Run("RetriedAfterNon200", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		acct := b.ready(t, sandbox.AccountOptions{})
		b.rc.mu.Lock()
		b.rc.failNext = 2
		b.rc.mu.Unlock()
		wamid, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "retry me"})
		require.NoError(t, err)
		b.rc.waitInbound(t, wamid)
		var d sandbox.WebhookDelivery
		require.Eventually(t, func() bool {
			for _, w := range b.sb.Webhooks() {
				if w.MessageID == wamid {
					d = w
					return true
				}
			}
			return false
		}, 5*time.Second, 5*time.Millisecond)
		require.Equal(t, "delivered", d.Outcome)
		require.Equal(t, 3, d.Attempts)
	})

	t.Run("NotSubscribedWABAGetsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		acct, err := b.sb.CreateAccount(sandbox.AccountOptions{Registered: true})
		require.NoError(t, err)
		wamid, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "anyone?"})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			for _, w := range b.sb.Webhooks() {
				if w.MessageID == wamid && w.Outcome == "not_subscribed" {
					return true
				}
			}
			return false
		}, 5*time.Second, 5*time.Millisecond)
		_, ok := b.rc.inbound(wamid)
		require.False(t, ok)
	})

	t.Run("OverrideCallbackIsVerified", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		acct := b.ready(t, sandbox.AccountOptions{})
		override := newReceiver(t, appSecret, "override-token")

		post := func(token string) *http.Response {
			body, _ := json.Marshal(map[string]string{"override_callback_uri": override.srv.URL + "/hook", "verify_token": token})
			req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.srv.URL+"/v25.0/"+acct.WABAID+"/subscribed_apps", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+acct.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		resp := post("wrong-token")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		raw, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(raw), `"code":2200`)

		require.Equal(t, http.StatusOK, post("override-token").StatusCode)
		wamid, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "to the override"})
		require.NoError(t, err)
		override.waitInbound(t, wamid)
		_, ok := b.rc.inbound(wamid)
		require.False(t, ok)
	})

	t.Run("HandshakeBeforeFirstDelivery", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		acct := b.ready(t, sandbox.AccountOptions{})
		wamid, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "hi"})
		require.NoError(t, err)
		b.rc.waitInbound(t, wamid)
		b.rc.mu.Lock()
		defer b.rc.mu.Unlock()
		require.Equal(t, 1, b.rc.handshake)
	})
}

func TestDeveloperAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)

	var acct sandbox.Account
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/accounts",
		map[string]string{"waba_id": "102290129340398", "phone_number_id": "106540352242922", "display_phone_number": "+91 98765 43210"}, &acct))
	require.Equal(t, "102290129340398", acct.WABAID)
	require.Equal(t, "106540352242922", acct.PhoneNumberID)
	require.Equal(t, "+91 98765 43210", acct.DisplayPhoneNumber)
	require.Equal(t, http.StatusConflict, b.dev(t, http.MethodPost, "/_sandbox/accounts",
		map[string]string{"phone_number_id": "106540352242922"}, nil))

	// A second number on the same WABA, with its own token.
	var second sandbox.Account
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodPost, "/_sandbox/accounts", map[string]string{"waba_id": acct.WABAID}, &second))
	require.Equal(t, acct.WABAID, second.WABAID)
	nums, err := b.client.ListPhoneNumbers(b.ctx, second.AccessToken, acct.WABAID)
	require.NoError(t, err)
	require.Len(t, nums, 2)

	require.Equal(t, http.StatusNotFound, b.dev(t, http.MethodPost, "/_sandbox/inbound",
		map[string]string{"phone_number_id": "1", "from": userWaID, "text": "x"}, nil))
	require.Equal(t, http.StatusBadRequest, b.dev(t, http.MethodPost, "/_sandbox/inbound",
		map[string]string{"phone_number_id": acct.PhoneNumberID, "text": "no sender"}, nil))
	require.Equal(t, http.StatusNotFound, b.dev(t, http.MethodGet, "/_sandbox/nothing", nil, nil))

	var settings sandbox.Settings
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodGet, "/_sandbox/config", nil, &settings))
	require.EqualValues(t, 5, settings.StatusDelayMS)

	var webhooks struct {
		Data []sandbox.WebhookDelivery `json:"data"`
	}
	require.Equal(t, http.StatusOK, b.dev(t, http.MethodGet, "/_sandbox/webhooks", nil, &webhooks))

	resp, err := http.Get(b.srv.URL + "/not-a-version/x")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestCloseStopsDelivery(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, appSecret, "")
	sb := sandbox.New(sandbox.Config{AppID: appID, AppSecret: appSecret, CallbackURL: rc.srv.URL, StatusDelay: time.Hour})
	acct, err := sb.CreateAccount(sandbox.AccountOptions{Registered: true, Subscribed: true})
	require.NoError(t, err)
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	c := meta.NewClient(meta.ClientConfig{BaseURL: srv.URL})
	_, err = sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "hi"})
	require.NoError(t, err)
	for range 20 {
		_, err := c.SendMessage(context.Background(), acct.AccessToken, acct.PhoneNumberID, text(userWaID, "queued for an hour"))
		require.NoError(t, err)
	}

	done := make(chan struct{})
	go func() {
		sb.Close()
		sb.Close() // idempotent
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	// After Close the sandbox still answers but schedules nothing.
	_, err = sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: userWaID, Text: "late"})
	require.NoError(t, err)
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestMediaURLsExpire: a download URL works for five minutes of the sandbox's clock, as
// Meta's do; a fresh GET /{media-id} gives a new one. An inbound file's bytes can be given,
// and a sha256 given with them is what Meta reports, whatever the bytes.
func TestMediaURLsExpire(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	b := setup(t, func(c *sandbox.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	acct := b.ready(t, sandbox.AccountOptions{})
	data := []byte("\xFF\xD8\xFF\xE0 a real jpeg, almost")
	wamid, err := b.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "14155550123", Type: "image",
		Content: json.RawMessage(`{"sha256":"not-the-hash"}`), MediaData: data})
	require.NoError(t, err)
	img := b.rc.waitInbound(t, wamid).hook.Entry[0].Changes[0].Value.Messages[0]["image"].(map[string]any)
	require.Equal(t, "not-the-hash", img["sha256"])

	m, err := b.client.GetMedia(b.ctx, acct.AccessToken, img["id"].(string))
	require.NoError(t, err)
	require.Equal(t, "not-the-hash", m.SHA256)
	rc, err := b.client.DownloadMedia(b.ctx, acct.AccessToken, m.URL)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, data, got)

	offset.Store(int64(5*time.Minute + 2*time.Second))
	_, err = b.client.DownloadMedia(b.ctx, acct.AccessToken, m.URL)
	require.Error(t, err, "the URL expired")
	fresh, err := b.client.GetMedia(b.ctx, acct.AccessToken, img["id"].(string))
	require.NoError(t, err)
	rc, err = b.client.DownloadMedia(b.ctx, acct.AccessToken, fresh.URL)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
}
