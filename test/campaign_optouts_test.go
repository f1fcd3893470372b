package test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The opt-out stop rule end to end: a running campaign whose recipients got its messages
// pauses (opt_out_spike, as the system) once MinOptOutsForSpike of them write STOP,
// more than 2% of its delivered ones; one fewer leaves it running.
func TestCampaignPausedByAnOptOutSpike(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	ctx := context.Background()
	// The free plan's minute lets the campaign queue 90 (its 100 less the API's 10); the
	// other recipients wait for the next minutes, so it is still running throughout. (200:
	// within the new number's messaging limit of 250 a day.)
	const n, firstMinute = 200, 90
	e.bulkContacts(t, n, "777", "spike")
	id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Spike",
		"phone_number_id": e.acct.PhoneNumberID, "template": map[string]any{"name": "order_update", "language": "en_US"},
		"audience": map[string]any{"tags": []string{"spike"}}})["id"].(string)
	a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	eventually(t, 30*time.Second, func() bool { return stats(e.get(t, id))["sent"] == firstMinute }, "the first minute's messages go out")

	// Meta reports them delivered.
	var wamids, reached []string
	rows, err := a.Pool.Query(ctx, `SELECT m.wamid, c.wa_id FROM messages m JOIN contacts c ON c.workspace_id = m.workspace_id AND c.id = m.contact_id
		WHERE m.campaign_id = $1 ORDER BY c.wa_id`, id)
	require.NoError(t, err)
	for rows.Next() {
		var w, waID string
		require.NoError(t, rows.Scan(&w, &waID))
		wamids, reached = append(wamids, w), append(reached, waID)
	}
	require.NoError(t, rows.Err())
	require.Len(t, wamids, firstMinute)
	e.statuses(t, "delivered", time.Now().Unix(), wamids...)
	c := e.get(t, id)
	require.Equal(t, firstMinute, stats(c)["delivered"])
	require.Equal(t, "running", c["status"])

	// 19 of them write STOP: over 2% of 90 delivered, but fewer than the rule's minimum.
	optOuts := func() int {
		var k int
		require.NoError(t, a.Pool.QueryRow(ctx, `SELECT opt_outs FROM campaigns WHERE id = $1`, id).Scan(&k))
		return k
	}
	for _, waID := range reached[:19] {
		e.says(t, waID, "STOP")
	}
	eventually(t, 20*time.Second, func() bool { return optOuts() == 19 }, "the stop rule should count 19 opt-outs")
	require.Equal(t, "running", e.get(t, id)["status"], "19 opt-outs are below the rule's minimum")

	// The 20th pauses it: the reason, the audit entry (the system's) and the live event.
	stream, _ := openStream(t, a.URL, wsPath(tm, "/events"), tm.Owner.Token)
	e.says(t, reached[19], "STOP")
	paused := e.waitStatus(t, id, "paused")
	require.Equal(t, "opt_out_spike", paused["pause_reason"])
	require.Equal(t, 20, optOuts())
	ev := stream.nextNamed(t, "campaign.updated")
	for ev.Data["kind"] != "campaign.paused" {
		ev = stream.nextNamed(t, "campaign.updated")
	}
	require.Equal(t, id, ev.Data["campaign_id"])
	require.Equal(t, "opt_out_spike", ev.Data["details"].(map[string]any)["reason"])
	audit := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?action=campaign.paused"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, audit, 1)
	entry := audit[0].(map[string]any)
	require.Equal(t, id, entry["resource_id"])
	require.Equal(t, "system", entry["actor_type"], "%v", entry)
}

// bulkContacts inserts n contacts tagged tag, their phones +1650, exchange, then 0001 to n.
func (e campaignEnv) bulkContacts(t *testing.T, n int, exchange, tag string) {
	t.Helper()
	_, err := e.a.Pool.Exec(context.Background(), `INSERT INTO contacts (workspace_id, id, phone, wa_id, name, tags, created_at, updated_at)
		SELECT $1, gen_random_uuid(), '+1650' || $3 || lpad(i::text, 4, '0'), '1650' || $3 || lpad(i::text, 4, '0'), 'Kim ' || i,
			ARRAY[$4::text], now(), now()
		FROM generate_series(1, $2) i`, e.tm.WS, n, exchange, tag)
	require.NoError(t, err)
}

// statuses posts one webhook reporting status for every wamid, as Meta batches them.
func (e campaignEnv) statuses(t *testing.T, status string, ts int64, wamids ...string) {
	t.Helper()
	var sts []any
	for _, w := range wamids {
		sts = append(sts, map[string]any{"id": w, "status": status, "timestamp": fmt.Sprint(ts), "recipient_id": "16505550000"})
	}
	e.deliver(t, map[string]any{"statuses": sts})
}

// says posts a customer's text message to the env's number, signed, and waits for it to be
// processed.
func (e campaignEnv) says(t *testing.T, waID, text string) {
	t.Helper()
	e.deliver(t, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": "Customer"}, "wa_id": waID}},
		"messages": []any{map[string]any{"from": waID, "id": newWAMID(), "timestamp": fmt.Sprint(time.Now().Unix()),
			"type": "text", "text": map[string]string{"body": text}}},
	})
}

// deliver posts a messages webhook of the env's number with value's fields, signed, and
// waits for it to be processed.
func (e campaignEnv) deliver(t *testing.T, fields map[string]any) {
	t.Helper()
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]string{"display_phone_number": "15550001111", "phone_number_id": e.acct.PhoneNumberID},
	}
	for k, v := range fields {
		value[k] = v
	}
	body := mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": e.acct.WABAID, "changes": []any{map[string]any{"field": "messages", "value": value}}}}})
	res := e.a.Do(t, "POST", "/webhooks/meta", "", body, "X-Hub-Signature-256", sign(body))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	(&hookEnv{a: e.a}).waitJobs(t)
}
