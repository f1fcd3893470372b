package meta_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/domain"
)

const (
	testAppID     = "1234567890"
	testAppSecret = "app-secret-value-xyz"
	testToken     = "EAASbusinessTokenThatMustNeverLeak0123456789"
)

type testBundle struct {
	client *meta.Client
	server *httptest.Server

	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Method string
	Path   string
	Query  map[string][]string
	Header http.Header
	Body   []byte
}

// newBundle starts an httptest Graph server answering with handler and records requests.
func newBundle(t *testing.T, handler http.HandlerFunc) *testBundle {
	t.Helper()
	b := &testBundle{}
	b.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.mu.Lock()
		b.requests = append(b.requests, recorded{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), body})
		b.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(b.server.Close)
	b.client = meta.NewClient(meta.ClientConfig{
		BaseURL: b.server.URL, Version: "v25.0", AppID: testAppID, AppSecret: testAppSecret, Timeout: 5 * time.Second,
	})
	return b
}

func (b *testBundle) last(t *testing.T) recorded {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.requests)
	return b.requests[len(b.requests)-1]
}

func (b *testBundle) all() []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recorded(nil), b.requests...)
}

func jsonReply(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func TestExchangeCode(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"access_token":"EAASnew","token_type":"bearer"}`))

	tok, err := b.client.ExchangeCode(context.Background(), "the-code")
	require.NoError(t, err)
	require.Equal(t, "EAASnew", tok)

	req := b.last(t)
	require.Equal(t, http.MethodGet, req.Method)
	require.Equal(t, "/v25.0/oauth/access_token", req.Path)
	require.Equal(t, []string{testAppID}, req.Query["client_id"])
	require.Equal(t, []string{testAppSecret}, req.Query["client_secret"])
	require.Equal(t, []string{"the-code"}, req.Query["code"])
	require.Empty(t, req.Header.Get("Authorization"))
}

func TestDebugToken(t *testing.T) {
	t.Parallel()

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, jsonReply(`{"data":{"app_id":"1234567890","type":"SYSTEM_USER","is_valid":true,
			"scopes":["whatsapp_business_management","whatsapp_business_messaging"],
			"granular_scopes":[{"scope":"whatsapp_business_messaging","target_ids":["999"]},
			                   {"scope":"whatsapp_business_management","target_ids":["111","222","111"]}]}}`))
		ids, err := b.client.DebugToken(context.Background(), testToken)
		require.NoError(t, err)
		require.Equal(t, []string{"111", "222"}, ids)

		req := b.last(t)
		require.Equal(t, http.MethodGet, req.Method)
		require.Equal(t, "/v25.0/debug_token", req.Path)
		require.Equal(t, []string{testToken}, req.Query["input_token"])
		require.Equal(t, "Bearer "+testAppID+"|"+testAppSecret, req.Header.Get("Authorization"))
	})

	t.Run("InvalidToken", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, jsonReply(`{"data":{"is_valid":false,"error":{"code":190,"subcode":460,"message":"The session has been invalidated"},"scopes":[]}}`))
		_, err := b.client.DebugToken(context.Background(), testToken)
		var ge *meta.Error
		require.ErrorAs(t, err, &ge)
		require.Equal(t, 190, ge.Code)
		require.Equal(t, 460, ge.Subcode)
		require.Equal(t, meta.ClassAuth, meta.Classify(err))
		require.NotContains(t, err.Error(), testToken)
	})
}

func TestListPhoneNumbers(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("after") == "" {
			_, _ = w.Write([]byte(`{"data":[{"verified_name":"Acme","code_verification_status":"VERIFIED","display_phone_number":"+1 555-010-0001",
				"quality_rating":"GREEN","platform_type":"CLOUD_API","throughput":{"level":"STANDARD"},"new_field":1,"id":"101"}],
				"paging":{"cursors":{"before":"b1","after":"a1"},"next":"https://graph.facebook.com/v25.0/55/phone_numbers?after=a1"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"data":[{"display_phone_number":"+91 98123 45678","verified_name":"Acme IN","quality_rating":"YELLOW","id":"102"}],
			"paging":{"cursors":{"before":"b2","after":"a2"}}}`))
	})

	nums, err := b.client.ListPhoneNumbers(context.Background(), testToken, "55")
	require.NoError(t, err)
	require.Len(t, nums, 2)
	require.Equal(t, meta.PhoneNumber{
		ID: "101", DisplayPhoneNumber: "+1 555-010-0001", VerifiedName: "Acme", QualityRating: "GREEN",
		CodeVerificationStatus: "VERIFIED", PlatformType: "CLOUD_API", Throughput: meta.Throughput{Level: "STANDARD"},
	}, nums[0])
	require.Equal(t, "102", nums[1].ID)

	reqs := b.all()
	require.Len(t, reqs, 2)
	require.Equal(t, "/v25.0/55/phone_numbers", reqs[0].Path)
	require.Equal(t, "Bearer "+testToken, reqs[0].Header.Get("Authorization"))
	require.Contains(t, reqs[0].Query["fields"][0], "display_phone_number")
	require.Equal(t, []string{"a1"}, reqs[1].Query["after"])
}

func TestSubscribeApp(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"success":true}`))
	require.NoError(t, b.client.SubscribeApp(context.Background(), testToken, "55"))
	req := b.last(t)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/v25.0/55/subscribed_apps", req.Path)
	require.Equal(t, "Bearer "+testToken, req.Header.Get("Authorization"))
	require.Empty(t, req.Body)

	b2 := newBundle(t, jsonReply(`{"success":false}`))
	err := b2.client.SubscribeApp(context.Background(), testToken, "55")
	require.ErrorIs(t, err, meta.ErrUnexpectedResponse)

	// With our public webhook URL configured, the subscription overrides the callback.
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(srv.Close)
	c := meta.NewClient(meta.ClientConfig{BaseURL: srv.URL, WebhookURL: "https://waba.example.com/webhooks/meta", VerifyToken: "vt-1"})
	require.NoError(t, c.SubscribeApp(context.Background(), testToken, "55"))
	require.JSONEq(t, `{"override_callback_uri":"https://waba.example.com/webhooks/meta","verify_token":"vt-1"}`, string(got))
}

