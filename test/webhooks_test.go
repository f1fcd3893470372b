package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/bootstrap"
	"github.com/wabaplatform/waba/domain"
)

// The fixtures' business number and WABA (test/testdata/webhooks/README.md).
const (
	fixtureWABA    = "102290129340398"
	fixturePhoneID = "106540352242922"
	fixtureDir     = "testdata/webhooks"
	appSecret      = "test-app-secret"
)

// hookEnv is a running app with one workspace owning the fixtures' number.
type hookEnv struct {
	a      *App
	owner  user
	ws     string
	number string // our id of the connected number
}

func (h *hookEnv) path(p string) string { return "/v1/workspaces/" + h.ws + p }

// startHooks starts an app with the fixtures' number connected to a fresh workspace. The
// number's display number is stored in Graph's formatted form: routing by display number
// must compare digits.
func startHooks(t *testing.T, tweak ...func(*bootstrap.Config)) *hookEnv {
	t.Helper()
	a := startApp(t, tweak...)
	return newHookEnv(t, a)
}

func newHookEnv(t *testing.T, a *App) *hookEnv {
	t.Helper()
	h := &hookEnv{a: a, owner: a.signup(t, "owner")}
	h.ws = a.createWorkspace(t, h.owner, "Panadería")
	h.number = connectNumber(t, a, h.ws, fixturePhoneID, fixtureWABA, "+1 555-078-3881")
	return h
}

// connectNumber inserts a connected number directly (the onboarding flow has its own tests).
func connectNumber(t *testing.T, a *App, ws, phoneNumberID, wabaID, display string) string {
	t.Helper()
	id := domain.NewID()
	_, err := a.Pool.Exec(context.Background(), `
		INSERT INTO phone_numbers (workspace_id, id, phone_number_id, waba_id, display_phone_number, status,
			webhook_subscribed, registered, token_ciphertext, token_nonce, token_wrapped_key, token_key_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'connected', true, true, '\x00', '\x00', '\x00', 'test', now(), now())`,
		ws, id, phoneNumberID, wabaID, display)
	require.NoError(t, err)
	seedTemplates(t, a, ws, wabaID, nil)
	return id.String()
}

func sign(body []byte) string { return webhook.Sign([]byte(appSecret), body) }

// post sends body signed as Meta does.
func (h *hookEnv) post(t testing.TB, body []byte) Response {
	t.Helper()
	return h.a.Do(t, "POST", "/webhooks/meta", "", body, "X-Hub-Signature-256", sign(body))
}

// deliver posts body, requires 200 and waits until every webhook job has finished.
func (h *hookEnv) deliver(t testing.TB, body []byte) {
	t.Helper()
	res := h.post(t, body)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	h.waitJobs(t)
}

// webhookBodies is every queued webhook body with the job that answers for it, as a FROM
// item (riveradapter.WebhookBodiesQuery).
var webhookBodies = "(" + riveradapter.WebhookBodiesQuery + ") w"

// waitJobs waits until no webhook job is pending or running, and fails on any job that
// errored (a retry would hide a bug behind a 1s backoff).
func (h *hookEnv) waitJobs(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 20*time.Second, func() bool {
		var pending int
		var errs []string
		require.NoError(t, h.a.Pool.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded')),
				coalesce(array_agg(errors::text) FILTER (WHERE state IN ('retryable', 'discarded')), '{}')
			FROM `+webhookBodies).Scan(&pending, &errs))
		require.Empty(t, errs, "a webhook job failed")
		return pending == 0
	}, "webhook jobs should finish")
}

func (h *hookEnv) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, h.a.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// contactBy returns the contact with that phone ("+" and Meta's wa_id) through the API.
// (The phone query parameter would reject +52 1 ... numbers, which libphonenumber calls
// invalid but WhatsApp still uses as wa_ids.)
func (h *hookEnv) contactBy(t testing.TB, phone string) map[string]any {
	t.Helper()
	var id string
	require.NoError(t, h.a.Pool.QueryRow(context.Background(), `SELECT id::text FROM contacts WHERE workspace_id = $1 AND phone = $2`,
		h.ws, phone).Scan(&id), "contact %s", phone)
	return h.a.Must(t, 200, "GET", h.path("/contacts/"+id), h.owner.Token, nil)
}

func (h *hookEnv) contactByBSUID(t testing.TB, bsuid string) map[string]any {
	t.Helper()
	var id string
	require.NoError(t, h.a.Pool.QueryRow(context.Background(), `SELECT id::text FROM contacts WHERE workspace_id = $1 AND bsuid = $2`,
		h.ws, bsuid).Scan(&id))
	return h.a.Must(t, 200, "GET", h.path("/contacts/"+id), h.owner.Token, nil)
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err)
	return b
}

// checkStored verifies the generic effect of a fixture: every message with a sender is
// stored once, inbound and received, with its type object as content and Meta's message
// object as raw; every status
// is recorded once per (wamid, status).
func (h *hookEnv) checkStored(t *testing.T, body []byte) {
	t.Helper()
	env, err := webhook.Parse(body)
	require.NoError(t, err)
	for _, ch := range env.Changes() {
		if ch.Value == nil {
			continue
		}
		for i := range ch.Value.Messages {
			m := &ch.Value.Messages[i]
			var dir, status, typ string
			var content, raw []byte
			require.NoError(t, h.a.Pool.QueryRow(context.Background(), `SELECT direction, status, type, content, raw FROM messages
				WHERE workspace_id = $1 AND wamid = $2`, h.ws, m.ID).Scan(&dir, &status, &typ, &content, &raw), "message %s", m.ID)
			require.Equal(t, "inbound", dir)
			require.Equal(t, "received", status)
			require.Equal(t, m.Type, typ)
			require.JSONEq(t, string(m.TypeObject()), string(content))
			require.JSONEq(t, string(m.Raw), string(raw))
		}
		for _, s := range ch.Value.Statuses {
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM message_statuses WHERE wamid = $1 AND status = $2`, s.ID, s.Status))
		}
	}
}

