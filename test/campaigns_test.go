package test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bootstrap"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/adapters/riveradapter"
)

// campaignEnv is a running app with a team and a number connected to a sandbox that sends
// no status webhooks by itself: the tests send them.
type campaignEnv struct {
	*msgEnv
}

func newCampaignEnv(t *testing.T, tweak ...func(*bootstrap.Config)) campaignEnv {
	t.Helper()
	sb, point := withSandbox(t)
	a := startApp(t, append([]func(*bootstrap.Config){point}, tweak...)...)
	e := &msgEnv{a: a, sb: sb, tm: newTeam(t, a)}
	e.acct = e.connect(t, e.tm.WS, e.tm.Owner)
	return campaignEnv{e}
}

func (e campaignEnv) path(p string) string { return wsPath(e.tm, "/campaigns"+p) }

// contact creates a contact through the API.
func (e campaignEnv) contact(t *testing.T, name string, tags ...string) (id, phone string) {
	t.Helper()
	phone = nextPhone()
	id = e.a.Must(t, 201, "POST", wsPath(e.tm, "/contacts"), e.tm.Owner.Token,
		map[string]any{"phone": phone, "name": name, "tags": tags})["id"].(string)
	return id, phone
}

// welcome is the fixtures' MARKETING template with named parameters, the first one the
// contact's name (or "friend").
func welcome() map[string]any {
	return map[string]any{"name": "welcome_named", "language": "en_US", "components": []any{map[string]any{
		"type": "body", "parameters": []any{
			map[string]any{"type": "text", "parameter_name": "first_name", "text": "{{contact.name|friend}}"},
			map[string]any{"type": "text", "parameter_name": "code", "text": "SPRING"}}}}}
}

func (e campaignEnv) get(t *testing.T, id string) map[string]any {
	t.Helper()
	return e.a.Must(t, 200, "GET", e.path("/"+id), e.tm.Owner.Token, nil)
}

// waitStatus polls the campaign until it has status.
func (e campaignEnv) waitStatus(t *testing.T, id, status string) map[string]any {
	t.Helper()
	var c map[string]any
	eventually(t, 30*time.Second, func() bool {
		c = e.get(t, id)
		return c["status"] == status
	}, "the campaign should be "+status)
	return c
}

// recipients reads every recipient of the campaign, by contact id.
func (e campaignEnv) recipients(t *testing.T, id string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range e.a.Must(t, 200, "GET", e.path("/"+id+"/recipients?limit=200"), e.tm.Viewer.Token, nil)["data"].([]any) {
		rm := r.(map[string]any)
		out[rm["contact_id"].(string)] = rm
	}
	return out
}

func stats(c map[string]any) map[string]int {
	out := map[string]int{}
	for k, v := range c["stats"].(map[string]any) {
		if n := int(v.(float64)); n != 0 {
			out[k] = n
		}
	}
	return out
}

// status posts Meta's status webhook for wamid on the env's number, signed, and waits for
// it to be processed.
func (e campaignEnv) status(t *testing.T, wamid, status string, ts int64) {
	t.Helper()
	e.statuses(t, status, ts, wamid)
}

// sandboxSends are the messages the sandbox accepted for a template, by recipient wa_id.
func sandboxSends(sb *sandbox.Sandbox, template string) map[string][]sandbox.Message {
	out := map[string][]sandbox.Message{}
	for _, m := range sb.Messages() {
		if m.TemplateName == template {
			out[m.To] = append(out[m.To], m)
		}
	}
	return out
}