func TestUnsubscribeApp(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"success":true}`))
	require.NoError(t, b.client.UnsubscribeApp(context.Background(), testToken, "55"))
	req := b.last(t)
	require.Equal(t, http.MethodDelete, req.Method)
	require.Equal(t, "/v25.0/55/subscribed_apps", req.Path)
	require.Equal(t, "Bearer "+testToken, req.Header.Get("Authorization"))

	gone := newBundle(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"message":"Unsupported delete request.","type":"GraphMethodException","code":100,"error_subcode":33}}`))
	})
	err := gone.client.UnsubscribeApp(context.Background(), testToken, "55")
	require.Equal(t, meta.ClassFinal, meta.Classify(err), "a WABA that is gone: nothing to retry")
}

func TestRegisterPhoneNumber(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"success":true}`))
	require.NoError(t, b.client.RegisterPhoneNumber(context.Background(), testToken, "101", "123456"))
	req := b.last(t)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/v25.0/101/register", req.Path)
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.JSONEq(t, `{"messaging_product":"whatsapp","pin":"123456"}`, string(req.Body))
}

func TestGetPhoneNumber(t *testing.T) {
	t.Parallel()

	t.Run("AllFields", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, jsonReply(`{"display_phone_number":"+1 555-010-0001","verified_name":"Acme","quality_rating":"GREEN",
			"code_verification_status":"VERIFIED","name_status":"APPROVED","platform_type":"CLOUD_API","throughput":{"level":"HIGH"},
			"messaging_limit_tier":"TIER_250","whatsapp_business_manager_messaging_limit":"TIER_10K",
			"is_official_business_account":true,"account_mode":"LIVE","id":"101"}`))
		info, err := b.client.GetPhoneNumber(context.Background(), testToken, "101")
		require.NoError(t, err)
		require.Equal(t, "101", info.ID)
		require.Equal(t, "+1 555-010-0001", info.DisplayPhoneNumber)
		require.Equal(t, "Acme", info.VerifiedName)
		require.Equal(t, "GREEN", info.QualityRating)
		require.Equal(t, "VERIFIED", info.CodeVerificationStatus)
		require.Equal(t, "APPROVED", info.NameStatus)
		require.Equal(t, "CLOUD_API", info.PlatformType)
		require.Equal(t, "HIGH", info.Throughput.Level)
		require.Equal(t, "TIER_250", info.NumberMessagingLimitTier)
		require.Equal(t, "TIER_10K", info.PortfolioMessagingLimit.Tier)
		require.Equal(t, "TIER_10K", info.MessagingLimitTier(), "the portfolio limit wins over the deprecated field")
		require.True(t, info.IsOfficialBusinessAccount)
		require.Equal(t, "LIVE", info.AccountMode)

		req := b.last(t)
		require.Equal(t, "/v25.0/101", req.Path)
		require.Equal(t, []string{meta.PhoneNumberFields}, req.Query["fields"])
		for _, f := range []string{"display_phone_number", "verified_name", "quality_rating", "code_verification_status",
			"name_status", "platform_type", "throughput", "messaging_limit_tier", "whatsapp_business_manager_messaging_limit",
			"is_official_business_account", "account_mode"} {
			require.Contains(t, req.Query["fields"][0], f)
		}
	})

	t.Run("LenientMessagingLimit", func(t *testing.T) {
		t.Parallel()
		cases := map[string]string{
			`"TIER_2K"`: "TIER_2K",
			`{"max_daily_conversations_per_business":"TIER_100K"}`: "TIER_100K",
			`{"tier":"TIER_UNLIMITED","updated":1}`:                "TIER_UNLIMITED",
			`{"something_new":{"value":"TIER_250"}}`:               "TIER_250",
			`2000`:                                                 "TIER_2K",
			`"10000"`:                                              "TIER_10K",
			`null`:                                                 "TIER_50",
			`{"unrelated":42}`:                                     "TIER_50",
			`[1,2]`:                                                "TIER_50",
		}
		for raw, want := range cases {
			var info meta.PhoneNumberInfo
			err := json.Unmarshal([]byte(`{"messaging_limit_tier":"TIER_50","whatsapp_business_manager_messaging_limit":`+raw+`}`), &info)
			require.NoError(t, err, raw)
			require.Equal(t, want, info.MessagingLimitTier(), raw)
		}
		var info meta.PhoneNumberInfo
		require.NoError(t, json.Unmarshal([]byte(`{"id":"1"}`), &info))
		require.Empty(t, info.MessagingLimitTier())
	})
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"messaging_product":"whatsapp","contacts":[{"input":"+919812345678","wa_id":"919812345678"}],
		"messages":[{"id":"wamid.HBgLOTE5ODEyMzQ1Njc4FQIAERgSQ0E=","message_status":"accepted"}]}`))
	payload := map[string]any{
		"messaging_product": "whatsapp", "to": "+919812345678", "type": "text",
		"text": map[string]any{"body": "Hello", "preview_url": false}, "biz_opaque_callback_data": "msg-1",
	}
	res, err := b.client.SendMessage(context.Background(), testToken, "101", payload)
	require.NoError(t, err)
	require.Equal(t, meta.SendResult{WAMID: "wamid.HBgLOTE5ODEyMzQ1Njc4FQIAERgSQ0E=", WaID: "919812345678", MessageStatus: "accepted"}, res)

	req := b.last(t)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/v25.0/101/messages", req.Path)
	require.Equal(t, "Bearer "+testToken, req.Header.Get("Authorization"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.JSONEq(t, `{"messaging_product":"whatsapp","to":"+919812345678","type":"text",
		"text":{"body":"Hello","preview_url":false},"biz_opaque_callback_data":"msg-1"}`, string(req.Body))

	t.Run("NoMessageID", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, jsonReply(`{"messaging_product":"whatsapp","messages":[]}`))
		_, err := b.client.SendMessage(context.Background(), testToken, "101", payload)
		require.ErrorIs(t, err, meta.ErrUnexpectedResponse)
	})
	t.Run("UnmarshalablePayload", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, jsonReply(`{}`))
		_, err := b.client.SendMessage(context.Background(), testToken, "101", map[string]any{"bad": make(chan int)})
		require.ErrorIs(t, err, meta.ErrInvalidRequest)
		require.Equal(t, meta.ClassFinal, meta.Classify(err))
		require.Empty(t, b.all())
	})
}