// Every fixture of the corpus, posted signed byte for byte, in turn; each one's effect is
// checked through the API or the database once its job has run.
func TestWebhookFixtures(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	ctx := context.Background()
	// The templates the template fixtures speak of, as a sync would have stored them before
	// Meta's news (a webhook about a template not known here asks for a sync instead).
	// No report time yet, so the fixtures' January timestamps apply.
	for _, tp := range [][4]string{
		{"order_confirmation", "en_US", "1689556908129832", "UTILITY"}, {"promo_verano", "es_MX", "1689556908129833", "MARKETING"},
		{"weekly_deals", "en_US", "1689556908129834", "MARKETING"}, {"old_welcome", "hi", "1689556908129835", "UTILITY"},
	} {
		_, err := h.a.Pool.Exec(ctx, `INSERT INTO templates (workspace_id, id, waba_id, meta_template_id, name, language, category,
			status, quality_rating, components, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', 'GREEN', '[]', now())`,
			h.ws, domain.NewID(), fixtureWABA, tp[2], tp[0], tp[1], tp[3])
		require.NoError(t, err)
	}
	sheena, jose, priya, jurgen := "+16505551234", "+5215512345678", "+919812345678", "+4915112345678"
	ana := "BR.13491208655302741918"

	number := func() map[string]any {
		return h.a.Must(t, 200, "GET", h.path("/whatsapp/phone-numbers/"+h.number), h.owner.Token, nil)
	}
	template := func(name, lang string) (status, quality, category, reason, metaID string) {
		require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT status, quality_rating, category, rejected_reason, meta_template_id FROM templates
			WHERE workspace_id = $1 AND waba_id = $2 AND name = $3 AND language = $4`, h.ws, fixtureWABA, name, lang).
			Scan(&status, &quality, &category, &reason, &metaID))
		return
	}
	accountEvents := func(field string) int {
		return h.count(t, `SELECT count(*) FROM account_events WHERE workspace_id = $1 AND waba_id = $2 AND field = $3`, h.ws, fixtureWABA, field)
	}

	checks := map[string]func(t *testing.T){
		"text.json": func(t *testing.T) {
			c := h.contactBy(t, jose)
			require.Equal(t, "José García", c["name"])
			require.Equal(t, "5215512345678", c["wa_id"])
			require.Equal(t, "MX.11398273645501928374", c["bsuid"])
			// The window is 24 h after José's newest message (other fixtures of his are newer).
			last, err := time.Parse(time.RFC3339, c["last_inbound_at"].(string))
			require.NoError(t, err)
			require.False(t, last.Before(time.Unix(1768000000, 0)))
			require.Equal(t, last.Add(24*time.Hour).Format(time.RFC3339), c["service_window_expires_at"])
			require.Equal(t, false, c["opted_out"])
			var body string
			require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT content->>'body' FROM messages WHERE wamid = $1`,
				"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBMUYwQzJCOUU3RDRBNTVCNkMxAA==").Scan(&body))
			require.Equal(t, "Hola, ¿tienen envío a Monterrey? 🎉", body)
		},
		"text_stop.json": func(t *testing.T) {
			c := h.contactBy(t, sheena)
			require.Equal(t, true, c["opted_out"])
			require.Equal(t, "keyword", c["opt_out_source"])
			require.NotNil(t, c["opted_out_at"])
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE contact_id = $1 AND direction = 'outbound'
				AND type = 'text' AND content->>'body' LIKE 'You have been unsubscribed%' AND phone_number_id = $2`, c["id"], fixturePhoneID))
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM river_job WHERE kind = 'message.send'`))
			audit := h.a.Must(t, 200, "GET", h.path("/audit-logs?action=contact.opted_out"), h.owner.Token, nil)["data"].([]any)
			require.Len(t, audit, 1)
			entry := audit[0].(map[string]any)
			require.Equal(t, "contact", entry["actor_type"])
			require.Equal(t, c["id"], entry["actor_id"])
			require.Equal(t, c["id"], entry["resource_id"])
		},
		"button_quick_reply.json": func(t *testing.T) {
			// "Stop promotions" / STOP_PROMOTIONS is not a keyword unless the workspace adds it.
			require.Equal(t, false, h.contactBy(t, sheena)["opted_out"])
		},
		"interactive_list_reply.json": func(t *testing.T) {
			require.Equal(t, "प्रिया शर्मा", h.contactBy(t, priya)["name"])
		},
		"audio_voice.json": func(t *testing.T) {
			require.Equal(t, "Jürgen Müller", h.contactBy(t, jurgen)["name"])
		},
		"bsuid_only_user.json": func(t *testing.T) {
			c := h.contactByBSUID(t, ana)
			require.Nil(t, c["phone"])
			require.Nil(t, c["wa_id"])
			require.Equal(t, "Ana", c["name"])
			require.NotNil(t, c["service_window_expires_at"])
		},
		"system_user_changed_user_id.json": func(t *testing.T) {
			// Empty from, BSUID in from_user_id: stored against Ana, not a failure.
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id
				WHERE m.type = 'system' AND c.bsuid = $1`, ana))
		},
		"system_user_changed_number.json": func(t *testing.T) {
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id
				WHERE m.type = 'system' AND c.phone = $1`, sheena))
		},
		"user_preferences_stop.json": func(t *testing.T) {
			require.Equal(t, true, h.contactBy(t, sheena)["marketing_opted_out"])
		},
		"user_preferences_resume.json": func(t *testing.T) {
			require.Equal(t, false, h.contactBy(t, jose)["marketing_opted_out"])
		},
		"template_status_approved.json": func(t *testing.T) {
			status, _, category, reason, metaID := template("order_confirmation", "en_US")
			require.Equal(t, "APPROVED", status)
			require.Equal(t, "UTILITY", category)
			require.Empty(t, reason, "Meta's NONE is no reason")
			require.Equal(t, "1689556908129832", metaID)
		},
		"template_status_rejected.json": func(t *testing.T) {
			status, _, _, reason, _ := template("promo_verano", "es_MX")
			require.Equal(t, "REJECTED", status)
			require.Equal(t, "INVALID_FORMAT", reason)
		},
		"template_status_paused.json": func(t *testing.T) {
			status, _, _, _, _ := template("weekly_deals", "en_US")
			require.Equal(t, "PAUSED", status)
		},
		"template_status_pending_deletion.json": func(t *testing.T) {
			status, _, _, reason, _ := template("old_welcome", "hi")
			require.Equal(t, "PENDING_DELETION", status)
			require.Empty(t, reason)
		},
		"template_quality_update.json": func(t *testing.T) {
			_, quality, _, _, _ := template("weekly_deals", "en_US")
			require.Equal(t, "YELLOW", quality)
		},
		"template_category_update.json": func(t *testing.T) {
			_, _, category, _, _ := template("order_shipped", "en_US")
			require.Equal(t, "MARKETING", category)
		},
		"business_capability_update.json": func(t *testing.T) {
			require.Equal(t, "TIER_2K", number()["messaging_limit_tier"])
			require.Equal(t, 1, accountEvents("business_capability_update"))
		},
		"phone_number_quality_update.json": func(t *testing.T) {
			require.Equal(t, "TIER_10K", number()["messaging_limit_tier"])
			require.Equal(t, 1, accountEvents("phone_number_quality_update"))
		},
		"phone_number_name_update.json": func(t *testing.T) {
			require.Equal(t, "Panadería José", number()["verified_name"])
		},
		"account_update_restriction.json": func(t *testing.T) {
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM account_events WHERE event = 'ACCOUNT_RESTRICTION'
				AND payload->'restriction_info'->0->>'restriction_type' = 'RESTRICTED_BIZ_INITIATED_MESSAGING'`))
		},
		"account_alerts.json":        func(t *testing.T) { require.Equal(t, 1, accountEvents("account_alerts")) },
		"account_review_update.json": func(t *testing.T) { require.Equal(t, 1, accountEvents("account_review_update")) },
		"account_update_partner_app_uninstalled.json": func(t *testing.T) {
			n := number()
			require.Equal(t, "needs_reconnect", n["status"])
			require.Contains(t, n["failure_reason"], "PARTNER_APP_UNINSTALLED")
		},
		"status_failed_131047.json": func(t *testing.T) {
			var errs string
			require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT errors->0->>'code' FROM message_statuses WHERE status = 'failed'
				AND wamid = 'wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBCMDAyAA=='`).Scan(&errs))
			require.Equal(t, "131047", errs)
		},
		"status_sent.json": func(t *testing.T) {
			require.Equal(t, 1, h.count(t, `SELECT count(*) FROM message_statuses WHERE status = 'sent' AND pricing->>'category' = 'marketing'
				AND wamid = 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRCSVowMDAwMDAwMDAwMDAwQjAwMQA='`))
		},
	}

	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 50)
	// The uninstall disconnects the number: last. text_stop after button_quick_reply so the
	// button check sees Sheena still subscribed (alphabetical order already does).
	last := "account_update_partner_app_uninstalled.json"
	slices.SortFunc(files, func(a, b string) int {
		switch {
		case filepath.Base(a) == last:
			return 1
		case filepath.Base(b) == last:
			return -1
		}
		return strings.Compare(a, b)
	})
	ran := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		body := readFixture(t, name)
		h.deliver(t, body)
		t.Run(name, func(t *testing.T) {
			h.checkStored(t, body)
			if check, ok := checks[name]; ok {
				ran[name] = true
				check(t)
			}
		})
	}
	// A check whose fixture was renamed or removed would otherwise never run.
	for name := range checks {
		require.True(t, ran[name], "the check for %s never ran: no fixture has that name", name)
	}

	// Meta's notification-level error and the opt-out are counted; the queue is visible.
	metrics := string(h.a.Do(t, "GET", "/metrics", "", nil).Body)
	for _, want := range []string{
		`webhook_notification_errors_total{code="131000"} 1`,
		`contact_opt_outs_total 1`,
		fmt.Sprintf(`webhooks_received_total{outcome="accepted"} %d`, len(files)),
		"# TYPE river_jobs gauge",
		"river_jobs_scrape_errors_total 0",
		`webhook_processing_seconds_bucket{outcome="ok"`,
		`webhook_statuses_unknown_total`,
	} {
		require.Contains(t, metrics, want)
	}
	// Queue depth leaves out completed jobs (kept a day for deduplication).
	require.NotContains(t, metrics, `state="completed"`)
	// One inbox event per stored inbound message.
	require.Equal(t, h.count(t, `SELECT count(*) FROM messages WHERE direction = 'inbound'`),
		h.count(t, `SELECT count(*) FROM inbox_events WHERE kind = 'message.received'`))
}