// A campaign to a tag: each eligible contact gets exactly one message with its name bound,
// the others are skipped with their reasons; Meta's status webhooks move the recipients
// and the stats; a completed campaign can no longer be paused, edited or cancelled.
func TestCampaignToATag(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	ana, anaPhone := e.contact(t, "Ana", "spring")
	nameless, namelessPhone := e.contact(t, "", "spring", "vip")
	out, outPhone := e.contact(t, "Cy", "spring")
	a.Must(t, 200, "POST", wsPath(tm, "/contacts/"+out+"/opt-out"), tm.Owner.Token, nil)
	noAds, _ := e.contact(t, "Ed", "spring")
	_, err := a.Pool.Exec(context.Background(), `UPDATE contacts SET marketing_opted_out = true WHERE id = $1`, noAds) // Meta's stop
	require.NoError(t, err)
	e.contact(t, "Di", "autumn")

	c := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Spring sale",
		"phone_number_id": e.acct.PhoneNumberID, "template": welcome(), "audience": map[string]any{"tags": []string{"spring"}}})
	id := c["id"].(string)
	require.Equal(t, "draft", c["status"])
	require.Nil(t, c["pause_reason"])
	require.Nil(t, c["estimated_cost"])
	require.Nil(t, c["scheduled_at"])
	require.Equal(t, tm.Owner.ID, c["created_by"])
	require.Equal(t, map[string]any{"all": false, "tags": []any{"spring"}, "contact_ids": []any{}}, c["audience"])
	require.Equal(t, "en_US", c["template"].(map[string]any)["language"])
	require.Empty(t, stats(c))

	// Who may: a viewer reads but does not launch; an agent has no campaigns at all.
	res := a.Do(t, "POST", e.path("/"+id+"/launch"), tm.Viewer.Token, nil)
	require.Equal(t, 403, res.Status)
	require.Equal(t, "forbidden", res.Code(t))
	require.Equal(t, 403, a.Do(t, "GET", e.path(""), tm.Agent.Token, nil).Status)
	require.Equal(t, 403, a.Do(t, "POST", e.path("/"+id+"/launch"), tm.Agent.Token, nil).Status)
	a.Must(t, 200, "GET", e.path("/"+id), tm.Viewer.Token, nil)

	c = a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Manager.Token, nil)
	require.Contains(t, []any{"running", "completed"}, c["status"])
	require.NotNil(t, c["started_at"])
	require.Equal(t, 4, stats(c)["recipients"])

	c = e.waitStatus(t, id, "completed")
	require.NotNil(t, c["completed_at"])
	require.Equal(t, map[string]int{"recipients": 4, "sent": 2, "skipped": 2}, stats(c))

	// Meta got one message per eligible contact, with the contact's name (or the default).
	sends := sandboxSends(e.sb, "welcome_named")
	require.Equal(t, 2, len(sends), "two contacts got a message")
	for phone, first := range map[string]string{anaPhone: "Ana", namelessPhone: "friend"} {
		ms := sends[strings.TrimPrefix(phone, "+")]
		require.Equal(t, 1, len(ms), "one message to %s", phone)
		require.Contains(t, string(ms[0].Payload), `"text":"`+first+`"`)
		require.Contains(t, string(ms[0].Payload), `"text":"SPRING"`)
	}
	require.Empty(t, sends[strings.TrimPrefix(outPhone, "+")])

	rs := e.recipients(t, id)
	require.Len(t, rs, 4)
	require.Equal(t, "opted_out", rs[out]["reason"])
	require.Equal(t, "skipped", rs[out]["status"])
	require.Equal(t, "marketing_opted_out", rs[noAds]["reason"])
	for _, who := range []string{ana, nameless} {
		require.Equal(t, "sent", rs[who]["status"])
		require.Nil(t, rs[who]["reason"])
		require.Nil(t, rs[who]["error"])
		require.Equal(t, float64(1), rs[who]["attempts"])
	}
	require.Equal(t, anaPhone, rs[ana]["phone"])

	// The messages are the contacts' like any other: in their conversation, with a wamid.
	wamid := func(who string) string {
		m := a.Must(t, 200, "GET", wsPath(tm, "/messages/"+rs[who]["message_id"].(string)), tm.Owner.Token, nil)
		require.Equal(t, who, m["contact_id"])
		return m["wamid"].(string)
	}
	e.status(t, wamid(ana), "delivered", time.Now().Unix())
	e.status(t, wamid(ana), "read", time.Now().Unix())
	e.status(t, wamid(nameless), "delivered", time.Now().Unix())
	e.status(t, wamid(nameless), "sent", time.Now().Unix()) // late: changes nothing
	rs = e.recipients(t, id)
	require.Equal(t, "read", rs[ana]["status"])
	require.Equal(t, "delivered", rs[nameless]["status"])
	read := a.Must(t, 200, "GET", e.path("/"+id+"/recipients?status=read"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, read, 1)
	require.Equal(t, map[string]int{"recipients": 4, "sent": 2, "delivered": 2, "read": 1, "skipped": 2}, stats(e.get(t, id)))

	// Done: the moves that do not apply are 409 invalid_state.
	for _, move := range []string{"pause", "resume", "cancel", "launch"} {
		res := a.Do(t, "POST", e.path("/"+id+"/"+move), tm.Owner.Token, nil)
		require.Equal(t, 409, res.Status, move)
		require.Equal(t, "invalid_state", res.Code(t), move)
	}
	res = a.Do(t, "PATCH", e.path("/"+id), tm.Owner.Token, map[string]any{"name": "Again"})
	require.Equal(t, 409, res.Status)
	require.Equal(t, "invalid_state", res.Code(t))

	audit := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?resource_type=campaign"), tm.Owner.Token, nil)["data"].([]any)
	var actions []string
	for _, en := range audit {
		actions = append(actions, en.(map[string]any)["action"].(string))
	}
	require.Subset(t, actions, []string{"campaign.created", "campaign.launched", "campaign.completed"})
}

