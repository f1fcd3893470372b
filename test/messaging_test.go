package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/bootstrap"
	"github.com/wabaplatform/waba/domain"
)

// msgEnv is a running app with a team and a connected sandbox number.
type msgEnv struct {
	a    *App
	sb   *sandbox.Sandbox
	tm   team
	acct sandbox.Account
	// sbURL is the sandbox's base URL (Graph calls from the test itself).
	sbURL string
}

// withSandboxCallback starts a sandbox whose webhooks reach the app once target is set:
// the sandbox must exist before the app (its URL is configuration) and the app's address is
// known only after it starts.
func withSandboxCallback(t testing.TB) (*sandbox.Sandbox, string, func(*bootstrap.Config), func(appURL string)) {
	t.Helper()
	var target atomic.Value
	fwd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := target.Load().(*url.URL)
		if u == nil {
			http.Error(w, "app not started", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	sb := sandbox.New(sandbox.Config{AppID: "test-app", AppSecret: "test-app-secret", StatusDelay: 10 * time.Millisecond,
		CallbackURL: fwd.URL + "/webhooks/meta"})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close(); fwd.Close() })
	return sb, srv.URL, func(c *bootstrap.Config) { c.MetaGraphURL = srv.URL }, func(appURL string) {
		u, _ := url.Parse(appURL)
		target.Store(u)
	}
}

func newMsgEnv(t *testing.T, tweak ...func(*bootstrap.Config)) *msgEnv {
	t.Helper()
	sb, sbURL, point, setTarget := withSandboxCallback(t)
	a := startApp(t, append([]func(*bootstrap.Config){point}, tweak...)...)
	setTarget(a.URL)
	e := &msgEnv{a: a, sb: sb, tm: newTeam(t, a), sbURL: sbURL}
	e.acct = e.connect(t, e.tm.WS, e.tm.Owner)
	return e
}

// connect connects a fresh sandbox number to ws and waits until it is connected.
func (e *msgEnv) connect(t *testing.T, ws string, owner user) sandbox.Account {
	t.Helper()
	acct, err := e.sb.CreateAccount(sandbox.AccountOptions{})
	require.NoError(t, err)
	num := e.a.Must(t, 202, "POST", "/v1/workspaces/"+ws+"/whatsapp/connect", owner.Token, map[string]string{
		"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})["phone_number"].(map[string]any)
	id := num["id"].(string)
	eventually(t, 20*time.Second, func() bool {
		return e.a.Must(t, 200, "GET", "/v1/workspaces/"+ws+"/whatsapp/phone-numbers/"+id, owner.Token, nil)["status"] == "connected"
	}, "number should connect")
	seedTemplates(t, e.a, ws, acct.WABAID, e.sb)
	return acct
}

// windowContact creates a contact (assigned to assignee when set) whose 24-hour window is
// open, both in our records and in the sandbox (a message from the customer).
func (e *msgEnv) windowContact(t *testing.T, assignee string) (id, phone string) {
	t.Helper()
	phone = nextPhone()
	body := map[string]any{"phone": phone}
	if assignee != "" {
		body["assigned_to"] = assignee
	}
	id = e.a.Must(t, 201, "POST", wsPath(e.tm, "/contacts"), e.tm.Owner.Token, body)["id"].(string)
	_, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: phone, Text: "hello"})
	require.NoError(t, err)
	_, err = e.a.Pool.Exec(context.Background(), `UPDATE contacts SET last_inbound_at = now(), service_window_expires_at = now() + interval '24 hours'
		WHERE workspace_id = $1 AND id = $2`, e.tm.WS, id)
	require.NoError(t, err)
	return id, phone
}

func (e *msgEnv) send(t *testing.T, token string, body map[string]any, headers ...string) Response {
	t.Helper()
	return e.a.Do(t, "POST", wsPath(e.tm, "/messages"), token, body, headers...)
}

// waitMessage polls a message until cond holds.
func (e *msgEnv) waitMessage(t *testing.T, id string, what string, cond func(m map[string]any) bool) map[string]any {
	t.Helper()
	var last map[string]any
	eventually(t, 30*time.Second, func() bool {
		last = e.a.Must(t, 200, "GET", wsPath(e.tm, "/messages/"+id), e.tm.Owner.Token, nil)
		return cond(last)
	}, fmt.Sprintf("message %s should be %s", id, what))
	return last
}