func TestWebhookHandshakeAndSignatures(t *testing.T) {
	t.Parallel()
	h := startHooks(t)

	ok := h.a.Do(t, "GET", "/webhooks/meta?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444", "", nil)
	require.Equal(t, 200, ok.Status)
	require.Equal(t, "1158201444", string(ok.Body))
	require.Equal(t, 403, h.a.Do(t, "GET", "/webhooks/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "", nil).Status)
	require.Equal(t, 403, h.a.Do(t, "GET", "/webhooks/meta?hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1", "", nil).Status)

	body := readFixture(t, "text.json")
	forged := webhook.Sign([]byte("not-the-app-secret"), body)
	stale := sign(readFixture(t, "image.json"))
	reencoded := bytes.Replace(body, []byte(`Jos\u00e9`), []byte("José"), 1)
	cases := map[string]Response{
		"missing":                             h.a.Do(t, "POST", "/webhooks/meta", "", body),
		"forged":                              h.a.Do(t, "POST", "/webhooks/meta", "", body, "X-Hub-Signature-256", forged),
		"stale":                               h.a.Do(t, "POST", "/webhooks/meta", "", body, "X-Hub-Signature-256", stale),
		"re-encoded body, original signature": h.a.Do(t, "POST", "/webhooks/meta", "", reencoded, "X-Hub-Signature-256", sign(body)),
		"sha1 only":                           h.a.Do(t, "POST", "/webhooks/meta", "", body, "X-Hub-Signature", "sha1="+strings.Repeat("0", 40)),
	}
	for name, res := range cases {
		require.Equal(t, 401, res.Status, name)
		require.Equal(t, "invalid_signature", res.Code(t), name)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), name)
	}

	big := append([]byte(`{"object":"whatsapp_business_account","entry":[],"pad":"`), bytes.Repeat([]byte("x"), 4<<20)...)
	big = append(big, `"}`...)
	res := h.post(t, big)
	require.Equal(t, 413, res.Status)
	require.Equal(t, "payload_too_large", res.Code(t))

	require.Zero(t, h.count(t, `SELECT count(*) FROM `+webhookBodies), "nothing rejected was queued")

	// Just under the cap is fine (Meta sends up to 3 MB).
	near := append([]byte(`{"object":"whatsapp_business_account","entry":[],"pad":"`), bytes.Repeat([]byte("x"), 3<<20)...)
	near = append(near, `"}`...)
	h.deliver(t, near)

	// The job holds the exact signed bytes, even of JSON that jsonb refuses (a \u0000 in a
	// customer's text), and the message is still stored.
	nul := newWAMID()
	nulBody := textEnvelope(nul, "16505551234", "Nul", "before \x00 after", time.Now().Unix())
	require.Contains(t, string(nulBody), `\u0000`)
	h.deliver(t, nulBody)
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM `+webhookBodies+` WHERE raw = $1`, nulBody))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1 AND content->>'body' = $2`, nul, "before \uFFFD after"))

	// A signed body that can never be parsed is acknowledged, then cancelled without retries.
	require.Equal(t, 200, h.post(t, []byte(`this is not json`)).Status)
	eventually(t, 10*time.Second, func() bool {
		return h.count(t, `SELECT count(*) FROM `+webhookBodies+` WHERE state = 'cancelled' AND attempt = 1`) == 1
	}, "malformed payload should be cancelled on its first attempt")

	metrics := string(h.a.Do(t, "GET", "/metrics", "", nil).Body)
	require.Contains(t, metrics, `webhooks_received_total{outcome="invalid_signature"} 5`)
	require.Contains(t, metrics, `webhooks_received_total{outcome="too_large"} 1`)
	require.Contains(t, metrics, `webhook_signature_failures_total{reason="missing"} 2`)
	require.Contains(t, metrics, `webhook_processing_seconds_count{outcome="malformed"} 1`)
}