func TestMarkRead(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"success":true}`))

	require.NoError(t, b.client.MarkRead(context.Background(), testToken, "101", "wamid.IN"))
	req := b.last(t)
	require.Equal(t, "/v25.0/101/messages", req.Path)
	require.JSONEq(t, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN"}`, string(req.Body))

	require.NoError(t, b.client.ShowTyping(context.Background(), testToken, "101", "wamid.IN"))
	req = b.last(t)
	require.JSONEq(t, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN","typing_indicator":{"type":"text"}}`, string(req.Body))
}

func TestListTemplates(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("after") {
		case "":
			_, _ = w.Write([]byte(`{"data":[{"name":"order_shipped","parameter_format":"POSITIONAL","components":[
				{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["#1"]}},
				{"type":"BODY","text":"Hi {{1}}"},
				{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://x.test/{{1}}","example":["https://x.test/1"]}]}],
				"language":"en_US","status":"APPROVED","category":"UTILITY","quality_score":{"score":"GREEN","date":1},"id":"7001"}],
				"paging":{"cursors":{"before":"x","after":"c1"},"next":"https://graph.facebook.com/next"}}`))
		case "c1":
			_, _ = w.Write([]byte(`{"data":[{"name":"promo","language":"en","status":"PAUSED","category":"MARKETING","quality_score":"RED","id":"7002"}],
				"paging":{"cursors":{"before":"y","after":"c2"},"next":"https://graph.facebook.com/next2"}}`))
		default:
			_, _ = w.Write([]byte(`{"data":[],"paging":{"cursors":{"before":"z","after":"c3"}}}`))
		}
	})

	ts, err := b.client.ListTemplates(context.Background(), testToken, "55")
	require.NoError(t, err)
	require.Len(t, ts, 2)
	require.Equal(t, "7001", ts[0].ID)
	require.Equal(t, "order_shipped", ts[0].Name)
	require.Equal(t, "GREEN", ts[0].QualityScore.Score)
	require.Len(t, ts[0].Components, 3)
	require.Equal(t, "TEXT", ts[0].Components[0].Format)
	require.JSONEq(t, `{"header_text":["#1"]}`, string(ts[0].Components[0].Example))
	require.Equal(t, "URL", ts[0].Components[2].Buttons[1].Type)
	require.Equal(t, "https://x.test/{{1}}", ts[0].Components[2].Buttons[1].URL)
	require.Equal(t, "RED", ts[1].QualityScore.Score)
	require.Equal(t, "PAUSED", ts[1].Status)

	reqs := b.all()
	require.Len(t, reqs, 3)
	require.Equal(t, "/v25.0/55/message_templates", reqs[0].Path)
	require.Contains(t, reqs[0].Query["fields"][0], "components")
	require.Equal(t, []string{"c2"}, reqs[2].Query["after"])
}

