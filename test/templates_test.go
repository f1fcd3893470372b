package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// templateBody is a valid template draft.
func templateBody(name string) map[string]any {
	return map[string]any{"name": name, "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Your order has shipped"}}}
}

func onWABA(body map[string]any, wabaID string) map[string]any {
	body["waba_id"] = wabaID
	return body
}

// templateByName finds a template of the workspace through the API (nil when none).
func (e *msgEnv) templateByName(t *testing.T, name string) map[string]any {
	t.Helper()
	data := e.a.Must(t, 200, "GET", wsPath(e.tm, "/templates?name="+name), e.tm.Owner.Token, nil)["data"].([]any)
	if len(data) == 0 {
		return nil
	}
	return data[0].(map[string]any)
}

// waitTemplate polls a template until cond holds.
func (e *msgEnv) waitTemplate(t *testing.T, id, what string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	var last map[string]any
	eventually(t, 20*time.Second, func() bool {
		last = e.a.Must(t, 200, "GET", wsPath(e.tm, "/templates/"+id), e.tm.Owner.Token, nil)
		return cond(last)
	}, "template "+id+" should be "+what)
	return last
}

// sandboxDev posts to the sandbox's developer API.
func (e *msgEnv) sandboxDev(t *testing.T, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	res, err := http.Post(e.sbURL+"/_sandbox/"+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// sandboxTemplateNames lists the WABA's templates at the sandbox through the Graph API,
// following its pages of limit.
func (e *msgEnv) sandboxTemplateNames(t *testing.T, limit int) []string {
	t.Helper()
	var names []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000)
		u := fmt.Sprintf("%s/v25.0/%s/message_templates?limit=%d&after=%s", e.sbURL, e.acct.WABAID, limit, after)
		req, err := http.NewRequest(http.MethodGet, u, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.acct.AccessToken)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var page struct {
			Data []struct {
				Name string `json:"name"`
			} `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&page))
		res.Body.Close()
		require.LessOrEqual(t, len(page.Data), limit)
		for _, d := range page.Data {
			names = append(names, d.Name)
		}
		if page.Paging.Next == "" {
			return names
		}
		after = page.Paging.Cursors.After
	}
}

func (e *msgEnv) templateCreates() int {
	n := 0
	for _, c := range e.sb.Calls() {
		if c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/message_templates") {
			n++
		}
	}
	return n
}

// waitWebhookJobs waits until every webhook job has finished.
func waitWebhookJobs(t *testing.T, a *App) {
	t.Helper()
	eventually(t, 20*time.Second, func() bool {
		var pending int
		require.NoError(t, a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+webhookBodies+`
			WHERE state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&pending))
		return pending == 0
	}, "webhook jobs should finish")
}

func templateAudits(t *testing.T, a *App, ws, action, resourceID string) []map[string]any {
	t.Helper()
	rows, err := a.Pool.Query(context.Background(), `SELECT details FROM audit_logs
		WHERE workspace_id = $1 AND action = $2 AND resource_id = $3 ORDER BY created_at`, ws, action, resourceID)
	require.NoError(t, err)
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var d map[string]any
		require.NoError(t, rows.Scan(&d))
		out = append(out, d)
	}
	return out
}