// textEnvelope is a messages webhook with one text message.
// customer returns what a customer with wa_id from writes: each text is delivered as a
// signed webhook (and processed) one second of Meta's clock after the message before, ts.
func (h *hookEnv) customer(t testing.TB, from, name string, ts *int64) func(text string) {
	return func(text string) {
		t.Helper()
		*ts++
		h.deliver(t, textEnvelope(newWAMID(), from, name, text, *ts))
	}
}

func textEnvelope(wamid, from, name, text string, ts int64) []byte {
	msg := map[string]any{"from": from, "id": wamid, "timestamp": fmt.Sprint(ts), "type": "text", "text": map[string]string{"body": text}}
	return envelopeOf(from, name, msg)
}

func envelopeOf(from, name string, msgs ...map[string]any) []byte {
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]string{"display_phone_number": "15550783881", "phone_number_id": fixturePhoneID},
		"contacts":          []any{map[string]any{"profile": map[string]string{"name": name}, "wa_id": from}},
		"messages":          msgs,
	}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": fixtureWABA, "changes": []any{map[string]any{"field": "messages", "value": value}}}}})
}

func statusEnvelope(wamid, status string, ts int64, extra map[string]any) []byte {
	st := map[string]any{"id": wamid, "status": status, "timestamp": fmt.Sprint(ts), "recipient_id": "16505550000"}
	for k, v := range extra {
		st[k] = v
	}
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]string{"display_phone_number": "15550783881", "phone_number_id": fixturePhoneID},
		"statuses":          []any{st},
	}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": fixtureWABA, "changes": []any{map[string]any{"field": "messages", "value": value}}}}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var wamidSeq atomic.Int64

