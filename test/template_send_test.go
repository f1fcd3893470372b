package test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func templateWith(name string, components ...map[string]any) map[string]any {
	t := template(name)
	if components != nil {
		t["components"] = components
	}
	return t
}

func textParams(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"type": "text", "text": "v" + strconv.Itoa(i)}
	}
	return out
}

func problemFields(t *testing.T, r Response) map[string]string {
	t.Helper()
	out := map[string]string{}
	errs, _ := r.JSON(t)["errors"].([]any)
	for _, e := range errs {
		m := e.(map[string]any)
		out[m["field"].(string)] = m["message"].(string)
	}
	return out
}

func TestTemplateSendIsCheckedAgainstTheCatalogue(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	send := func(tpl map[string]any) Response {
		return e.send(t, e.tm.Owner.Token, map[string]any{"to": nextPhone(), "type": "template", "template": tpl})
	}
	requireCode := func(r Response, status int, code string) {
		t.Helper()
		require.Equal(t, status, r.Status, "%s", r.Body)
		require.Equal(t, code, r.JSON(t)["code"], "%s", r.Body)
	}
	requireCode(send(template("nowhere")), 422, "template_not_found")
	requireCode(send(template("paused_promo")), 422, "template_not_approved")

	// order_shipped: header {{1}}, body {{1}} {{2}}, a URL button with {{1}}.
	good := []map[string]any{
		{"type": "header", "parameters": textParams(1)},
		{"type": "body", "parameters": textParams(2)},
		{"type": "button", "sub_type": "url", "index": "0", "parameters": textParams(1)},
	}
	short := []map[string]any{good[0], {"type": "body", "parameters": textParams(1)}, good[2]}
	r := send(templateWith("order_shipped", short...))
	requireCode(r, 422, "validation_failed")
	require.Equal(t, "expects 2 parameters, got 1", problemFields(t, r)["template.components[1].parameters"])
	r = send(templateWith("order_shipped", good[0], good[1]))
	requireCode(r, 422, "validation_failed")
	require.Equal(t, "button 0 expects 1 parameter, got none", problemFields(t, r)["template.components"])
	r = send(templateWith("welcome_named", map[string]any{"type": "body", "parameters": []any{
		map[string]any{"type": "text", "parameter_name": "first_name", "text": "Kim"},
		map[string]any{"type": "text", "parameter_name": "coupon", "text": "X"}}}))
	requireCode(r, 422, "validation_failed")
	require.Equal(t, "unknown parameter", problemFields(t, r)["template.components[0].parameters[1].parameter_name"])

	// A fitting send goes through to Meta, its category on the row.
	r = send(templateWith("order_shipped", good...))
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := r.JSON(t)["id"].(string)
	e.waitMessage(t, id, "sent", hasWAMID)
	var category string
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT category FROM messages WHERE id = $1`, id).Scan(&category))
	require.Equal(t, "UTILITY", category)
}

// managerKey is an API key of the team's workspace: it outlives a moved clock (sessions do not).
func managerKey(t *testing.T, e *msgEnv) string {
	t.Helper()
	return e.a.Must(t, 201, "POST", wsPath(e.tm, "/api-keys"), e.tm.Owner.Token, map[string]string{"name": "ops", "role": "manager"})["key"].(string)
}

func TestFrequencyCaps(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	key := managerKey(t, e)
	phone := nextPhone()
	send := func(name string) Response {
		return e.send(t, key, map[string]any{"to": phone, "type": "template", "template": template(name)})
	}
	// The default: 2 marketing templates a day; the first creates the contact.
	require.Equal(t, 202, send("summer_sale").Status)
	require.Equal(t, 202, send("summer_sale").Status)
	r := send("summer_sale")
	require.Equal(t, 429, r.Status, "%s", r.Body)
	require.Equal(t, "frequency_capped", r.JSON(t)["code"])
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 24*3600, retry, 120, "the oldest leaves the 24-hour window")
	require.Equal(t, 202, send("order_update").Status, "a utility template is not capped")

	e.a.Clock.Advance(24*time.Hour + time.Minute)
	require.Equal(t, 202, send("summer_sale").Status, "a day later the slot is free")

	// The weekly cap: 3 a week, 2 a day.
	e.a.Must(t, 200, "PUT", wsPath(e.tm, "/settings/messaging"), key, map[string]any{
		"marketing_per_contact_per_day": 2, "marketing_per_contact_per_week": 3, "opt_out_keywords": []string{}, "opt_in_keywords": []string{}})
	r = send("summer_sale")
	require.Equal(t, 429, r.Status, "%s", r.Body)
	retry, err = strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 6*24*3600, retry, 300, "the oldest of the week leaves in 6 days")
	e.a.Clock.Advance(6*24*time.Hour + time.Minute)
	require.Equal(t, 202, send("summer_sale").Status)
}

func TestFrequencyCapHoldsUnderParallelSends(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	e.a.Must(t, 200, "PUT", wsPath(e.tm, "/settings/messaging"), e.tm.Owner.Token, map[string]any{
		"marketing_per_contact_per_day": 3, "marketing_per_contact_per_week": 3, "opt_out_keywords": []string{}, "opt_in_keywords": []string{}})
	id, _ := e.windowContact(t, "")
	const n = 12
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.send(t, e.tm.Owner.Token, map[string]any{"to": id, "type": "template", "template": template("summer_sale")}).Status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	require.Equal(t, map[int]int{202: 3, 429: n - 3}, count)
}

func TestMarketingLimitHoldsTheContact(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	key := managerKey(t, e)
	phone := nextPhone()
	e.sb.MarkMarketingLimited(phone)
	send := func(name string) Response {
		return e.send(t, key, map[string]any{"to": phone, "type": "template", "template": template(name)})
	}
	r := send("summer_sale")
	require.Equal(t, 202, r.Status, "%s", r.Body)
	e.waitMessage(t, r.JSON(t)["id"].(string), "failed 131049", func(m map[string]any) bool {
		er, _ := m["error"].(map[string]any)
		return m["status"] == "failed" && er != nil && er["code"] == float64(131049)
	})
	r = send("summer_sale")
	require.Equal(t, 429, r.Status, "%s", r.Body)
	require.Equal(t, "frequency_capped", r.JSON(t)["code"])
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	require.Equal(t, 202, send("order_update").Status, "a utility template still goes")

	e.a.Clock.Advance(24*time.Hour + time.Minute)
	require.Equal(t, 202, send("summer_sale").Status, "the hold ends after 24 hours")
}

func TestMessagingSettings(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	path := wsPath(e.tm, "/settings/messaging")
	got := e.a.Must(t, 200, "GET", path, e.tm.Viewer.Token, nil)
	require.EqualValues(t, 2, got["marketing_per_contact_per_day"])
	require.EqualValues(t, 6, got["marketing_per_contact_per_week"])
	require.Equal(t, []any{}, got["opt_in_keywords"])
	require.Contains(t, got["default_opt_out_keywords"], "STOP")
	require.EqualValues(t, 3, got["campaign_retry_days"])

	body := func(day, week int, out, in []string) map[string]any {
		return map[string]any{"marketing_per_contact_per_day": day, "marketing_per_contact_per_week": week,
			"opt_out_keywords": out, "opt_in_keywords": in}
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = "K" + strconv.Itoa(i)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{body(101, 200, nil, nil), "marketing_per_contact_per_day"},
		{body(5, 4, []string{}, []string{}), "marketing_per_contact_per_week"},
		{body(2, 1001, []string{}, []string{}), "marketing_per_contact_per_week"},
		{body(2, 6, []string{"  "}, []string{}), "opt_out_keywords"},
		{body(2, 6, []string{"this keyword is longer than thirty"}, []string{}), "opt_out_keywords"},
		{body(2, 6, many, []string{}), "opt_out_keywords"},
		{body(2, 6, []string{"basta"}, []string{"BASTA "}), "opt_in_keywords"},
		{body(2, 6, []string{}, []string{"stop"}), "opt_in_keywords"},
		{map[string]any{"marketing_per_contact_per_day": 2, "marketing_per_contact_per_week": 6, "campaign_retry_days": 4}, "campaign_retry_days"},
	} {
		r := e.a.Do(t, "PUT", path, e.tm.Owner.Token, c.body)
		require.Equal(t, 422, r.Status, "%v: %s", c.body, r.Body)
		require.Contains(t, problemFields(t, r), c.field, "%v: %s", c.body, r.Body)
	}

	got = e.a.Must(t, 200, "PUT", path, e.tm.Owner.Token, body(1, 4, []string{" basta ", "Basta"}, []string{"Volver"}))
	require.Equal(t, []any{"BASTA"}, got["opt_out_keywords"])
	require.Equal(t, []any{"VOLVER"}, got["opt_in_keywords"])
	require.Equal(t, got, e.a.Must(t, 200, "GET", path, e.tm.Owner.Token, nil))
	require.Equal(t, 403, e.a.Do(t, "PUT", path, e.tm.Agent.Token, body(1, 4, nil, nil)).Status)

	audit := e.a.Must(t, 200, "GET", wsPath(e.tm, "/audit-logs?action=workspace.messaging_settings_changed"), e.tm.Owner.Token, nil)
	entries := audit["data"].([]any)
	require.Len(t, entries, 1)
	require.Equal(t, map[string]any{"fields": []any{"marketing_per_contact_per_day", "marketing_per_contact_per_week",
		"opt_out_keywords", "opt_in_keywords"}}, entries[0].(map[string]any)["details"])
	// The same settings again change nothing and record nothing.
	e.a.Must(t, 200, "PUT", path, e.tm.Owner.Token, body(1, 4, []string{"BASTA"}, []string{"VOLVER"}))
	audit = e.a.Must(t, 200, "GET", wsPath(e.tm, "/audit-logs?action=workspace.messaging_settings_changed"), e.tm.Owner.Token, nil)
	require.Len(t, audit["data"].([]any), 1)

	// The campaign retry days: 0 never retries; absent is the default again.
	b := body(1, 4, []string{"BASTA"}, []string{"VOLVER"})
	b["campaign_retry_days"] = 0
	require.EqualValues(t, 0, e.a.Must(t, 200, "PUT", path, e.tm.Owner.Token, b)["campaign_retry_days"])
	require.EqualValues(t, 0, e.a.Must(t, 200, "GET", path, e.tm.Owner.Token, nil)["campaign_retry_days"])
	require.EqualValues(t, 3, e.a.Must(t, 200, "PUT", path, e.tm.Owner.Token, body(1, 4, []string{"BASTA"}, []string{"VOLVER"}))["campaign_retry_days"])
}
