package test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bootstrap"
)

// A customer's STOP outlives their contact: deleting the contact erases their messages,
// but a template to the same number is still refused, and a contact made later with that
// number starts opted out, until the customer writes START.
func TestOptOutOutlivesTheContact(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	const from = "14155550177"
	phone := "+" + from
	ts := int64(1768200000)
	say := h.customer(t, from, "Kim", &ts)
	sendTemplate := func() Response {
		return h.a.Do(t, "POST", h.path("/messages"), h.owner.Token, map[string]any{"to": phone, "type": "template",
			"template": template("order_update")})
	}

	say("Where is my order?")
	say("STOP")
	c := h.contactBy(t, phone)
	require.True(t, c["opted_out"].(bool))
	id := c["id"].(string)
	require.Equal(t, 3, h.count(t, `SELECT count(*) FROM messages WHERE workspace_id = $1 AND contact_id = $2`, h.ws, id),
		"two inbound messages and the confirmation")

	h.a.Must(t, 204, "DELETE", h.path("/contacts/"+id), h.owner.Token, nil)
	require.Zero(t, h.count(t, `SELECT count(*) FROM messages WHERE workspace_id = $1 AND contact_id = $2`, h.ws, id),
		"deleting a contact erases their messages")
	require.Zero(t, h.count(t, `SELECT count(*) FROM inbox_events WHERE workspace_id = $1 AND contact_id = $2`, h.ws, id))
	for _, action := range []string{"contact.opted_out", "contact.deleted"} {
		require.Len(t, h.a.Must(t, 200, "GET", h.path("/audit-logs?action="+action), h.owner.Token, nil)["data"], 1,
			"the audit trail keeps %s", action)
	}

	res := sendTemplate()
	require.Equal(t, 403, res.Status, "%s", res.Body)
	require.Equal(t, "opted_out", res.Code(t))
	require.Zero(t, h.count(t, `SELECT count(*) FROM contacts WHERE workspace_id = $1 AND phone = $2`, h.ws, phone),
		"a refused send creates no contact")

	again := h.a.Must(t, 201, "POST", h.path("/contacts"), h.owner.Token, map[string]any{"phone": phone, "name": "Kim"})
	require.Equal(t, true, again["opted_out"], "a new contact with the number is still opted out")
	require.Equal(t, "keyword", again["opt_out_source"])
	require.NotNil(t, again["opted_out_at"])
	res = h.a.Do(t, "POST", h.path("/contacts/"+again["id"].(string)+"/opt-in"), h.owner.Token, nil)
	require.Equal(t, 409, res.Status, "%s", res.Body)
	require.Equal(t, 403, sendTemplate().Status)

	// Only the customer lifts it, and then it is gone for good (a later delete keeps nothing).
	say("START")
	require.False(t, h.contactBy(t, phone)["opted_out"].(bool))
	require.Equal(t, 202, sendTemplate().Status)
	h.a.Must(t, 204, "DELETE", h.path("/contacts/"+again["id"].(string)), h.owner.Token, nil)
	require.Equal(t, 202, sendTemplate().Status)
}

// A Meta marketing stop outlives the contact too, by BSUID as well as by number.
func TestMarketingStopAndBSUIDOutliveTheContact(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	h.deliver(t, readFixture(t, "user_preferences_stop.json"))
	c := h.contactBy(t, "+16505551234")
	require.True(t, c["marketing_opted_out"].(bool))
	h.a.Must(t, 204, "DELETE", h.path("/contacts/"+c["id"].(string)), h.owner.Token, nil)
	again := h.a.Must(t, 201, "POST", h.path("/contacts"), h.owner.Token, map[string]any{"phone": "+16505551234"})
	require.Equal(t, true, again["marketing_opted_out"])
	require.Equal(t, false, again["opted_out"])

	// A BSUID-only customer writes STOP, is deleted, and writes again: still opted out.
	bsuid := "BR.13491208655302741918"
	stop := strings.Replace(string(readFixture(t, "bsuid_only_user.json")), `Oi! Voc\u00eas entregam em S\u00e3o Paulo?`, "STOP", 1)
	h.deliver(t, []byte(stop))
	c = h.contactByBSUID(t, bsuid)
	require.True(t, c["opted_out"].(bool))
	h.a.Must(t, 204, "DELETE", h.path("/contacts/"+c["id"].(string)), h.owner.Token, nil)
	h.deliver(t, readFixture(t, "bsuid_only_user.json"))
	c = h.contactByBSUID(t, bsuid)
	require.True(t, c["opted_out"].(bool), "the customer's STOP holds for the contact their next message makes")
	require.Equal(t, "keyword", c["opt_out_source"])
}