func newWAMID() string { return fmt.Sprintf("wamid.TEST%012d", wamidSeq.Add(1)) }

func TestWebhookDuplicatesAndOrdering(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	ctx := context.Background()

	// The same body three times: queued once, one message.
	body := readFixture(t, "text.json")
	for range 3 {
		require.Equal(t, 200, h.post(t, body).Status)
	}
	h.waitJobs(t)
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM `+webhookBodies))
	wamid := "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBMUYwQzJCOUU3RDRBNTVCNkMxAA=="
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1`, wamid))

	// The same wamid in another envelope (another app's copy, re-batched): stored once.
	var env map[string]any
	require.NoError(t, json.Unmarshal(body, &env))
	env["entry"] = append(env["entry"].([]any), json.RawMessage(`{"id":"`+fixtureWABA+`","changes":[]}`))
	other := mustJSON(env)
	require.NotEqual(t, body, other)
	h.deliver(t, other)
	require.Equal(t, 2, h.count(t, `SELECT count(*) FROM `+webhookBodies))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1`, wamid))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM inbox_events WHERE kind = 'message.received'`))

	// Statuses of our outbound message arrive out of order: it never moves backwards.
	contact := h.contactBy(t, "+5215512345678")["id"].(string)
	out, msgID := newWAMID(), domain.NewID()
	_, err := h.a.Pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, wamid, created_at)
		VALUES ($1, $2, $3, $4, 'outbound', 'text', '{"body":"hi"}', 'queued', $5, now())`, h.ws, msgID, contact, fixturePhoneID, out)
	require.NoError(t, err)
	pricing := map[string]any{"pricing": map[string]any{"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}}
	h.deliver(t, statusEnvelope(out, "read", 1768003300, pricing))
	h.deliver(t, statusEnvelope(out, "sent", 1768003100, nil))
	h.deliver(t, statusEnvelope(out, "delivered", 1768003200, nil))
	h.deliver(t, statusEnvelope(out, "read", 1768003300, nil)) // redelivered: deduped
	var status, category string
	var sent, delivered, read *time.Time
	require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT status, sent_at, delivered_at, read_at, pricing->>'category' FROM messages WHERE id = $1`, msgID).
		Scan(&status, &sent, &delivered, &read, &category))
	require.Equal(t, "read", status)
	require.Equal(t, time.Unix(1768003100, 0).UTC(), sent.UTC())
	require.Equal(t, time.Unix(1768003200, 0).UTC(), delivered.UTC())
	require.Equal(t, time.Unix(1768003300, 0).UTC(), read.UTC())
	require.Equal(t, "service", category)
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM message_statuses WHERE wamid = $1`, out))
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM inbox_events WHERE kind = 'message.status' AND message_id = $1`, msgID))

	// A failure is terminal and carries Meta's error.
	failed, failedID := newWAMID(), domain.NewID()
	_, err = h.a.Pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, wamid, created_at)
		VALUES ($1, $2, $3, $4, 'outbound', 'text', '{"body":"late"}', 'sent', $5, now())`, h.ws, failedID, contact, fixturePhoneID, failed)
	require.NoError(t, err)
	h.deliver(t, statusEnvelope(failed, "failed", 1768003400, map[string]any{"errors": []any{map[string]any{
		"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
		"error_data": map[string]string{"details": "more than 24 hours"}}}}))
	h.deliver(t, statusEnvelope(failed, "delivered", 1768003500, nil))
	var code int
	var title, detail string
	require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT status, error_code, error_title, error_detail FROM messages WHERE id = $1`, failedID).
		Scan(&status, &code, &title, &detail))
	require.Equal(t, "failed", status)
	require.Equal(t, 131047, code)
	require.Equal(t, "Re-engagement message", title)
	require.Equal(t, "more than 24 hours", detail)
	// The messages API shows the same: failed, not moved back by the later "delivered".
	require.Equal(t, "failed", h.a.Must(t, 200, "GET", h.path("/messages/"+failedID.String()), h.owner.Token, nil)["status"])

	// An unknown wamid is recorded and counted, not an error.
	h.deliver(t, statusEnvelope("wamid.UNKNOWN", "delivered", 1768003600, nil))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM message_statuses WHERE wamid = 'wamid.UNKNOWN'`))
	require.Contains(t, string(h.a.Do(t, "GET", "/metrics", "", nil).Body), "webhook_statuses_unknown_total 1")

	// The service window follows the newest message and never moves back.
	h.deliver(t, textEnvelope(newWAMID(), "5215512345678", "José", "older", 1767000000))
	c := h.contactBy(t, "+5215512345678")
	require.Equal(t, "2026-01-10T23:06:40Z", c["service_window_expires_at"])
	require.Equal(t, "José García", c["name"], "the first profile name is kept")

	// Events for a number nobody connected are acknowledged, counted and dropped.
	foreign := bytes.ReplaceAll(readFixture(t, "video.json"), []byte(fixturePhoneID), []byte("999999999999999"))
	h.deliver(t, foreign)
	require.Contains(t, string(h.a.Do(t, "GET", "/metrics", "", nil).Body), `webhook_events_unrouted_total{kind="phone_number"} 1`)
}

// A batch job's bodies are processed together; one that fails goes to a job of its own and
// the others are not held back by it.
func TestWebhookBatchSplitsOutAFailedBody(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	ctx := context.Background()

	good := riveradapter.NewWebhookArgs(textEnvelope(newWAMID(), "16505550199", "Ana", "hello", time.Now().Unix()))
	bad := riveradapter.NewWebhookArgs([]byte(`{"object":"whatsapp_business_account","entry":"not a list"}`))
	_, err := h.a.River.Insert(ctx, riveradapter.WebhookBatchArgs{Bodies: []riveradapter.WebhookArgs{good, bad}}, nil)
	require.NoError(t, err)
	eventually(t, 10*time.Second, func() bool {
		return h.count(t, `SELECT count(*) FROM `+webhookBodies+` WHERE state = 'cancelled'`) == 1
	}, "the malformed body should be cancelled in its own job")

	var kind, state string
	var attempt int
	require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT kind, state, attempt FROM `+webhookBodies+` WHERE sha256 = $1`, bad.SHA256).
		Scan(&kind, &state, &attempt))
	require.Equal(t, []any{"webhook.meta", "cancelled", 1}, []any{kind, state, attempt})
	require.NoError(t, h.a.Pool.QueryRow(ctx, `SELECT kind, state FROM `+webhookBodies+` WHERE sha256 = $1`, good.SHA256).
		Scan(&kind, &state))
	require.Equal(t, []any{"webhook.meta_batch", "completed"}, []any{kind, state})
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE content->>'body' = 'hello'`))
	require.Equal(t, 2, h.count(t, `SELECT count(*) FROM `+webhookBodies), "each body answered for once")
}

// A body's hash is kept for the dedupe window: a redelivery after the purge is queued again
// (and its processing is still idempotent on the wamid).
func TestWebhookDedupeWindow(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	ctx := context.Background()

	wamid := newWAMID()
	body := textEnvelope(wamid, "16505550198", "Bo", "once", time.Now().Unix())
	h.deliver(t, body)
	h.deliver(t, body)
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM `+webhookBodies))

	n, err := riveradapter.PurgeWebhookReceipts(ctx, h.a.Pool, time.Now().Add(-riveradapter.WebhookDedupeWindow))
	require.NoError(t, err)
	require.Zero(t, n, "a receipt inside the window is kept")
	n, err = riveradapter.PurgeWebhookReceipts(ctx, h.a.Pool, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)

	h.deliver(t, body)
	require.Equal(t, 2, h.count(t, `SELECT count(*) FROM `+webhookBodies))
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1`, wamid))
	metrics := string(h.a.Do(t, "GET", "/metrics", "", nil).Body)
	require.Contains(t, metrics, `webhooks_received_total{outcome="accepted"} 2`)
	require.Contains(t, metrics, `webhooks_received_total{outcome="duplicate"} 1`)
}

func TestWebhookOptOutKeywords(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	const from = "14155550123"
	phone := "+" + from
	ts := int64(1768100000)
	say := h.customer(t, from, "Kim", &ts)
	optedOut := func() bool { return h.contactBy(t, phone)["opted_out"].(bool) }
	confirmations := func(prefix string) int {
		return h.count(t, `SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id
			WHERE c.phone = $1 AND m.direction = 'outbound' AND m.content->>'body' LIKE $2`, phone, prefix+"%")
	}
	sendJobs := func() int { return h.count(t, `SELECT count(*) FROM river_job WHERE kind = 'message.send'`) }

	say("don't stop")
	require.False(t, optedOut(), "a sentence containing stop is not a request")
	say("START")
	require.False(t, optedOut())
	require.Zero(t, confirmations("You have been resubscribed"), "START from a subscribed contact sends nothing")

	say("STOP")
	require.True(t, optedOut())
	require.Equal(t, 1, confirmations("You have been unsubscribed"))
	require.Equal(t, 1, sendJobs())

	say(" stop ")
	require.True(t, optedOut())
	require.Equal(t, 1, confirmations("You have been unsubscribed"), "a second STOP sends nothing")
	require.Equal(t, 1, sendJobs())

	say("start")
	require.False(t, optedOut())
	require.Equal(t, 1, confirmations("You have been resubscribed"))
	require.Equal(t, 2, sendJobs())
	require.Len(t, h.a.Must(t, 200, "GET", h.path("/audit-logs?action=contact.opted_in"), h.owner.Token, nil)["data"], 1)

	// A quick-reply button labelled STOP counts, and the workspace's texts are used.
	_, err := h.a.Pool.Exec(context.Background(), `UPDATE workspaces SET opt_out_confirmation = 'Bye from Panadería', opt_out_keywords = '{STOP_PROMOTIONS}' WHERE id = $1`, h.ws)
	require.NoError(t, err)
	ts++
	h.deliver(t, envelopeOf(from, "Kim", map[string]any{"from": from, "id": newWAMID(), "timestamp": fmt.Sprint(ts), "type": "button",
		"button": map[string]string{"payload": "unsub", "text": "STOP"}}))
	require.True(t, optedOut())
	require.Equal(t, 1, confirmations("Bye from Panadería"))
	say("UNSTOP")
	require.False(t, optedOut())

	// A per-workspace keyword: the fixture's "Stop promotions" button (payload STOP_PROMOTIONS).
	h.deliver(t, readFixture(t, "button_quick_reply.json"))
	require.True(t, h.contactBy(t, "+16505551234")["opted_out"].(bool))

	audit := h.a.Must(t, 200, "GET", h.path("/audit-logs?action=contact.opted_out"), h.owner.Token, nil)["data"].([]any)
	require.Len(t, audit, 3)
	for _, e := range audit {
		require.Equal(t, "contact", e.(map[string]any)["actor_type"])
	}
	require.Contains(t, string(h.a.Do(t, "GET", "/metrics", "", nil).Body), "contact_opt_outs_total 3")
}

// Many webhooks at once, some of them twice: every acknowledged one is processed exactly
// once, no message is lost or doubled, and concurrent first messages from the same users
// make one contact each.
func TestWebhookConcurrency(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	const n, users = 200, 20
	bodies := make([][]byte, n)
	for i := range bodies {
		from := fmt.Sprintf("1415556%04d", i%users)
		bodies[i] = textEnvelope(fmt.Sprintf("wamid.CONC%05d", i), from, fmt.Sprintf("User %d", i%users), fmt.Sprintf("message %d", i), 1768200000+int64(i))
	}
	// The goroutines only post; the test checks the answers once they are all back.
	type answer struct {
		res Response
		err error
	}
	var wg sync.WaitGroup
	answers := make(chan answer, n+n/10)
	post := func(body []byte) {
		defer wg.Done()
		res, err := h.a.Send("POST", "/webhooks/meta", "", body, "X-Hub-Signature-256", sign(body))
		answers <- answer{res, err}
	}
	for i, b := range bodies {
		wg.Add(1)
		go post(b)
		if i%10 == 0 { // a redelivery racing the original
			wg.Add(1)
			go post(b)
		}
	}
	wg.Wait()
	close(answers)
	require.Len(t, answers, n+n/10)
	for a := range answers {
		require.NoError(t, a.err)
		require.Equal(t, 200, a.res.Status, "%s", a.res.Body)
	}
	h.waitJobs(t)
	require.Equal(t, n, h.count(t, `SELECT count(*) FROM `+webhookBodies))
	require.Equal(t, n, h.count(t, `SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.CONC%'`))
	require.Equal(t, users, h.count(t, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, h.ws))
	require.Equal(t, n, h.count(t, `SELECT count(*) FROM inbox_events WHERE kind = 'message.received'`))
	metrics := string(h.a.Do(t, "GET", "/metrics", "", nil).Body)
	require.Contains(t, metrics, fmt.Sprintf(`webhooks_received_total{outcome="accepted"} %d`, n))
	require.Contains(t, metrics, fmt.Sprintf(`webhooks_received_total{outcome="duplicate"} %d`, n/10))
}