// A template is created at Meta after a local check, follows Meta's review and later
// webhooks (out of order ones too), and is deleted at Meta too.
func TestTemplateLifecycle(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	owner, base := e.tm.Owner.Token, wsPath(e.tm, "/templates")

	// Connecting the number read the WABA's templates: the sandbox's hello_world.
	eventually(t, 20*time.Second, func() bool { return e.templateByName(t, "hello_world") != nil }, "hello_world should be synced")
	hello := e.templateByName(t, "hello_world")
	require.Equal(t, "APPROVED", hello["status"])
	require.Equal(t, e.acct.WABAID, hello["waba_id"])

	// Checked before Meta is called.
	creates := e.templateCreates()
	bad := templateBody("Order Update!")
	bad["category"] = "PROMO"
	res := e.a.Do(t, "POST", base, owner, bad)
	require.Equal(t, 422, res.Status, "%s", res.Body)
	var fields []string
	for _, f := range res.JSON(t)["errors"].([]any) {
		fields = append(fields, f.(map[string]any)["field"].(string))
	}
	require.Contains(t, fields, "name")
	require.Contains(t, fields, "category")
	require.Equal(t, creates, e.templateCreates(), "the sandbox saw no create")

	// Created PENDING (waba_id left out: the workspace has one), approved by Meta's review.
	created := e.a.Must(t, 201, "POST", base, owner, templateBody("order_receipt"))
	require.Equal(t, "PENDING", created["status"])
	require.Equal(t, e.acct.WABAID, created["waba_id"])
	require.NotEmpty(t, created["meta_template_id"])
	require.Nil(t, created["quality_rating"])
	require.Nil(t, created["rejected_reason"])
	require.Equal(t, "positional", created["parameter_format"])
	id, metaID := created["id"].(string), created["meta_template_id"].(string)
	approved := e.waitTemplate(t, id, "APPROVED", func(m map[string]any) bool { return m["status"] == "APPROVED" })
	require.Equal(t, "UTILITY", approved["category"])

	// Same name and language: 409, Meta not asked.
	creates = e.templateCreates()
	require.Equal(t, "conflict", e.a.Do(t, "POST", base, owner, templateBody("order_receipt")).Code(t))
	require.Equal(t, creates, e.templateCreates())

	// Meta refuses (it has that template already, unknown here yet): 422 in Meta's words.
	_, err := e.sb.AddTemplate(e.acct.WABAID, sandbox.TemplateSpec{Name: "only_at_meta", Language: "en_US", Category: "UTILITY"})
	require.NoError(t, err)
	res = e.a.Do(t, "POST", base, owner, templateBody("only_at_meta"))
	require.Equal(t, 422, res.Status, "%s", res.Body)
	require.Contains(t, res.JSON(t)["detail"], "There is already en_US content for this template")

	// Meta's review rejects reject_* names: REJECTED with the reason.
	rej := e.a.Must(t, 201, "POST", base, owner, templateBody("reject_me"))
	rejected := e.waitTemplate(t, rej["id"].(string), "REJECTED", func(m map[string]any) bool { return m["status"] == "REJECTED" })
	require.Equal(t, "INVALID_FORMAT", rejected["rejected_reason"])

	// A late PENDING, older than the approval, does not regress it.
	late := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"time":%d,"changes":[{"value":{
		"event":"PENDING","message_template_id":%s,"message_template_name":"order_receipt","message_template_language":"en_US",
		"reason":"NONE","message_template_category":"UTILITY"},"field":"message_template_status_update"}]}]}`,
		e.acct.WABAID, time.Now().Add(-time.Hour).Unix(), metaID)
	res = e.a.Do(t, "POST", "/webhooks/meta", "", []byte(late), "X-Hub-Signature-256", sign([]byte(late)))
	require.Equal(t, 200, res.Status, "%s", res.Body)
	waitWebhookJobs(t, e.a)
	require.Equal(t, "APPROVED", e.a.Must(t, 200, "GET", base+"/"+id, owner, nil)["status"])
	require.Len(t, templateAudits(t, e.a, e.tm.WS, "template.status_changed", id), 1, "only PENDING -> APPROVED")

	// Quality and category webhooks (sent by the sandbox as Meta would) update and audit.
	e.sandboxDev(t, "templates/"+metaID+"/quality", map[string]string{"quality": "YELLOW"})
	e.waitTemplate(t, id, "YELLOW", func(m map[string]any) bool { return m["quality_rating"] == "YELLOW" })
	e.sandboxDev(t, "templates/"+metaID+"/category", map[string]string{"category": "MARKETING"})
	e.waitTemplate(t, id, "MARKETING", func(m map[string]any) bool { return m["category"] == "MARKETING" })
	audits := templateAudits(t, e.a, e.tm.WS, "template.status_changed", id)
	require.Len(t, audits, 3)
	require.Equal(t, map[string]any{"from": "", "to": "YELLOW"}, audits[1]["quality_rating"])
	require.Equal(t, map[string]any{"from": "UTILITY", "to": "MARKETING"}, audits[2]["category"])

	// Paused at Meta: PAUSED here within seconds.
	e.sandboxDev(t, "templates/"+metaID+"/status", map[string]string{"status": "PAUSED", "reason": "LOW_QUALITY"})
	e.waitTemplate(t, id, "PAUSED", func(m map[string]any) bool { return m["status"] == "PAUSED" })

	// Filters.
	list := func(q string) []string {
		var names []string
		for _, it := range e.a.Must(t, 200, "GET", base+"?"+q, owner, nil)["data"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		return names
	}
	// (The harness's fixture templates are listed too: filter down to this test's own.)
	require.Contains(t, list("status=PAUSED"), "order_receipt")
	require.NotContains(t, list("status=APPROVED"), "order_receipt")
	require.Equal(t, []string{"reject_me"}, list("status=REJECTED&language=en_US&waba_id="+e.acct.WABAID))
	require.Contains(t, list("category=MARKETING"), "order_receipt")
	require.NotContains(t, list("category=UTILITY"), "order_receipt")
	require.Empty(t, list("language=es"))
	require.Equal(t, 422, e.a.Do(t, "GET", base+"?limit=0", owner, nil).Status)

	// Deleted here and at Meta.
	e.a.Must(t, 204, "DELETE", base+"/"+rej["id"].(string), owner, nil)
	require.Equal(t, 404, e.a.Do(t, "GET", base+"/"+rej["id"].(string), owner, nil).Status)
	require.NotContains(t, e.sandboxTemplateNames(t, 100), "reject_me")
	require.Len(t, templateAudits(t, e.a, e.tm.WS, "template.deleted", rej["id"].(string)), 1)

	// Agents read, never manage.
	require.Equal(t, 200, e.a.Do(t, "GET", base+"/"+id, e.tm.Agent.Token, nil).Status)
	require.Equal(t, 403, e.a.Do(t, "DELETE", base+"/"+id, e.tm.Agent.Token, nil).Status)
}

// A sync reads every template of the WABA from Meta, past Meta's pages: new ones appear,
// those Meta no longer has go.
func TestTemplateSyncPagesPastOneHundred(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	owner, base := e.tm.Owner.Token, wsPath(e.tm, "/templates")
	eventually(t, 20*time.Second, func() bool { return e.templateByName(t, "hello_world") != nil }, "hello_world should be synced")

	for i := range 120 {
		_, err := e.sb.AddTemplate(e.acct.WABAID, sandbox.TemplateSpec{Name: fmt.Sprintf("bulk_%03d", i), Language: "en_US",
			Category: "MARKETING", Status: "APPROVED"})
		require.NoError(t, err)
	}
	atMeta := len(e.sandboxTemplateNames(t, 25))
	require.GreaterOrEqual(t, atMeta, 121, "the sandbox pages its list")

	e.a.Must(t, 202, "POST", base+"/sync", owner, nil)
	count := func() int {
		n, cursor := 0, ""
		for {
			page := e.a.Must(t, 200, "GET", base+"?limit=50"+cursor, owner, nil)
			n += len(page["data"].([]any))
			next, _ := page["next_cursor"].(string)
			if next == "" {
				return n
			}
			cursor = "&cursor=" + next
		}
	}
	// Every template at Meta, and nothing else: the harness's catalogue-only fixture
	// (no_such_template) goes, as Meta does not list it.
	eventually(t, 30*time.Second, func() bool { return count() == atMeta }, "every template should be synced")
	bulk := e.templateByName(t, "bulk_119")
	require.Equal(t, "MARKETING", bulk["category"])
	require.Equal(t, "APPROVED", bulk["status"])
	require.NotEmpty(t, templateAudits(t, e.a, e.tm.WS, "template.created", bulk["id"].(string)))

	// Deleted at Meta behind our back: the next sync removes it.
	req, err := http.NewRequest(http.MethodDelete, e.sbURL+"/v25.0/"+e.acct.WABAID+"/message_templates?name=bulk_000", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.acct.AccessToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	gone := e.templateByName(t, "bulk_000")
	e.a.Must(t, 202, "POST", base+"/sync", owner, nil)
	eventually(t, 30*time.Second, func() bool { return e.templateByName(t, "bulk_000") == nil }, "bulk_000 should be removed")
	require.Len(t, templateAudits(t, e.a, e.tm.WS, "template.deleted", gone["id"].(string)), 1)
}
