package test

import (
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

// autoEnv is a running app with a team and a connected sandbox number, whose customers
// write through signed webhooks stamped with the app's clock (so the 24-hour window and
// the rails follow the clock the tests move).
type autoEnv struct {
	*msgEnv
	hooks *hookEnv
}

func newAutoEnv(t *testing.T) *autoEnv {
	t.Helper()
	e := newMsgEnv(t)
	return &autoEnv{msgEnv: e, hooks: &hookEnv{a: e.a, owner: e.tm.Owner, ws: e.tm.WS}}
}

func (e *autoEnv) path(p string) string { return wsPath(e.tm, p) }

// envelope is a messages webhook of the connected number with one text message.
func (e *autoEnv) envelope(from, wamid, text string, at time.Time) []byte {
	msg := map[string]any{"from": from, "id": wamid, "timestamp": fmt.Sprint(at.Unix()), "type": "text",
		"text": map[string]string{"body": text}}
	return e.change("messages", map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": "Customer"}, "wa_id": from}},
		"messages": []any{msg}})
}

func (e *autoEnv) change(field string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": e.acct.DisplayPhoneNumber, "phone_number_id": e.acct.PhoneNumberID}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": e.acct.WABAID, "changes": []any{map[string]any{"field": field, "value": value}}}}})
}

// deliver posts a signed webhook and waits until it is processed and the automations
// have read what it stored.
func (e *autoEnv) deliver(t *testing.T, body []byte) {
	t.Helper()
	res := e.hooks.post(t, body)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	e.settle(t)
}

// say is a text from the customer with wa_id from, at the app's clock; it returns its wamid.
func (e *autoEnv) say(t *testing.T, from, text string) string {
	t.Helper()
	wamid := newWAMID()
	e.deliver(t, e.envelope(from, wamid, text, e.a.Clock.Now()))
	return wamid
}

// settle waits until no webhook job is pending and the automation subscriber has read
// every message.received in the log (its replies are queued in the same transactions).
func (e *autoEnv) settle(t *testing.T) {
	t.Helper()
	e.hooks.waitJobs(t)
	eventually(t, 20*time.Second, func() bool {
		return e.hooks.count(t, `SELECT count(*) FROM events e WHERE e.kind = 'message.received' AND NOT EXISTS (
			SELECT 1 FROM event_subscriptions s WHERE s.name = 'automation' AND (s.tx, s.event_id) >= (e.tx, e.id))`) == 0
	}, "the automation subscriber should read every inbound message")
}