func TestCreateTemplate(t *testing.T) {
	t.Parallel()
	b := newBundle(t, jsonReply(`{"id":"7003","status":"PENDING","category":"UTILITY"}`))
	created, err := b.client.CreateTemplate(context.Background(), testToken, "55", meta.TemplateCreate{
		Name: "order_shipped", Language: "en_US", Category: "UTILITY", ParameterFormat: "POSITIONAL",
		Components: []meta.TemplateComponent{
			{Type: "BODY", Text: "Hi {{1}}", Example: json.RawMessage(`{"body_text":[["Asha"]]}`)},
			{Type: "BUTTONS", Buttons: []meta.TemplateButton{{Type: "QUICK_REPLY", Text: "Stop promotions"}}},
		},
	})
	require.NoError(t, err)
	require.Equal(t, meta.TemplateCreated{ID: "7003", Status: "PENDING", Category: "UTILITY"}, created)
	req := b.last(t)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/v25.0/55/message_templates", req.Path)
	require.JSONEq(t, `{"name":"order_shipped","language":"en_US","category":"UTILITY","parameter_format":"POSITIONAL",
		"components":[{"type":"BODY","text":"Hi {{1}}","example":{"body_text":[["Asha"]]}},
		{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop promotions"}]}]}`, string(req.Body))
}