// Postgres unreachable: 503 (Meta retries), never 200; back to 200 when it returns.
func TestWebhookUnavailable(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.NewURL(t))
	require.NoError(t, err)
	proxy := newCuttableProxy(t, u.Host)
	u.Host = proxy.Addr()
	h := newHookEnv(t, startAppOn(t, u.String(), func(c *bootstrap.Config) { c.DBMaxConns = 8 }))

	body := readFixture(t, "image.json")
	proxy.Cut()
	res := h.post(t, body)
	require.Equal(t, 503, res.Status, "%s", res.Body)
	require.Equal(t, "unavailable", res.Code(t))
	proxy.Restore()
	eventually(t, 20*time.Second, func() bool { return h.post(t, body).Status == 200 }, "webhooks are accepted again")
	h.waitJobs(t)
	h.checkStored(t, body)
}

// The sandbox's simulated user writes to a number connected through onboarding; the
// webhook arrives signed (after the verification handshake) and is processed.
func TestWebhookFromSandbox(t *testing.T) {
	t.Parallel()
	var sb atomic.Pointer[sandbox.Sandbox]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sb.Load().Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	a := startApp(t, func(c *bootstrap.Config) { c.MetaGraphURL = srv.URL })
	s := sandbox.New(sandbox.Config{AppID: "test-app", AppSecret: appSecret, CallbackURL: a.URL + "/webhooks/meta",
		VerifyToken: "test-verify-token", StatusDelay: 10 * time.Millisecond})
	t.Cleanup(s.Close)
	sb.Store(s)

	owner := a.signup(t, "owner")
	ws := a.createWorkspace(t, owner, "Sandbox Co")
	acct, err := s.CreateAccount(sandbox.AccountOptions{DisplayPhoneNumber: "15550109999"})
	require.NoError(t, err)
	num := a.Must(t, 202, "POST", "/v1/workspaces/"+ws+"/whatsapp/connect", owner.Token, map[string]string{
		"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})["phone_number"].(map[string]any)
	eventually(t, 20*time.Second, func() bool {
		return a.Must(t, 200, "GET", "/v1/workspaces/"+ws+"/whatsapp/phone-numbers/"+num["id"].(string), owner.Token, nil)["status"] == "connected"
	}, "number connects")

	wamid, err := s.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "+33 6 12 34 56 78", Name: "Zoë Lefèvre", Text: "Bonjour, ça marche ?"})
	require.NoError(t, err)
	h := &hookEnv{a: a, owner: owner, ws: ws}
	eventually(t, 20*time.Second, func() bool {
		return h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1`, wamid) == 1
	}, "the sandbox's inbound message is stored")
	c := h.contactBy(t, "+33612345678")
	require.Equal(t, "Zoë Lefèvre", c["name"])
	var text string
	require.NoError(t, a.Pool.QueryRow(context.Background(), `SELECT content->>'body' FROM messages WHERE wamid = $1`, wamid).Scan(&text))
	require.Equal(t, "Bonjour, ça marche ?", text)
}

// STOP through the whole product: the sandbox user writes STOP, the contact is opted out and
// exactly one confirmation reaches the user through Meta; a second STOP sends nothing; sends
// are refused until START, which is confirmed too.
func TestOptOutRoundTripThroughTheSandbox(t *testing.T) {
	t.Parallel()
	var sb atomic.Pointer[sandbox.Sandbox]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sb.Load().Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	a := startApp(t, func(c *bootstrap.Config) { c.MetaGraphURL = srv.URL })
	s := sandbox.New(sandbox.Config{AppID: "test-app", AppSecret: appSecret, CallbackURL: a.URL + "/webhooks/meta",
		VerifyToken: "test-verify-token", StatusDelay: 5 * time.Millisecond})
	t.Cleanup(s.Close)
	sb.Store(s)

	owner := a.signup(t, "owner")
	ws := a.createWorkspace(t, owner, "Opt Co")
	acct, err := s.CreateAccount(sandbox.AccountOptions{})
	require.NoError(t, err)
	num := a.Must(t, 202, "POST", "/v1/workspaces/"+ws+"/whatsapp/connect", owner.Token, map[string]string{
		"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})["phone_number"].(map[string]any)
	eventually(t, 20*time.Second, func() bool {
		return a.Must(t, 200, "GET", "/v1/workspaces/"+ws+"/whatsapp/phone-numbers/"+num["id"].(string), owner.Token, nil)["status"] == "connected"
	}, "number connects")

	const user = "447911123456"
	sentTo := func() []string {
		var bodies []string
		for _, m := range s.Messages() {
			if m.To == user && m.Type == "text" {
				var p struct {
					Text struct {
						Body string `json:"body"`
					} `json:"text"`
				}
				_ = json.Unmarshal(m.Payload, &p)
				bodies = append(bodies, p.Text.Body)
			}
		}
		return bodies
	}
	h := &hookEnv{a: a, owner: owner, ws: ws}
	inject := func(text string) {
		wamid, err := s.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: user, Name: "Pat", Text: text})
		require.NoError(t, err)
		eventually(t, 20*time.Second, func() bool {
			return h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1`, wamid) == 1
		}, "inbound stored")
		h.waitJobs(t)
	}

	inject("  Stop ")
	eventually(t, 20*time.Second, func() bool { return len(sentTo()) == 1 }, "one opt-out confirmation reaches the user")
	require.Contains(t, sentTo()[0], "START")
	c := h.contactBy(t, "+"+user)
	require.Equal(t, true, c["opted_out"])
	require.Equal(t, "keyword", c["opt_out_source"])

	res := a.Do(t, "POST", "/v1/workspaces/"+ws+"/messages", owner.Token, map[string]any{"to": "+" + user, "type": "text", "text": map[string]any{"body": "hello?"}})
	require.Equal(t, 403, res.Status, string(res.Body))
	require.Equal(t, "opted_out", res.Code(t))

	inject("STOP")
	eventually(t, 20*time.Second, func() bool {
		return h.count(t, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`) == 0
	}, "every job (a wrong confirmation's send included) has run")
	require.Len(t, sentTo(), 1, "a second STOP sends nothing")
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM messages WHERE purpose = 'opt_out_confirmation'`))

	inject("start")
	eventually(t, 20*time.Second, func() bool { return len(sentTo()) == 2 }, "the opt-in is confirmed")
	require.Equal(t, false, h.contactBy(t, "+"+user)["opted_out"])
	a.Must(t, 202, "POST", "/v1/workspaces/"+ws+"/messages", owner.Token, map[string]any{"to": "+" + user, "type": "text", "text": map[string]any{"body": "welcome back"}})
}
