package test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// Meta refusing a marketing template with 131049 schedules the recipient's retry 24 hours
// later; once the app's clock has moved past it, the campaign sends the recipient one new
// message, which Meta takes; the recipient's reply makes it replied, and the campaign
// completes. No sleeping for the rule: the clock moves.
func TestCampaignRetriesAMarketingLimitAndCountsTheReply(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t) // the sandbox sends its status webhooks to the app
	a, tm := e.a, e.tm
	key := managerKey(t, e) // outlives the moved clock (sessions do not)
	phone := nextPhone()
	waID := strings.TrimPrefix(phone, "+")
	ana := a.Must(t, 201, "POST", wsPath(tm, "/contacts"), key, map[string]any{"phone": phone, "name": "Ana"})["id"].(string)
	e.sb.MarkMarketingLimited(waID)

	path := func(p string) string { return wsPath(tm, "/campaigns"+p) }
	id := a.Must(t, 201, "POST", path(""), key, map[string]any{"name": "Spring", "phone_number_id": e.acct.PhoneNumberID,
		"template": welcome(), "audience": map[string]any{"contact_ids": []string{ana}}})["id"].(string)
	a.Must(t, 202, "POST", path("/"+id+"/launch"), key, nil)
	recipient := func() map[string]any {
		rs := a.Must(t, 200, "GET", path("/"+id+"/recipients"), key, nil)["data"].([]any)
		require.Len(t, rs, 1)
		return rs[0].(map[string]any)
	}
	var r map[string]any
	eventually(t, 30*time.Second, func() bool { r = recipient(); return r["status"] == "retry_scheduled" },
		"Meta's 131049 should schedule a retry")
	require.Equal(t, float64(131049), r["error"].(map[string]any)["code"])
	require.Equal(t, float64(1), r["attempts"])
	require.Nil(t, r["message_id"])
	next, err := time.Parse(time.RFC3339Nano, r["next_attempt_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, a.Clock.Now().Add(24*time.Hour), next, time.Minute, "a day later")
	c := a.Must(t, 200, "GET", path("/"+id), key, nil)
	require.Equal(t, "running", c["status"], "waiting for its retry")
	require.Equal(t, map[string]int{"recipients": 1, "retry_scheduled": 1}, stats(c))

	// Meta lifts the limit; a day passes on the app's clock.
	e.sb.LiftMarketingLimit(waID)
	a.Clock.Advance(24*time.Hour + time.Minute)
	eventually(t, 30*time.Second, func() bool { r = recipient(); return r["status"] == "read" },
		"the second attempt should be sent, delivered and read")
	require.Equal(t, float64(2), r["attempts"])
	require.Nil(t, r["error"], "the new attempt reached Meta")
	require.Nil(t, r["next_attempt_at"])

	// Meta got two sends: the refused one and exactly one accepted since.
	sends := sandboxSends(e.sb, "welcome_named")[waID]
	require.Len(t, sends, 2)
	var refused, accepted int
	for _, m := range sends {
		if m.Status == "failed" {
			refused++
			require.Equal(t, 131049, m.ErrorCode)
		} else {
			accepted++
		}
	}
	require.Equal(t, []int{1, 1}, []int{refused, accepted})

	// Ana answers: her recipient is replied, and the campaign, with nothing left, completes.
	_, err = e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: waID, Text: "Thanks!"})
	require.NoError(t, err)
	eventually(t, 30*time.Second, func() bool { return recipient()["status"] == "replied" }, "the reply should count")
	eventually(t, 30*time.Second, func() bool { c = a.Must(t, 200, "GET", path("/"+id), key, nil); return c["status"] == "completed" },
		"the campaign should complete")
	require.Equal(t, map[string]int{"recipients": 1, "sent": 1, "delivered": 1, "read": 1, "replied": 1}, stats(c))
}