// replies are the outbound messages to the contact with wa_id, oldest first: the text's
// body, or "template:" and the template's name.
func (e *autoEnv) replies(t *testing.T, waID string) []string {
	t.Helper()
	rows, err := e.a.Pool.Query(context.Background(), `
		SELECT m.type, coalesce(m.content->>'body', 'template:' || (m.content->>'name'))
		FROM messages m JOIN contacts c ON c.workspace_id = m.workspace_id AND c.id = m.contact_id
		WHERE m.workspace_id = $1 AND c.wa_id = $2 AND m.direction = 'outbound' ORDER BY m.id`, e.tm.WS, waID)
	require.NoError(t, err)
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var typ, s string
		require.NoError(t, rows.Scan(&typ, &s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func (e *autoEnv) rule(t *testing.T, body map[string]any) string {
	t.Helper()
	return e.a.Must(t, 201, "POST", e.path("/automation/rules"), e.tm.Owner.Token, body)["id"].(string)
}

func replyText(s string) []any { return []any{map[string]any{"type": "reply_text", "text": s}} }

var waSeq = time.Now().UnixNano() % 1000000

func nextWaID() string { waSeq++; return fmt.Sprintf("1415666%06d", waSeq%1000000) }

func validationFields(t *testing.T, r Response) []string {
	t.Helper()
	require.Equal(t, 422, r.Status, "%s", r.Body)
	require.Equal(t, "validation_failed", r.Code(t))
	var out []string
	for _, f := range r.JSON(t)["errors"].([]any) {
		out = append(out, f.(map[string]any)["field"].(string))
	}
	return out
}

// Keyword rules: exact, contains and regex replies, priority and first match, the other
// actions, the dry run, the audit entry, and nothing twice for a redelivered webhook.
func TestAutomationKeywordRules(t *testing.T) {
	t.Parallel()
	e := newAutoEnv(t)
	owner := e.tm.Owner.Token

	// Validation: every bad field named; a regex that is not RE2 or too long is refused.
	res := e.a.Do(t, "POST", e.path("/automation/rules"), owner, map[string]any{"name": "", "match": "fuzzy",
		"keywords": []string{}, "actions": []any{map[string]any{"type": "assign", "user_id": "nobody"}}})
	require.ElementsMatch(t, []string{"name", "match", "keywords", "actions[0].user_id"}, validationFields(t, res))
	res = e.a.Do(t, "POST", e.path("/automation/rules"), owner, map[string]any{"name": "bad", "match": "regex",
		"keywords": []string{`(a+)+\1`, strings.Repeat("a", 513)}, "actions": replyText("x")})
	require.Equal(t, []string{"keywords[0]", "keywords[1]"}, validationFields(t, res))
	// RBAC: an agent neither reads nor writes rules; a viewer reads only.
	require.Equal(t, 403, e.a.Do(t, "GET", e.path("/automation/rules"), e.tm.Agent.Token, nil).Status)
	require.Equal(t, 200, e.a.Do(t, "GET", e.path("/automation/rules"), e.tm.Viewer.Token, nil).Status)
	require.Equal(t, 403, e.a.Do(t, "POST", e.path("/automation/rules"), e.tm.Viewer.Token, map[string]any{"name": "x"}).Status)

	price := e.rule(t, map[string]any{"name": "Price", "match": "exact", "keywords": []string{"PRICE", "precio"},
		"actions": replyText("Our price list: bread 2€")})
	contains := e.rule(t, map[string]any{"name": "Agent", "match": "contains", "keywords": []string{"human"}, "priority": 5,
		"actions": []any{
			map[string]any{"type": "assign", "user_id": e.tm.Agent.ID},
			map[string]any{"type": "add_tag", "tag": "wants-human"},
			map[string]any{"type": "set_attribute", "key": "escalated", "value": true},
			map[string]any{"type": "reply_text", "text": "A person will answer soon."}}})
	regex := e.rule(t, map[string]any{"name": "Orders", "match": "regex", "keywords": []string{`(?i)^order\s*#?\d{4,}$`},
		"actions": []any{map[string]any{"type": "reply_template", "template": map[string]any{"name": "hello_world", "language": "en_US"}}}})
	// Same words as "Agent" at a lower priority: never chosen while "Agent" matches.
	low := e.rule(t, map[string]any{"name": "Low", "match": "contains", "keywords": []string{"human", "bread"}, "priority": 1,
		"actions": replyText("low priority")})
	off := e.rule(t, map[string]any{"name": "Off", "match": "contains", "keywords": []string{"human"}, "priority": 9, "enabled": false,
		"actions": replyText("disabled")})

	// The list is in the order rules are tried.
	list := e.a.Must(t, 200, "GET", e.path("/automation/rules"), owner, nil)["data"].([]any)
	var order []string
	for _, r := range list {
		order = append(order, r.(map[string]any)["id"].(string))
	}
	require.Equal(t, []string{off, contains, low, price, regex}, order)
	require.Equal(t, "exact", e.a.Must(t, 200, "GET", e.path("/automation/rules/"+price), owner, nil)["match"])

	// The dry run sends nothing.
	dry := e.a.Must(t, 200, "POST", e.path("/automation/rules/test"), e.tm.Viewer.Token, map[string]any{"text": "  I want a HUMAN please "})
	require.Equal(t, contains, dry["rule_id"])
	require.Len(t, dry["actions"], 4)
	require.Nil(t, e.a.Must(t, 200, "POST", e.path("/automation/rules/test"), owner, map[string]any{"text": "nothing here"})["rule_id"])
	require.Equal(t, regex, e.a.Must(t, 200, "POST", e.path("/automation/rules/test"), owner, map[string]any{"text": "Order #12345"})["rule_id"])
	require.Zero(t, e.hooks.count(t, `SELECT count(*) FROM messages WHERE workspace_id = $1 AND direction = 'outbound'`, e.tm.WS))

	// Exact (case-folded, trimmed): replied through the sandbox like any message.
	ana := nextWaID()
	_, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: ana, Text: "  Precio "})
	require.NoError(t, err)
	eventually(t, 30*time.Second, func() bool {
		for _, m := range e.sb.Messages() {
			if m.To == ana && strings.Contains(string(m.Payload), "Our price list") {
				return true
			}
		}
		return false
	}, "the sandbox should get the exact rule's reply")
	e.settle(t)
	require.Equal(t, []string{"Our price list: bread 2€"}, e.replies(t, ana))
	// Not exact: no rule (but "bread" is contained in the low rule's keywords).
	e.say(t, ana, "what is the price?")
	require.Equal(t, []string{"Our price list: bread 2€"}, e.replies(t, ana))

	// Contains, the highest enabled priority first: assign, tag, attribute and reply.
	bo := nextWaID()
	e.say(t, bo, "Can I talk to a Human?")
	require.Equal(t, []string{"A person will answer soon."}, e.replies(t, bo))
	c := e.hooks.contactBy(t, "+"+bo)
	require.Equal(t, e.tm.Agent.ID, c["assigned_to"])
	require.Equal(t, []any{"wants-human"}, c["tags"])
	require.Equal(t, map[string]any{"escalated": true}, c["attributes"])
	conv := e.a.Must(t, 200, "GET", e.path("/conversations?limit=1"), owner, nil)["data"].([]any)[0].(map[string]any)
	require.Equal(t, e.tm.Agent.ID, conv["assigned_to"])

	// Regex: a template reply.
	cy := nextWaID()
	e.say(t, cy, "ORDER #98765")
	require.Equal(t, []string{"template:hello_world"}, e.replies(t, cy))
	e.say(t, cy, "order 12") // too few digits
	require.Equal(t, []string{"template:hello_world"}, e.replies(t, cy))

	// The audit trail: message.queued as the system, naming the rule and the message it answered.
	var auto []map[string]any
	for _, a := range e.a.Must(t, 200, "GET", e.path("/audit-logs?action=message.queued"), owner, nil)["data"].([]any) {
		auto = append(auto, a.(map[string]any))
	}
	require.Len(t, auto, 3)
	byRule := map[string]bool{}
	for _, a := range auto {
		require.Equal(t, "system", a["actor_type"])
		d := a["details"].(map[string]any)
		byRule[d["automation"].(string)] = true
		require.NotEmpty(t, d["trigger_message_id"])
	}
	require.Equal(t, map[string]bool{price: true, contains: true, regex: true}, byRule)
	for _, action := range []string{"automation_rule.created", "conversation.assigned", "contact.updated"} {
		require.NotEmpty(t, e.a.Must(t, 200, "GET", e.path("/audit-logs?action="+action), owner, nil)["data"], action)
	}

	// A redelivered webhook (same wamid) answers nothing new; neither do a status report of
	// our reply nor an echo of a message the business sent from its app.
	dee := nextWaID()
	wamid := newWAMID()
	body := e.envelope(dee, wamid, "price", e.a.Clock.Now())
	e.deliver(t, body)
	e.deliver(t, body)
	require.Equal(t, []string{"Our price list: bread 2€"}, e.replies(t, dee))
	var sent string
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT id::text FROM messages WHERE workspace_id = $1
		AND direction = 'outbound' ORDER BY id DESC LIMIT 1`, e.tm.WS).Scan(&sent))
	e.deliver(t, e.change("messages", map[string]any{"statuses": []any{map[string]any{"id": "wamid.unknown-" + sent,
		"status": "delivered", "timestamp": fmt.Sprint(e.a.Clock.Now().Unix()), "recipient_id": dee}}}))
	e.deliver(t, e.change("smb_message_echoes", map[string]any{"message_echoes": []any{map[string]any{"from": e.acct.DisplayPhoneNumber,
		"to": dee, "id": newWAMID(), "timestamp": fmt.Sprint(e.a.Clock.Now().Unix()), "type": "text", "text": map[string]string{"body": "price"}}}}))
	require.Equal(t, []string{"Our price list: bread 2€"}, e.replies(t, dee))

	// PATCH changes a rule (a new version: the new keyword matches at once); DELETE removes it.
	upd := e.a.Must(t, 200, "PATCH", e.path("/automation/rules/"+price), owner, map[string]any{"keywords": []string{"cost"}})
	require.Equal(t, []any{"cost"}, upd["keywords"])
	require.Equal(t, "Price", upd["name"])
	require.Equal(t, []string{"keywords[0]"}, validationFields(t, e.a.Do(t, "PATCH", e.path("/automation/rules/"+price), owner,
		map[string]any{"match": "regex", "keywords": []string{"(unclosed"}})))
	ed := nextWaID()
	e.say(t, ed, "COST")
	require.Equal(t, []string{"Our price list: bread 2€"}, e.replies(t, ed))
	e.a.Must(t, 204, "DELETE", e.path("/automation/rules/"+price), owner, nil)
	require.Equal(t, 404, e.a.Do(t, "GET", e.path("/automation/rules/"+price), owner, nil).Status)
	require.Equal(t, 404, e.a.Do(t, "DELETE", e.path("/automation/rules/"+price), owner, nil).Status)
	require.NotEmpty(t, e.a.Must(t, 200, "GET", e.path("/audit-logs?action=automation_rule.deleted"), owner, nil)["data"])
	_ = off
}

// Working hours, the away message (outside them, once per conversation per 12 hours, by
// the moved clock) and the welcome message (a contact's first message only).
func TestAutomationAwayAndWelcome(t *testing.T) {
	t.Parallel()
	e := newAutoEnv(t)
	owner := e.tm.Owner.Token

	empty := e.a.Must(t, 200, "GET", e.path("/settings/working-hours"), e.tm.Viewer.Token, nil)
	require.Nil(t, empty["timezone"])
	res := e.a.Do(t, "PUT", e.path("/settings/working-hours"), owner, map[string]any{"timezone": "Mars/Olympus",
		"days": map[string]any{"mon": []any{map[string]string{"from": "9:00", "to": "18:00"}},
			"tue": []any{map[string]string{"from": "10:00", "to": "09:00"}},
			"wed": []any{map[string]string{"from": "09:00", "to": "13:00"}, map[string]string{"from": "12:00", "to": "14:00"}}},
		"holidays": []string{"2026-13-01"}})
	require.ElementsMatch(t, []string{"timezone", "days.mon[0].from", "days.tue[0]", "days.wed[1]", "holidays[0]"}, validationFields(t, res))
	require.Equal(t, 403, e.a.Do(t, "PUT", e.path("/settings/working-hours"), e.tm.Agent.Token, map[string]any{"timezone": "UTC"}).Status)
	require.Equal(t, []string{"text"}, validationFields(t, e.a.Do(t, "PUT", e.path("/automation/away"), owner,
		map[string]any{"enabled": true, "text": " "})))

	// Open every day around the clock but on a holiday two days from now (in Auckland).
	loc, err := time.LoadLocation("Pacific/Auckland")
	require.NoError(t, err)
	holiday := e.a.Clock.Now().In(loc).AddDate(0, 0, 2).Format(time.DateOnly)
	days := map[string]any{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		days[d] = []any{map[string]string{"from": "00:00", "to": "24:00"}}
	}
	wh := e.a.Must(t, 200, "PUT", e.path("/settings/working-hours"), owner, map[string]any{"timezone": "Pacific/Auckland",
		"days": days, "holidays": []string{holiday}})
	require.Equal(t, "Pacific/Auckland", wh["timezone"])
	require.Equal(t, []any{holiday}, e.a.Must(t, 200, "GET", e.path("/settings/working-hours"), owner, nil)["holidays"])
	e.a.Must(t, 200, "PUT", e.path("/automation/away"), owner, map[string]any{"enabled": true, "text": "We are closed today."})
	e.a.Must(t, 200, "PUT", e.path("/automation/welcome"), owner, map[string]any{"enabled": true, "text": "Welcome to the bakery!"})
	require.Equal(t, map[string]any{"enabled": true, "text": "We are closed today."},
		e.a.Must(t, 200, "GET", e.path("/automation/away"), e.tm.Viewer.Token, nil))
	for _, action := range []string{"working_hours.updated", "automation_settings.updated"} {
		require.NotEmpty(t, e.a.Must(t, 200, "GET", e.path("/audit-logs?action="+action), owner, nil)["data"], action)
	}

	// Inside working hours: the welcome on the first message, then nothing.
	fe := nextWaID()
	e.say(t, fe, "hi")
	e.say(t, fe, "anyone?")
	require.Equal(t, []string{"Welcome to the bakery!"}, e.replies(t, fe))

	// Two days later, on the holiday: the away message, once per 12 hours per conversation.
	e.a.Clock.Advance(48 * time.Hour)
	owner = e.a.login(t, e.tm.Owner.Email, password).Token // access tokens follow the clock
	e.say(t, fe, "are you open?")
	e.say(t, fe, "hello??")
	require.Equal(t, []string{"Welcome to the bakery!", "We are closed today."}, e.replies(t, fe))
	// A new customer on the holiday gets the welcome (one reply per message), then the away.
	gi := nextWaID()
	e.say(t, gi, "first time here")
	e.say(t, gi, "second")
	require.Equal(t, []string{"Welcome to the bakery!", "We are closed today."}, e.replies(t, gi))
	// 11 hours on (still the holiday in Auckland only if the day has not ended: move 12h on
	// and stay on a closed calendar by making every day closed).
	e.a.Must(t, 200, "PUT", e.path("/settings/working-hours"), owner, map[string]any{"timezone": "Pacific/Auckland", "days": map[string]any{}})
	e.a.Clock.Advance(11 * time.Hour)
	e.say(t, fe, "still closed?")
	require.Len(t, e.replies(t, fe), 2, "not again within 12 hours")
	e.a.Clock.Advance(time.Hour + time.Minute)
	owner = e.a.login(t, e.tm.Owner.Email, password).Token
	e.say(t, fe, "and now?")
	require.Equal(t, []string{"Welcome to the bakery!", "We are closed today.", "We are closed today."}, e.replies(t, fe))

	// Disabled: nothing.
	e.a.Must(t, 200, "PUT", e.path("/automation/away"), owner, map[string]any{"enabled": false, "text": "We are closed today."})
	e.a.Must(t, 200, "PUT", e.path("/automation/welcome"), owner, map[string]any{"enabled": false, "text": ""})
	hu := nextWaID()
	e.say(t, hu, "hello")
	require.Empty(t, e.replies(t, hu))
}

// The rails: never to an opted-out contact, at most 3 automatic replies per contact per
// hour, free text only inside the 24-hour window (a template at any time).
func TestAutomationRails(t *testing.T) {
	t.Parallel()
	e := newAutoEnv(t)
	owner := e.tm.Owner.Token
	e.rule(t, map[string]any{"name": "Hi", "match": "contains", "keywords": []string{"hello"}, "actions": replyText("Hello! How can we help?")})
	e.rule(t, map[string]any{"name": "Menu", "match": "exact", "keywords": []string{"menu"},
		"actions": []any{map[string]any{"type": "reply_template", "template": map[string]any{"name": "hello_world", "language": map[string]string{"code": "en_US"}}}}})

	// Opted out with STOP: the confirmation only, no automatic reply after.
	ivy := nextWaID()
	e.say(t, ivy, "STOP")
	e.say(t, ivy, "hello")
	got := e.replies(t, ivy)
	require.Len(t, got, 1, "only the opt-out confirmation: %v", got)
	require.NotContains(t, got, "Hello! How can we help?")

	// The hourly cap: the fourth message within the hour gets nothing; an hour later it does.
	jo := nextWaID()
	for range 4 {
		e.say(t, jo, "hello")
	}
	require.Len(t, e.replies(t, jo), 3)
	e.a.Clock.Advance(time.Hour + time.Minute)
	e.say(t, jo, "hello")
	require.Len(t, e.replies(t, jo), 4)

	// Outside the 24-hour window (a message Meta delivers 25 hours late): no free text, but
	// a template goes.
	kim := nextWaID()
	old := e.a.Clock.Now().Add(-25 * time.Hour)
	e.deliver(t, e.envelope(kim, newWAMID(), "hello", old))
	require.Empty(t, e.replies(t, kim))
	e.deliver(t, e.envelope(kim, newWAMID(), "menu", old.Add(time.Second)))
	require.Equal(t, []string{"template:hello_world"}, e.replies(t, kim))
	var skipped int
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM automatic_replies a JOIN contacts c
		ON c.workspace_id = a.workspace_id AND c.id = a.contact_id WHERE c.wa_id = $1 AND a.message_id IS NULL`, kim).Scan(&skipped))
	require.Equal(t, 1, skipped, "the skipped free text is recorded, so a retry does not reconsider it")
	_ = owner
	_ = json.Valid
}