// Validation at the edge, with API.md's problem codes.
func TestCampaignRefusals(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	create := func(body map[string]any) Response {
		return a.Do(t, "POST", e.path(""), tm.Owner.Token, body)
	}
	base := func() map[string]any {
		return map[string]any{"name": "X", "phone_number_id": e.acct.PhoneNumberID, "template": welcome(),
			"audience": map[string]any{"all": true}}
	}
	fields := func(res Response) map[string]string { return problemFields(t, res) }

	b := base()
	b["name"] = ""
	res := create(b)
	require.Equal(t, 422, res.Status)
	require.Contains(t, fields(res), "name")
	b = base()
	b["template"] = map[string]any{"name": "welcome_named", "language": "en_US", "components": []any{map[string]any{
		"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "{{contact.nmae}}"}}}}}
	res = create(b)
	require.Equal(t, 422, res.Status)
	require.Contains(t, fields(res)["template.components"], "unknown contact field")
	b = base()
	b["audience"] = map[string]any{"all": true, "tags": []string{"x"}}
	require.Contains(t, fields(create(b)), "audience.all")
	b = base()
	b["scheduled_at"] = "yesterday"
	require.Contains(t, fields(create(b)), "scheduled_at")
	b = base()
	b["phone_number_id"] = "123456"
	res = create(b)
	require.Equal(t, 409, res.Status)
	require.Equal(t, "whatsapp_not_connected", res.Code(t))

	// Launch: the template must be the WABA's and approved, the parameters must fit.
	launch := func(template map[string]any) Response {
		b := base()
		b["template"] = template
		id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, b)["id"].(string)
		return a.Do(t, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	}
	res = launch(map[string]any{"name": "nope", "language": "en_US"})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "template_not_found", res.Code(t))
	res = launch(map[string]any{"name": "paused_promo", "language": "en_US"})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "template_not_approved", res.Code(t))
	res = launch(map[string]any{"name": "welcome_named", "language": "en_US"})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "validation_failed", res.Code(t), "the parameters do not fit")
	id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "No one",
		"phone_number_id": e.acct.PhoneNumberID, "template": welcome()})["id"].(string)
	res = a.Do(t, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	require.Equal(t, 422, res.Status)
	require.Contains(t, fields(res), "audience")

	require.Equal(t, 404, a.Do(t, "GET", e.path("/not-an-id"), tm.Owner.Token, nil).Status)
	require.Equal(t, 422, a.Do(t, "GET", e.path("?status=finished"), tm.Owner.Token, nil).Status)
	require.Empty(t, a.Must(t, 200, "GET", e.path("?status=running"), tm.Owner.Token, nil)["data"])
}