func TestMedia(t *testing.T) {
	t.Parallel()

	var b *testBundle
	b = newBundle(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v25.0/101/media":
			require.NoError(t, r.ParseMultipartForm(1<<20))
			f, hdr, err := r.FormFile("file")
			require.NoError(t, err)
			data, _ := io.ReadAll(f)
			if r.FormValue("messaging_product") != "whatsapp" || r.FormValue("type") != "image/png" ||
				hdr.Filename != "pic.png" || hdr.Header.Get("Content-Type") != "image/png" || string(data) != "PNGDATA" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"bad upload","type":"OAuthException","code":100}}`))
				return
			}
			_, _ = w.Write([]byte(`{"id":"88001"}`))
		case r.URL.Path == "/v25.0/88001":
			_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","url":"` + b.server.URL + `/dl/?mid=88001","mime_type":"image/png","sha256":"abc","file_size":"7","id":"88001"}`))
		case r.URL.Path == "/dl/":
			if r.Header.Get("Authorization") != "Bearer "+testToken {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte("PNGDATA"))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"Unsupported get request","type":"GraphMethodException","code":100,"error_subcode":33}}`))
		}
	})
	ctx := context.Background()

	id, err := b.client.UploadMedia(ctx, testToken, "101", "image/png", "pic.png", strings.NewReader("PNGDATA"))
	require.NoError(t, err)
	require.Equal(t, "88001", id)
	require.True(t, strings.HasPrefix(b.last(t).Header.Get("Content-Type"), "multipart/form-data; boundary="))

	m, err := b.client.GetMedia(ctx, testToken, "88001")
	require.NoError(t, err)
	require.Equal(t, meta.Media{ID: "88001", URL: b.server.URL + "/dl/?mid=88001", MimeType: "image/png", SHA256: "abc", FileSize: 7}, m)

	rc, err := b.client.DownloadMedia(ctx, testToken, m.URL)
	require.NoError(t, err)
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, "PNGDATA", string(data))

	_, err = b.client.GetMedia(ctx, testToken, "404404")
	var ge *meta.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, 33, ge.Subcode)

	t.Run("RefusesToSendTheTokenElsewhere", func(t *testing.T) {
		t.Parallel()
		_, err := b.client.DownloadMedia(ctx, testToken, "http://evil.example/steal")
		require.ErrorIs(t, err, meta.ErrInvalidRequest)
		_, err = b.client.DownloadMedia(ctx, testToken, "/relative")
		require.ErrorIs(t, err, meta.ErrInvalidRequest)
	})
}

// TestTokenNeverInErrors checks the credential redaction of transport and Graph errors.
func TestTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("TransportErrors", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close() // nothing listens there any more
		c := meta.NewClient(meta.ClientConfig{BaseURL: base, AppID: testAppID, AppSecret: testAppSecret, Timeout: 2 * time.Second})

		_, err := c.DebugToken(ctx, testToken)
		require.Error(t, err)
		require.Equal(t, meta.ClassRetry, meta.Classify(err))
		require.NotContains(t, err.Error(), testToken)
		require.NotContains(t, err.Error(), testAppSecret)
		require.Contains(t, err.Error(), "REDACTED")

		_, err = c.ExchangeCode(ctx, "secret-signup-code")
		require.Error(t, err)
		require.NotContains(t, err.Error(), testAppSecret)
		require.NotContains(t, err.Error(), "secret-signup-code")

		for _, call := range []func() error{
			func() error { _, err := c.SendMessage(ctx, testToken, "101", map[string]string{}); return err },
			func() error { return c.RegisterPhoneNumber(ctx, testToken, "101", "123456") },
			func() error { _, err := c.ListTemplates(ctx, testToken, "55"); return err },
			func() error { _, err := c.DownloadMedia(ctx, testToken, base+"/x?access_token="+testToken); return err },
		} {
			err := call()
			require.Error(t, err)
			require.NotContains(t, err.Error(), testToken)
			require.Equal(t, meta.ClassRetry, meta.Classify(err))
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		t.Cleanup(srv.Close)
		c := meta.NewClient(meta.ClientConfig{BaseURL: srv.URL, AppID: testAppID, AppSecret: testAppSecret, Timeout: 50 * time.Millisecond})
		_, err := c.DebugToken(ctx, testToken)
		require.Error(t, err)
		require.Equal(t, meta.ClassRetry, meta.Classify(err))
		require.NotContains(t, err.Error(), testToken)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("GraphErrorEchoingTheToken", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Malformed access token ` + testToken + `","type":"OAuthException","code":190,
				"error_data":{"details":"token ` + testToken + ` rejected"}}}`))
		})
		_, err := b.client.SendMessage(ctx, testToken, "101", map[string]string{"messaging_product": "whatsapp"})
		require.Error(t, err)
		require.NotContains(t, err.Error(), testToken)
		var ge *meta.Error
		require.ErrorAs(t, err, &ge)
		require.NotContains(t, ge.Message, testToken)
		require.NotContains(t, ge.Details, testToken)
	})
}

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	tr := meta.NewTransport()
	require.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 256)
	require.NotZero(t, tr.IdleConnTimeout)
	require.NotZero(t, tr.TLSHandshakeTimeout)

	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(srv.Close)
	c := meta.NewClient(meta.ClientConfig{BaseURL: srv.URL + "/"})
	require.NoError(t, c.SubscribeApp(context.Background(), testToken, "55"))
	require.Equal(t, "/"+meta.DefaultVersion+"/55/subscribed_apps", gotPath)
}