func hasWAMID(m map[string]any) bool { s, _ := m["wamid"].(string); return s != "" }

func template(name string) map[string]any {
	return map[string]any{"name": name, "language": map[string]string{"code": "en_US"}}
}

func TestSendEveryTypeThroughToRead(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	contactID, phone := e.windowContact(t, "")
	mediaID, err := meta.NewClient(meta.ClientConfig{BaseURL: e.sbURL}).UploadMedia(context.Background(), e.acct.AccessToken,
		e.acct.PhoneNumberID, "audio/ogg", "note.ogg", bytes.NewReader([]byte("OggS fake audio")))
	require.NoError(t, err)

	bodies := []map[string]any{
		{"type": "text", "text": map[string]any{"body": "Your order shipped", "preview_url": false}},
		{"type": "template", "template": template("hello_world")},
		{"type": "image", "image": map[string]any{"link": "https://example.com/a.jpg", "caption": "Invoice"}},
		{"type": "document", "document": map[string]any{"link": "https://example.com/inv.pdf", "filename": "inv.pdf"}},
		{"type": "audio", "audio": map[string]any{"media_id": mediaID}},
		{"type": "video", "video": map[string]any{"link": "https://example.com/v.mp4"}},
		{"type": "interactive", "interactive": map[string]any{"type": "button", "body": map[string]any{"text": "Confirm?"},
			"action": map[string]any{"buttons": []any{
				map[string]any{"type": "reply", "reply": map[string]any{"id": "yes", "title": "Yes"}},
				map[string]any{"type": "reply", "reply": map[string]any{"id": "no", "title": "No"}}}}}},
	}
	var ids []string
	for i, b := range bodies {
		if i%2 == 0 {
			b["to"] = contactID
		} else {
			b["to"] = phone // an existing contact by phone number
		}
		res := e.send(t, e.tm.Owner.Token, b)
		require.Equal(t, 202, res.Status, "%v: %s", b["type"], res.Body)
		m := res.JSON(t)
		require.Equal(t, "queued", m["status"])
		require.Equal(t, contactID, m["contact_id"])
		require.Equal(t, b["type"], m["type"])
		require.Equal(t, "outbound", m["direction"])
		require.Equal(t, e.acct.PhoneNumberID, m["phone_number_id"])
		require.Nil(t, m["wamid"])
		require.Equal(t, "100", res.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, fmt.Sprint(99-i), res.Header.Get("X-RateLimit-Remaining"))
		require.NotEmpty(t, res.Header.Get("X-RateLimit-Reset"))
		ids = append(ids, m["id"].(string))
	}
	for _, id := range ids {
		m := e.waitMessage(t, id, "sent", hasWAMID)
		require.NotNil(t, m["sent_at"])
		require.Nil(t, m["error"], "%v", m)
	}
	// Meta got each message once, with our id as callback data, the media by id or link.
	byOpaque := map[string]sandbox.Message{}
	for _, m := range e.sb.Messages() {
		byOpaque[m.BizOpaqueCallbackData] = m
	}
	for i, id := range ids {
		sm, ok := byOpaque[id]
		require.True(t, ok, "message %s reached the sandbox", id)
		require.Equal(t, bodies[i]["type"], sm.Type)
		require.Equal(t, strings.TrimPrefix(phone, "+"), sm.To)
	}
	require.Contains(t, string(byOpaque[ids[4]].Payload), `"id":"`+mediaID+`"`)

	// The sandbox reports delivered then read, but each report is its own webhook job, so
	// read may be applied first; the delivered time is recorded whenever it lands.
	m := e.waitMessage(t, ids[0], "read and delivered", func(m map[string]any) bool {
		return m["status"] == "read" && m["delivered_at"] != nil
	})
	require.NotNil(t, m["read_at"])

	// The contact's messages, newest first, in pages.
	var got []string
	cursor := ""
	for page := 0; page < 10; page++ {
		res := e.a.Must(t, 200, "GET", wsPath(e.tm, "/contacts/"+contactID+"/messages?limit=3"+cursor), e.tm.Viewer.Token, nil)
		for _, m := range res["data"].([]any) {
			mm := m.(map[string]any)
			if mm["direction"] == "outbound" {
				got = append(got, mm["id"].(string))
			}
		}
		next, _ := res["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	require.Len(t, got, len(ids))
	for i := range ids {
		require.Equal(t, ids[len(ids)-1-i], got[i], "newest first")
	}
	audit := e.a.Must(t, 200, "GET", wsPath(e.tm, "/audit-logs?action=message.queued"), e.tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, audit, len(ids))

	// Sending used the access token for every message: it is in no log line (the app logs
	// at debug level here) and nowhere in the database.
	require.NotContains(t, e.a.Logs.String(), e.acct.AccessToken)
	requireNotInDatabase(t, e.a, e.acct.AccessToken)
}

func TestSendRefusalsInOrder(t *testing.T) {
	t.Parallel()
	sb, point := withSandbox(t)
	a := startApp(t, point)
	e := &msgEnv{a: a, sb: sb, tm: newTeam(t, a)}
	tm := e.tm
	text := func(to string) map[string]any {
		return map[string]any{"to": to, "type": "text", "text": map[string]any{"body": "hi"}}
	}

	// No connected number yet: 409, after permission and quota.
	res := e.send(t, tm.Owner.Token, text(nextPhone()))
	require.Equal(t, 409, res.Status, string(res.Body))
	require.Equal(t, "whatsapp_not_connected", res.Code(t))
	require.Equal(t, "99", res.Header.Get("X-RateLimit-Remaining"))
	require.Equal(t, 403, e.send(t, tm.Viewer.Token, text(nextPhone())).Status)
	require.Equal(t, "forbidden", e.send(t, tm.Viewer.Token, text(nextPhone())).Code(t))

	e.acct = e.connect(t, tm.WS, tm.Owner)
	inWindow, inWindowPhone := e.windowContact(t, "")
	mine, _ := e.windowContact(t, tm.Agent.ID)

	// Agents: only contacts assigned to them (404 otherwise, never 403), by id or by phone.
	res = e.send(t, tm.Agent.Token, text(inWindow))
	require.Equal(t, 404, res.Status, string(res.Body))
	require.Equal(t, 404, e.send(t, tm.Agent.Token, text(inWindowPhone)).Status)
	require.Equal(t, 202, e.send(t, tm.Agent.Token, text(mine)).Status)
	require.Equal(t, 404, e.a.Do(t, "GET", wsPath(tm, "/contacts/"+inWindow+"/messages"), tm.Agent.Token, nil).Status)
	ownerMsg := e.send(t, tm.Owner.Token, text(inWindow)).JSON(t)["id"].(string)
	require.Equal(t, 404, e.a.Do(t, "GET", wsPath(tm, "/messages/"+ownerMsg), tm.Agent.Token, nil).Status)
	require.Equal(t, 200, e.a.Do(t, "GET", wsPath(tm, "/messages/"+ownerMsg), tm.Viewer.Token, nil).Status)
	// An agent's template to a new number creates the contact, assigned to the agent.
	newPhone := nextPhone()
	res = e.send(t, tm.Agent.Token, map[string]any{"to": newPhone, "type": "template", "template": template("hello_world")})
	require.Equal(t, 202, res.Status, string(res.Body))
	ct := a.Must(t, 200, "GET", wsPath(tm, "/contacts/"+res.JSON(t)["contact_id"].(string)), tm.Agent.Token, nil)
	require.Equal(t, newPhone, ct["phone"])
	require.Equal(t, tm.Agent.ID, ct["assigned_to"])

	// Another workspace's number, or one we do not have: 409.
	res = e.send(t, tm.Owner.Token, map[string]any{"to": inWindow, "phone_number_id": "999999", "type": "text", "text": map[string]any{"body": "x"}})
	require.Equal(t, "whatsapp_not_connected", res.Code(t))

	// Opted out: 403 opted_out, before the window and validation.
	optedOut, _ := e.windowContact(t, "")
	a.Must(t, 200, "POST", wsPath(tm, "/contacts/"+optedOut+"/opt-out"), tm.Owner.Token, nil)
	res = e.send(t, tm.Owner.Token, map[string]any{"to": optedOut, "type": "bogus"})
	require.Equal(t, 403, res.Status)
	require.Equal(t, "opted_out", res.Code(t))

	// Marketing opt-out: refused for a template our catalogue knows is MARKETING (the
	// harness's summer_sale).
	mkt, _ := e.windowContact(t, "")
	_, err := a.Pool.Exec(context.Background(), `UPDATE contacts SET marketing_opted_out = true WHERE id = $1`, mkt)
	require.NoError(t, err)
	res = e.send(t, tm.Owner.Token, map[string]any{"to": mkt, "type": "template", "template": template("summer_sale")})
	require.Equal(t, "opted_out", res.Code(t), string(res.Body))
	require.Equal(t, 202, e.send(t, tm.Owner.Token, map[string]any{"to": mkt, "type": "template", "template": template("hello_world")}).Status)

	// Outside the window: anything but a template is 422 outside_service_window.
	closed := a.contact(t, tm, tm.WS, tm.Owner, "")
	res = e.send(t, tm.Owner.Token, text(closed))
	require.Equal(t, 422, res.Status)
	require.Equal(t, "outside_service_window", res.Code(t))
	require.Equal(t, "outside_service_window", e.send(t, tm.Owner.Token, text(nextPhone())).Code(t))
	require.Equal(t, 202, e.send(t, tm.Owner.Token, map[string]any{"to": closed, "type": "template", "template": template("hello_world")}).Status)

	// Validation, last, with the fields named.
	cases := []struct {
		body  any
		field string
	}{
		{map[string]any{}, "to"},
		{map[string]any{"to": "not a phone", "type": "template", "template": template("hello_world")}, "to"},
		{map[string]any{"to": inWindow, "type": "hologram"}, "type"},
		{map[string]any{"to": inWindow}, "type"},
		{map[string]any{"to": inWindow, "type": "text"}, "text"},
		{map[string]any{"to": inWindow, "type": "text", "text": map[string]any{"body": strings.Repeat("a", 4097)}}, "text.body"},
		{map[string]any{"to": inWindow, "type": "template", "template": map[string]any{"language": map[string]string{"code": "en_US"}}}, "template.name"},
		{map[string]any{"to": inWindow, "type": "template", "template": map[string]any{"name": "hello_world"}}, "template.language"},
		{map[string]any{"to": inWindow, "type": "image", "image": map[string]any{"link": "ftp://x/y.png"}}, "image.link"},
		{map[string]any{"to": inWindow, "type": "image", "image": map[string]any{"link": "not a url"}}, "image.link"},
		{map[string]any{"to": inWindow, "type": "document", "document": map[string]any{}}, "document"},
		{map[string]any{"to": inWindow, "type": "video", "video": map[string]any{"link": "https://x.com/v.mp4", "media_id": "1"}}, "video"},
		{map[string]any{"to": inWindow, "type": "interactive", "interactive": map[string]any{"type": "button", "body": map[string]any{"text": "?"},
			"action": map[string]any{"buttons": []any{}}}}, "interactive.action.buttons"},
	}
	for _, c := range cases {
		res := a.Do(t, "POST", wsPath(tm, "/messages"), tm.Owner.Token, c.body)
		require.Equal(t, 422, res.Status, "%v: %s", c.body, res.Body)
		require.Equal(t, "validation_failed", res.Code(t), "%v", c.body)
		require.Contains(t, string(res.Body), `"field":"`+c.field+`"`, "%v", c.body)
	}
	require.Equal(t, 400, a.Do(t, "POST", wsPath(tm, "/messages"), tm.Owner.Token, "{not json").Status)
	require.Equal(t, 404, a.Do(t, "GET", wsPath(tm, "/messages/"+domain.NewID().String()), tm.Owner.Token, nil).Status)
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	failedWith := func(code float64) func(map[string]any) bool {
		return func(m map[string]any) bool {
			er, _ := m["error"].(map[string]any)
			return m["status"] == "failed" && er != nil && er["code"] == code
		}
	}

	// Undeliverable (131026) and outside Meta's window (131047) are accepted, then reported
	// failed by webhook.
	undeliverable, phone := e.windowContact(t, "")
	e.sb.MarkUndeliverable(phone)
	m1 := e.send(t, e.tm.Owner.Token, map[string]any{"to": undeliverable, "type": "text", "text": map[string]any{"body": "x"}}).JSON(t)["id"].(string)
	stale := e.a.contact(t, e.tm, e.tm.WS, e.tm.Owner, "")
	// Our records say the window is open; Meta (the sandbox) has never heard from this user.
	_, err := e.a.Pool.Exec(context.Background(), `UPDATE contacts SET service_window_expires_at = now() + interval '1 hour' WHERE id = $1`, stale)
	require.NoError(t, err)
	m2 := e.send(t, e.tm.Owner.Token, map[string]any{"to": stale, "type": "text", "text": map[string]any{"body": "x"}}).JSON(t)["id"].(string)
	got := e.waitMessage(t, m1, "failed 131026", failedWith(131026))
	require.NotEmpty(t, got["error"].(map[string]any)["title"])
	require.NotNil(t, got["failed_at"])
	e.waitMessage(t, m2, "failed 131047", failedWith(131047))

	// Throughput (130429): the sandbox number allows 2 a second; every message still goes,
	// after snoozes.
	require.NoError(t, e.sb.SetThroughput(e.acct.PhoneNumberID, 2))
	fast, _ := e.windowContact(t, "")
	var burst []string
	for range 8 {
		burst = append(burst, e.send(t, e.tm.Owner.Token, map[string]any{"to": fast, "type": "text", "text": map[string]any{"body": "x"}}).JSON(t)["id"].(string))
	}
	for _, id := range burst {
		e.waitMessage(t, id, "sent despite throttling", hasWAMID)
	}
	throttled := 0
	for _, c := range e.sb.Calls() {
		if c.ErrorCode == 130429 {
			throttled++
		}
	}
	require.Positive(t, throttled, "the sandbox throttled some sends")
	require.NoError(t, e.sb.SetThroughput(e.acct.PhoneNumberID, 80))

	// Transient (131000): retried until it goes.
	e.sb.SetFailureRate(1)
	m3 := e.send(t, e.tm.Owner.Token, map[string]any{"to": fast, "type": "text", "text": map[string]any{"body": "retry me"}}).JSON(t)["id"].(string)
	eventually(t, 10*time.Second, func() bool {
		for _, c := range e.sb.Calls() {
			if c.ErrorCode == 131000 {
				return true
			}
		}
		return false
	}, "a send failed with 131000")
	e.sb.SetFailureRate(0)
	e.waitMessage(t, m3, "sent after a retry", hasWAMID)

	// Final at send time (132001: no such template): failed with Meta's code, title, details.
	m4 := e.send(t, e.tm.Owner.Token, map[string]any{"to": fast, "type": "template", "template": template("no_such_template")}).JSON(t)["id"].(string)
	got = e.waitMessage(t, m4, "failed 132001", failedWith(132001))
	require.Contains(t, got["error"].(map[string]any)["detail"], "no_such_template")
	require.Nil(t, got["wamid"])

	// Broken credentials (190): the message fails and the number must be reconnected.
	resealToken(t, e, "EAAS-revoked-token")
	m5 := e.send(t, e.tm.Owner.Token, map[string]any{"to": fast, "type": "text", "text": map[string]any{"body": "x"}}).JSON(t)["id"].(string)
	e.waitMessage(t, m5, "failed 190", failedWith(190))
	nums := e.a.Must(t, 200, "GET", wsPath(e.tm, "/whatsapp/phone-numbers"), e.tm.Owner.Token, nil)["data"].([]any)
	require.Equal(t, "needs_reconnect", nums[0].(map[string]any)["status"])
	require.Contains(t, nums[0].(map[string]any)["failure_reason"], "190")
	res := e.send(t, e.tm.Owner.Token, map[string]any{"to": fast, "type": "text", "text": map[string]any{"body": "x"}})
	require.Equal(t, "whatsapp_not_connected", res.Code(t))

	metrics := string(e.a.Do(t, "GET", "/metrics", "", nil).Body)
	require.Contains(t, metrics, `waba_message_send_failures_total{code="190"} 1`)
	require.Contains(t, metrics, `waba_message_send_failures_total{code="132001"} 1`)
	require.Contains(t, metrics, `waba_message_send_throttled_total{code="130429"}`)
	require.Regexp(t, `waba_messages_sent_total \d+`, metrics)
}

// resealToken replaces the number's stored token, as if Meta had revoked the real one.
func resealToken(t *testing.T, e *msgEnv, token string) {
	t.Helper()
	ctx := context.Background()
	v, err := vault.New(ctx, vault.Options{MasterKey: e.a.Cfg.TokenMasterKey})
	require.NoError(t, err)
	defer v.Close()
	ring, err := vault.NewRing(v)
	require.NoError(t, err)
	ws, err := domain.ParseID(e.tm.WS)
	require.NoError(t, err)
	s, err := (&vault.Tokens{Ring: ring}).Seal(ctx, []byte(token), domain.SecretBinding{WorkspaceID: ws,
		Purpose: domain.PurposeAccessToken, PhoneNumberID: e.acct.PhoneNumberID})
	require.NoError(t, err)
	_, err = e.a.Pool.Exec(ctx, `UPDATE phone_numbers SET token_ciphertext = $2, token_nonce = $3, token_wrapped_key = $4, token_key_id = $5
		WHERE phone_number_id = $1`, e.acct.PhoneNumberID, s.Ciphertext, s.Nonce, s.WrappedKey, s.KeyID)
	require.NoError(t, err)
}

func TestSendIdempotency(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	contactID, _ := e.windowContact(t, "")
	body := map[string]any{"to": contactID, "type": "text", "text": map[string]any{"body": "once"}}

	first := e.send(t, e.tm.Owner.Token, body, "Idempotency-Key", "order-42")
	require.Equal(t, 202, first.Status, string(first.Body))
	// Same key, same body (keys in another order): the first answer again, nothing new sent.
	again := e.a.Do(t, "POST", wsPath(e.tm, "/messages"), e.tm.Owner.Token,
		`{"text": {"body": "once"}, "type": "text", "to": "`+contactID+`"}`, "Idempotency-Key", "order-42")
	require.Equal(t, 202, again.Status)
	require.JSONEq(t, string(first.Body), string(again.Body))
	// Another body: 422 idempotency_mismatch.
	other := e.send(t, e.tm.Owner.Token, map[string]any{"to": contactID, "type": "text", "text": map[string]any{"body": "twice"}}, "Idempotency-Key", "order-42")
	require.Equal(t, 422, other.Status)
	require.Equal(t, "idempotency_mismatch", other.Code(t))

	// Concurrent retries with one key: one message. The goroutines only send; the answers
	// are checked here once they are all back.
	var wg sync.WaitGroup
	races := make([]Response, 6)
	errs := make([]error, len(races))
	for i := range races {
		wg.Add(1)
		go func() {
			defer wg.Done()
			races[i], errs[i] = e.a.Send("POST", wsPath(e.tm, "/messages"), e.tm.Owner.Token,
				map[string]any{"to": contactID, "type": "text", "text": map[string]any{"body": "race"}}, "Idempotency-Key", "race-1")
		}()
	}
	wg.Wait()
	ids := make([]string, len(races))
	for i, r := range races {
		require.NoError(t, errs[i])
		require.Equal(t, 202, r.Status, "%s", r.Body)
		ids[i] = r.JSON(t)["id"].(string)
	}
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	require.NotEmpty(t, ids[0])

	firstID := first.JSON(t)["id"].(string)
	e.waitMessage(t, firstID, "sent", hasWAMID)
	e.waitMessage(t, ids[0], "sent", hasWAMID)
	n := 0
	for _, m := range e.sb.Messages() {
		if m.BizOpaqueCallbackData == firstID || m.BizOpaqueCallbackData == ids[0] {
			n++
		}
	}
	require.Equal(t, 2, n, "each idempotent request reached Meta once")
	var rows int
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE workspace_id = $1 AND direction = 'outbound'`, e.tm.WS).Scan(&rows))
	require.Equal(t, 2, rows)
}

// sendAnswer is one answer to sendAll.
type sendAnswer struct {
	res Response
	err error
}

// sendAll sends n templates to new numbers from n goroutines in waves of 8 and returns every
// answer. It never fails the test, so it may run outside the test's goroutine; sendCounts
// checks the answers.
func sendAll(a *App, ws string, token string, n int) []sendAnswer {
	out := make([]sendAnswer, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].res, out[i].err = a.Send("POST", "/v1/workspaces/"+ws+"/messages", token,
				map[string]any{"to": nextPhone(), "type": "template", "template": template("hello_world")})
		}()
	}
	wg.Wait()
	return out
}

// sendCounts checks sendAll's answers (every request answered; a 429 says when to retry)
// and returns how many there were of each status.
func sendCounts(t *testing.T, answers []sendAnswer) map[int]int {
	t.Helper()
	counts := map[int]int{}
	for _, s := range answers {
		require.NoError(t, s.err)
		r := s.res
		if r.Status == 429 {
			require.NotEmpty(t, r.Header.Get("Retry-After"))
			require.Equal(t, "0", r.Header.Get("X-RateLimit-Remaining"))
			require.Equal(t, "rate_limited", r.Code(t))
		}
		counts[r.Status]++
	}
	return counts
}

// sendMany is sendAll and sendCounts, for the test's goroutine.
func sendMany(t *testing.T, a *App, ws string, token string, n int) map[int]int {
	t.Helper()
	return sendCounts(t, sendAll(a, ws, token, n))
}

func TestPlanQuotaPerWorkspace(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, withOperator)
	e.connect(t, e.tm.OtherWS, e.tm.Outside)

	var other []sendAnswer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); other = sendAll(e.a, e.tm.OtherWS, e.tm.Outside.Token, 30) }()
	mine := sendAll(e.a, e.tm.WS, e.tm.Owner.Token, 105)
	wg.Wait()
	require.Equal(t, map[int]int{202: 100, 429: 5}, sendCounts(t, mine))
	require.Equal(t, map[int]int{202: 30}, sendCounts(t, other), "another workspace is not slowed")
	require.Contains(t, string(e.a.Do(t, "GET", "/metrics", "", nil).Body), `waba_rate_limit_rejections_total{limit="workspace_messages"} 5`)

	// A plan change applies at once, to the same minute's count.
	e.a.setPlan(t, e.tm.WS, "pro")
	res := e.send(t, e.tm.Owner.Token, map[string]any{"to": nextPhone(), "type": "template", "template": template("hello_world")})
	require.Equal(t, 202, res.Status, string(res.Body))
	require.Equal(t, "1000", res.Header.Get("X-RateLimit-Limit"))
	remaining, err := strconv.Atoi(res.Header.Get("X-RateLimit-Remaining"))
	require.NoError(t, err)
	require.Less(t, remaining, 900, "the minute's 106 sends still count")
}

func TestRedisQuotaSharedByTwoInstances(t *testing.T) {
	t.Parallel()
	redisURL := "redis://127.0.0.1:6379/7"
	withRedis := func(c *bootstrap.Config) { c.RedisURL = redisURL }
	sb, sbURL, point, setTarget := withSandboxCallback(t)
	dbURL := pgtest.NewURL(t)
	a := startAppOn(t, dbURL, point, withRedis)
	b := startAppOn(t, dbURL, point, withRedis)
	setTarget(a.URL)
	e := &msgEnv{a: a, sb: sb, tm: newTeam(t, a), sbURL: sbURL}
	e.acct = e.connect(t, e.tm.WS, e.tm.Owner)

	var fromA, fromB []sendAnswer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fromA = sendAll(a, e.tm.WS, e.tm.Owner.Token, 60) }()
	go func() { defer wg.Done(); fromB = sendAll(b, e.tm.WS, e.tm.Owner.Token, 60) }()
	wg.Wait()
	ca, cb := sendCounts(t, fromA), sendCounts(t, fromB)
	require.Equal(t, 100, ca[202]+cb[202], "instance a %v, instance b %v", ca, cb)
	require.Equal(t, 20, ca[429]+cb[429])
}

// A broadcast from one workspace (paced by its number's throughput, so it takes seconds)
// does not hold back another workspace's single reply: the reply is sent while most of
// the broadcast is still waiting.
func TestBroadcastDoesNotDelayAnotherWorkspace(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, withOperator)
	e.a.setPlan(t, e.tm.WS, "enterprise")
	e.connect(t, e.tm.OtherWS, e.tm.Outside)

	// Queue the broadcast and then the reply with the send workers paused, so both wait in
	// the queue together (as when a broadcast is queued faster than its number may send).
	ctx := context.Background()
	require.NoError(t, e.a.River.QueuePause(ctx, "outbound", nil))
	const broadcast = 400 // at 80 msg/s per number: about 5 s of sending
	counts := sendMany(t, e.a, e.tm.WS, e.tm.Owner.Token, broadcast)
	require.Equal(t, map[int]int{202: broadcast}, counts)
	reply := e.a.Must(t, 202, "POST", "/v1/workspaces/"+e.tm.OtherWS+"/messages", e.tm.Outside.Token,
		map[string]any{"to": nextPhone(), "type": "template", "template": template("hello_world")})
	require.NoError(t, e.a.River.QueueResume(ctx, "outbound", nil))

	var sentAt time.Time
	eventually(t, 30*time.Second, func() bool {
		err := e.a.Pool.QueryRow(context.Background(), `SELECT sent_at FROM messages WHERE id = $1 AND sent_at IS NOT NULL`, reply["id"]).Scan(&sentAt)
		return err == nil
	}, "the other workspace's reply is sent")
	var before int
	require.NoError(t, e.a.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM messages WHERE workspace_id = $1 AND direction = 'outbound' AND sent_at <= $2`, e.tm.WS, sentAt).Scan(&before))
	t.Logf("the reply was sent after %d of the %d broadcast messages", before, broadcast)
	require.Less(t, before, broadcast*3/4, "the reply went out while the broadcast was still sending (%d of %d sent before it)", before, broadcast)
}