// A scheduled campaign waits for its time and starts by itself (the leader's tick); paused
// and resumed before its time, it waits again.
func TestScheduledCampaign(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	_, phone := e.contact(t, "Ana", "later")
	id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Later",
		"phone_number_id": e.acct.PhoneNumberID, "template": welcome()})["id"].(string)
	// Minutes, not hours: the team's access tokens live 15 minutes of the app's clock.
	at := a.Clock.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	c := a.Must(t, 200, "PATCH", e.path("/"+id), tm.Owner.Token, map[string]any{"scheduled_at": at,
		"audience": map[string]any{"tags": []string{"later"}}})
	require.Equal(t, "scheduled", c["status"])
	require.Equal(t, "draft", a.Must(t, 200, "PATCH", e.path("/"+id), tm.Owner.Token, map[string]any{"scheduled_at": nil})["status"])
	a.Must(t, 200, "PATCH", e.path("/"+id), tm.Owner.Token, map[string]any{"scheduled_at": at})

	c = a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	require.Equal(t, "scheduled", c["status"])
	require.Equal(t, "paused", a.Must(t, 200, "POST", e.path("/"+id+"/pause"), tm.Owner.Token, nil)["status"])
	require.Equal(t, "scheduled", a.Must(t, 200, "POST", e.path("/"+id+"/resume"), tm.Owner.Token, nil)["status"], "its time has not come")
	// The leader's tick, now rather than at its next period; it is done when its job is.
	tick := func() {
		res, err := a.River.Insert(context.Background(), riveradapter.CampaignTickArgs{}, nil)
		require.NoError(t, err)
		eventually(t, 20*time.Second, func() bool {
			var state string
			require.NoError(t, a.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state))
			return state == "completed"
		}, "the tick should run")
	}
	tick()
	require.Equal(t, "scheduled", e.get(t, id)["status"], "not before its time")
	require.Zero(t, len(sandboxSends(e.sb, "welcome_named")))

	a.Clock.Advance(6 * time.Minute)
	tick()
	c = e.waitStatus(t, id, "completed")
	require.Equal(t, map[string]int{"recipients": 1, "sent": 1}, stats(c))
	require.Equal(t, 1, len(sandboxSends(e.sb, "welcome_named")[strings.TrimPrefix(phone, "+")]))
}

// A send Meta refuses for good fails its recipient with Meta's code and title.
func TestCampaignFailedSend(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	who, _ := e.contact(t, "Ana", "x")
	// In our catalogue (approved) but not at Meta: Meta answers 132001.
	id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Doomed",
		"phone_number_id": e.acct.PhoneNumberID, "template": map[string]any{"name": "no_such_template", "language": "en_US"},
		"audience": map[string]any{"contact_ids": []string{who}}})["id"].(string)
	a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	c := e.waitStatus(t, id, "completed")
	require.Equal(t, map[string]int{"recipients": 1, "failed": 1}, stats(c))
	r := e.recipients(t, id)[who]
	require.Equal(t, "failed", r["status"])
	require.Equal(t, float64(132001), r["error"].(map[string]any)["code"])
	require.NotEmpty(t, r["error"].(map[string]any)["title"])
}