// A send Meta may have carried out is told from one it surely did not: only an answer, or
// a connection never made, says nothing was sent.
func TestMayHaveActed(t *testing.T) {
	t.Parallel()
	payload := map[string]any{"messaging_product": "whatsapp", "to": "+919812345678", "type": "text"}
	send := func(b *testBundle) error {
		_, err := b.client.SendMessage(context.Background(), testToken, "101", payload)
		require.Error(t, err)
		return err
	}
	t.Run("ConnectionLostMidExchange", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close() // the request was read; no answer
			}
		})
		require.True(t, meta.MayHaveActed(send(b)))
	})
	t.Run("UnreadableSuccess", func(t *testing.T) {
		t.Parallel()
		require.True(t, meta.MayHaveActed(send(newBundle(t, jsonReply(`{"messages":[]}`)))))
	})
	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.client.SendMessage(ctx, testToken, "101", payload)
		require.True(t, meta.MayHaveActed(err))
	})
	t.Run("AnErrorAnswer", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid parameter","type":"OAuthException","code":100}}`))
		})
		require.False(t, meta.MayHaveActed(send(b)))
	})
	t.Run("NoConnection", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, jsonReply(`{}`))
		b.server.Close()
		err := send(b)
		require.False(t, meta.MayHaveActed(err), "%v", err)
		var me *domain.MetaError
		require.ErrorAs(t, meta.AsDomainError(err), &me)
		require.False(t, me.MayHaveActed)
		require.True(t, meta.AsDomainError(send(newBundle(t, jsonReply(`{"messages":[]}`)))).(*domain.MetaError).MayHaveActed)
	})
}