// A worker that dies after Meta accepted a send but before storing the wamid: Meta's status
// webhook carries our message id (biz_opaque_callback_data), which links the wamid, so the
// job that runs again finds it and does not send a second time.
func TestCrashAfterMetaAcceptedDoesNotSendTwice(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	ctx := context.Background()
	require.NoError(t, e.a.River.QueuePause(ctx, "outbound", nil))
	to := nextPhone()
	m := e.a.Must(t, 202, "POST", wsPath(e.tm, "/messages"), e.tm.Owner.Token,
		map[string]any{"to": to, "type": "template", "template": template("hello_world")})
	id := m["id"].(string)

	// What the dead worker did: the Graph call, with our id as Meta's callback data.
	body, err := json.Marshal(map[string]any{"messaging_product": "whatsapp", "to": strings.TrimPrefix(to, "+"), "type": "template",
		"template": template("hello_world"), "biz_opaque_callback_data": id})
	require.NoError(t, err)
	req, err := http.NewRequest("POST", e.sbURL+"/v25.0/"+e.acct.PhoneNumberID+"/messages", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.acct.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	got := e.waitMessage(t, id, "linked by its status webhook", func(m map[string]any) bool { return hasWAMID(m) && m["status"] == "read" })
	require.NoError(t, e.a.River.QueueResume(ctx, "outbound", nil))
	eventually(t, 20*time.Second, func() bool {
		var open int
		require.NoError(t, e.a.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'message.send' AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&open))
		return open == 0
	}, "the send job ran")
	sends := 0
	for _, sm := range e.sb.Messages() {
		if sm.BizOpaqueCallbackData == id {
			sends++
		}
	}
	require.Equal(t, 1, sends, "Meta received the message once")
	require.Equal(t, got["wamid"], e.a.Must(t, 200, "GET", wsPath(e.tm, "/messages/"+id), e.tm.Owner.Token, nil)["wamid"])
}