// Campaign sends take from the plan's per-minute quota the API uses, leaving a tenth of it
// to the API: while a campaign waits for the next window, an API send still goes. Cancel
// skips the recipients not yet queued; the queued ones go out.
func TestCampaignSharesTheQuotaAndCancels(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	ctx := context.Background()
	const n = 120 // the free plan's 100 a minute, less the API's 10: 90 go this minute
	e.bulkContacts(t, n, "555", "bulk")
	id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Bulk",
		"phone_number_id": e.acct.PhoneNumberID, "template": map[string]any{"name": "order_update", "language": "en_US"},
		"audience": map[string]any{"tags": []string{"bulk"}}})["id"].(string)
	a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)

	queued := func() int {
		var q int
		require.NoError(t, a.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_recipients WHERE campaign_id = $1 AND message_id IS NOT NULL`,
			id).Scan(&q))
		return q
	}
	eventually(t, 20*time.Second, func() bool { return queued() == 90 }, "90 messages should be queued this minute")
	require.Equal(t, 90, queued())

	// The API still sends: the campaign left it its share.
	res := e.send(t, tm.Owner.Token, map[string]any{"to": nextPhone(), "type": "template", "template": template("order_update")})
	require.Equal(t, 202, res.Status, "%s", res.Body)

	c := a.Must(t, 200, "POST", e.path("/"+id+"/cancel"), tm.Owner.Token, nil)
	require.Equal(t, "cancelled", c["status"])
	require.NotNil(t, c["completed_at"])
	eventually(t, 30*time.Second, func() bool { return stats(e.get(t, id))["sent"] == 90 }, "the queued messages go out")
	require.Equal(t, map[string]int{"recipients": n, "sent": 90, "skipped": 30}, stats(e.get(t, id)))
	skipped := a.Must(t, 200, "GET", e.path("/"+id+"/recipients?status=skipped&limit=200"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, skipped, 30)
	for _, r := range skipped {
		require.Equal(t, "cancelled", r.(map[string]any)["reason"])
	}
	eventually(t, 20*time.Second, func() bool { return len(sandboxSends(e.sb, "order_update")) == 91 },
		"Meta should get the 90 recipients' messages and the API's send")
	for to, ms := range sandboxSends(e.sb, "order_update") {
		require.Equal(t, 1, len(ms), "one message to %s", to)
	}
	require.Equal(t, "cancelled", e.get(t, id)["status"], "a cancelled campaign stays cancelled")
}

// Meta pausing the template pauses the campaigns that send it (the stop rule reads the
// template's change from the event log), with the reason, the audit entry and the event.
func TestCampaignPausedWhenMetaPausesItsTemplate(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	e.contact(t, "Ana", "spring")
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	c := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Later", "phone_number_id": e.acct.PhoneNumberID,
		"template": welcome(), "audience": map[string]any{"tags": []string{"spring"}}, "scheduled_at": later})
	id := c["id"].(string)
	require.Equal(t, "scheduled", c["status"])
	stream, _ := openStream(t, a.URL, wsPath(tm, "/events"), tm.Owner.Token)

	body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"time":%d,"changes":[{"value":{
		"event":"PAUSED","message_template_id":987654321,"message_template_name":"welcome_named","message_template_language":"en_US",
		"reason":"LOW_QUALITY","message_template_category":"MARKETING"},"field":"message_template_status_update"}]}]}`,
		// Well after the fixture's status time (now), and after any template sync a loaded
		// machine runs late: an older report would be ignored as stale.
		e.acct.WABAID, time.Now().Add(10*time.Minute).Unix()))
	res := a.Do(t, "POST", "/webhooks/meta", "", body, "X-Hub-Signature-256", sign(body))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	paused := e.waitStatus(t, id, "paused")
	require.Equal(t, "template_paused", paused["pause_reason"])
	ev := stream.nextNamed(t, "campaign.updated")
	for ev.Data["kind"] != "campaign.paused" { // its creation can come first: the stream opened as it was made
		ev = stream.nextNamed(t, "campaign.updated")
	}
	require.Equal(t, id, ev.Data["campaign_id"])
	var actor string
	require.NoError(t, a.Pool.QueryRow(context.Background(), `SELECT actor_type FROM audit_logs
		WHERE action = 'campaign.paused' AND resource_id = $1`, id).Scan(&actor))
	require.Equal(t, "system", actor)
	// A person cannot resume it while the template cannot be sent.
	require.Equal(t, 422, a.Do(t, "POST", e.path("/"+id+"/resume"), tm.Owner.Token, nil).Status)
}
