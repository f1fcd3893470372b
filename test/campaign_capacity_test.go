package test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// A number synced at TIER_250 (the sandbox's new numbers): a campaign of 300 recipients is
// refused (409 capacity_exceeded, saying how many fit); launched with split it sends 250
// and keeps the rest waiting, running. Meta then rates the number RED and a sync reads it:
// the campaign pauses with quality_low, as the system (audited, live event), and cannot be
// resumed while the number is RED.
func TestCampaignMessagingLimitAndQuality(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	ctx := context.Background()
	nums := a.Must(t, 200, "GET", wsPath(tm, "/whatsapp/phone-numbers"), tm.Owner.Token, nil)["data"].([]any)
	number := nums[0].(map[string]any)
	require.Equal(t, "TIER_250", number["messaging_limit_tier"])
	// The plan's quota is not what this test is about: an enterprise plan's 150 a second
	// (paced evenly) leave the number's 80 a second the limit.
	_, err := a.Pool.Exec(ctx, `UPDATE workspaces SET plan = 'enterprise' WHERE id = $1`, tm.WS)
	require.NoError(t, err)
	const n = 300
	e.bulkContacts(t, n, "555", "many")
	id := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Many",
		"phone_number_id": e.acct.PhoneNumberID, "template": map[string]any{"name": "order_update", "language": "en_US"},
		"audience": map[string]any{"tags": []string{"many"}}})["id"].(string)

	res := a.Do(t, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	require.Equal(t, "capacity_exceeded", res.Code(t))
	require.Contains(t, res.JSON(t)["detail"], "250 fit now")
	c := e.get(t, id)
	require.Equal(t, "draft", c["status"])
	require.Empty(t, stats(c), "no audience taken")

	c = a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, map[string]any{"split": true})
	require.Equal(t, "running", c["status"])
	require.Equal(t, true, c["split"])
	eventually(t, 30*time.Second, func() bool { return stats(e.get(t, id))["sent"] == 250 }, "250 should be sent")
	c = e.get(t, id)
	require.Equal(t, "running", c["status"], "the rest waits for the window, running")
	require.Equal(t, map[string]int{"recipients": n, "sent": 250, "pending": 50}, stats(c))
	require.Len(t, sandboxSends(e.sb, "order_update"), 250)

	// Meta rates the number RED; a sync reads it, and the campaign's next look pauses it.
	stream, _ := openStream(t, a.URL, wsPath(tm, "/events"), tm.Owner.Token)
	require.NoError(t, e.sb.SetNumberQuality(e.acct.PhoneNumberID, sandbox.NumberQuality{QualityRating: "RED"}))
	a.Must(t, 202, "POST", wsPath(tm, "/whatsapp/phone-numbers/"+number["id"].(string)+"/sync"), tm.Owner.Token, nil)
	eventually(t, 20*time.Second, func() bool {
		return a.Must(t, 200, "GET", wsPath(tm, "/whatsapp/phone-numbers/"+number["id"].(string)), tm.Owner.Token, nil)["quality_rating"] == "RED"
	}, "the sync should read the rating")
	paused := e.waitStatus(t, id, "paused")
	require.Equal(t, "quality_low", paused["pause_reason"])
	require.Equal(t, 50, stats(paused)["pending"], "nothing more went out")
	ev := stream.nextNamed(t, "campaign.updated")
	for ev.Data["kind"] != "campaign.paused" {
		ev = stream.nextNamed(t, "campaign.updated")
	}
	require.Equal(t, id, ev.Data["campaign_id"])
	var actor string
	require.NoError(t, a.Pool.QueryRow(ctx, `SELECT actor_type FROM audit_logs
		WHERE action = 'campaign.paused' AND resource_id = $1`, id).Scan(&actor))
	require.Equal(t, "system", actor)

	res = a.Do(t, "POST", e.path("/"+id+"/resume"), tm.Owner.Token, nil)
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "invalid_state", res.Code(t))
	require.Contains(t, res.JSON(t)["detail"], "RED")
}