// Staff may undo an opt-out staff made, never one the customer made.
func TestStaffCannotUndoACustomersOptOut(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	optIn := func(id string) Response {
		return h.a.Do(t, "POST", h.path("/contacts/"+id+"/opt-in"), h.owner.Token, nil)
	}

	// By the API: undone by the API.
	byAPI := h.a.Must(t, 201, "POST", h.path("/contacts"), h.owner.Token, map[string]any{"phone": nextPhone()})["id"].(string)
	c := h.a.Must(t, 200, "POST", h.path("/contacts/"+byAPI+"/opt-out"), h.owner.Token, nil)
	require.Equal(t, "api", c["opt_out_source"])
	res := optIn(byAPI)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	require.Equal(t, false, res.JSON(t)["opted_out"])
	require.Equal(t, 2, h.count(t, `SELECT count(*) FROM inbox_events WHERE contact_id = $1 AND kind IN ('contact.opted_out', 'contact.opted_in')`,
		byAPI), "the inbox feed hears of an API opt-out and opt-in as of a keyword's")

	// By keyword (text) and by a quick-reply button: 409, and nothing changes.
	h.deliver(t, readFixture(t, "text_stop.json"))
	byKeyword := h.contactBy(t, "+16505551234")["id"].(string)
	res = optIn(byKeyword)
	require.Equal(t, 409, res.Status, "%s", res.Body)
	require.Equal(t, "conflict", res.Code(t))
	require.True(t, h.contactBy(t, "+16505551234")["opted_out"].(bool))

	from := "14155550178"
	h.deliver(t, envelopeOf(from, "Lee", map[string]any{"from": from, "id": newWAMID(), "timestamp": "1768200500", "type": "button",
		"button": map[string]string{"payload": "unsub", "text": "STOP"}}))
	require.Equal(t, 409, optIn(h.contactBy(t, "+"+from)["id"].(string)).Status)

	// By Meta's marketing stop: 409 too.
	from = "14155550179"
	stop := strings.ReplaceAll(string(readFixture(t, "user_preferences_stop.json")), "16505551234", from)
	h.deliver(t, []byte(stop))
	c = h.contactBy(t, "+"+from)
	require.True(t, c["marketing_opted_out"].(bool))
	require.Equal(t, 409, optIn(c["id"].(string)).Status)
	require.Len(t, h.a.Must(t, 200, "GET", h.path("/audit-logs?action=contact.opted_in"), h.owner.Token, nil)["data"], 1,
		"only the API opt-in of the API opt-out happened")
}

// operatorToken is the ADMIN_TOKEN of apps started withOperator.
const operatorToken = "operator-secret-token"

func withOperator(c *bootstrap.Config) { c.AdminToken = operatorToken }

// setPlan changes a workspace's plan as the operator (the app must run withOperator).
func (a *App) setPlan(t testing.TB, ws, plan string) {
	t.Helper()
	require.Equal(t, plan, a.Must(t, 200, "PUT", "/admin/workspaces/"+ws+"/plan", operatorToken, map[string]string{"plan": plan})["plan"])
}

// Plans are the operator's: an owner cannot change theirs; the operator can, audited.
func TestPlanIsTheOperators(t *testing.T) {
	t.Parallel()
	const op = operatorToken
	a := startApp(t, withOperator)
	tm := newTeam(t, a)

	res := a.Do(t, "PATCH", wsPath(tm, ""), tm.Owner.Token, map[string]any{"plan": "enterprise"})
	require.Equal(t, 403, res.Status, "%s", res.Body)
	require.Equal(t, "forbidden", res.Code(t))
	res = a.Do(t, "PATCH", wsPath(tm, ""), tm.Owner.Token, map[string]any{"name": "Acme 2", "plan": "free"})
	require.Equal(t, 403, res.Status, "any plan in the body, even the current one")
	require.Equal(t, "Acme", a.Must(t, 200, "GET", wsPath(tm, ""), tm.Owner.Token, nil)["name"], "nothing changed")
	require.Equal(t, "Acme 2", a.Must(t, 200, "PATCH", wsPath(tm, ""), tm.Owner.Token, map[string]any{"name": "Acme 2"})["name"])

	plan := "/admin/workspaces/" + tm.WS + "/plan"
	require.Equal(t, 401, a.Do(t, "PUT", plan, "", map[string]any{"plan": "pro"}).Status)
	require.Equal(t, 401, a.Do(t, "PUT", plan, tm.Owner.Token, map[string]any{"plan": "pro"}).Status, "a user's token is not the operator's")
	res = a.Do(t, "PUT", plan, op, map[string]any{"plan": "platinum"})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "validation_failed", res.Code(t))
	require.Equal(t, 404, a.Do(t, "PUT", "/admin/workspaces/"+tm.OtherWS+"x/plan", op, map[string]any{"plan": "pro"}).Status)

	w := a.Must(t, 200, "PUT", plan, op, map[string]any{"plan": "enterprise"})
	require.Equal(t, "enterprise", w["plan"])
	require.Equal(t, "enterprise", a.Must(t, 200, "GET", wsPath(tm, ""), tm.Owner.Token, nil)["plan"])
	audit := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?action=workspace.plan_changed"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, audit, 1)
	e := audit[0].(map[string]any)
	require.Equal(t, "system", e["actor_type"])
	require.Equal(t, fmt.Sprint(map[string]any{"from": "free", "to": "enterprise"}), fmt.Sprint(e["details"].(map[string]any)["plan"]))

	without := startApp(t)
	require.Equal(t, 404, without.Do(t, "PUT", plan, op, map[string]any{"plan": "pro"}).Status)
}
