package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Deleting a workspace: only its owner, with its name; it answers 404 at once; a job then
// unsubscribes its number at Meta and erases its rows, keeping only the audit entry.
func TestDeleteWorkspace(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	a, tm := e.a, e.tm
	ctx := context.Background()
	key := a.Must(t, 201, "POST", wsPath(tm, "/api-keys"), tm.Owner.Token, map[string]string{"name": "ci", "role": "owner"})["key"].(string)
	contactID, _ := e.windowContact(t, "")
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, a.Pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	eventually(t, 20*time.Second, func() bool {
		return count(`SELECT count(*) FROM messages WHERE workspace_id = $1 AND contact_id = $2`, tm.WS, contactID) > 0
	}, "the customer's message is stored")
	otherContact := a.contact(t, tm, tm.OtherWS, tm.Outside, "")

	del := func(token string, body any) Response { return a.Do(t, "DELETE", wsPath(tm, ""), token, body) }
	for _, body := range []any{nil, map[string]string{}, map[string]string{"confirm": "acme"}, map[string]string{"confirm": "Globex"}} {
		res := del(tm.Owner.Token, body)
		require.Equal(t, 422, res.Status, "%v: %s", body, res.Body)
		require.Equal(t, "validation_failed", res.Code(t))
		require.Contains(t, string(res.Body), `"confirm"`)
	}
	require.Equal(t, 403, del(tm.Manager.Token, map[string]string{"confirm": "Acme"}).Status, "a manager")
	require.Equal(t, 403, del(key, map[string]string{"confirm": "Acme"}).Status, "an API key, even with the owner role")

	res := a.Must(t, 202, "DELETE", wsPath(tm, ""), tm.Owner.Token, map[string]string{"confirm": "Acme"})
	require.Equal(t, map[string]any{"id": tm.WS, "status": "deleting"}, res)

	// Gone at once for everyone who could reach it: 404, as for a workspace that never was.
	for _, u := range []user{tm.Owner, tm.Manager, tm.Outside} {
		for _, p := range []string{"", "/contacts"} {
			got := a.Do(t, "GET", wsPath(tm, p), u.Token, nil).Status
			require.Equal(t, 404, got, "GET %s as %s", p, u.Email)
		}
	}
	require.Equal(t, 401, a.Do(t, "GET", wsPath(tm, "/contacts"), key, nil).Status, "its API keys no longer exist")
	for _, m := range a.Must(t, 200, "GET", "/v1/me", tm.Owner.Token, nil)["memberships"].([]any) {
		require.NotEqual(t, tm.WS, m.(map[string]any)["workspace_id"])
	}

	eventually(t, 30*time.Second, func() bool {
		return count(`SELECT count(*) FROM workspaces WHERE id = $1`, tm.WS) == 0
	}, "the erasure job should finish")
	for _, table := range []string{"contacts", "messages", "phone_numbers", "memberships", "api_keys", "suppressions", "templates"} {
		require.Zero(t, count(`SELECT count(*) FROM `+table+` WHERE workspace_id = $1`, tm.WS), table)
	}
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_logs WHERE workspace_id = $1`, tm.WS), "only the deletion's entry is kept")
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_logs WHERE workspace_id = $1 AND action = 'workspace.deleted'
		AND actor_id = $2 AND details->>'name' = 'Acme'`, tm.WS, tm.Owner.ID))
	require.Equal(t, 1, count(`SELECT count(*) FROM events WHERE workspace_id = $1`, tm.WS))

	var unsubscribed bool
	for _, c := range e.sb.Calls() {
		unsubscribed = unsubscribed || (c.Method == "DELETE" && strings.HasSuffix(c.Path, e.acct.WABAID+"/subscribed_apps") && c.Status == 200)
	}
	require.True(t, unsubscribed, "the app is unsubscribed from the number's WABA")
	requireNotInDatabase(t, a, e.acct.AccessToken)

	// Another workspace is untouched.
	require.Equal(t, "Globex", a.Must(t, 200, "GET", "/v1/workspaces/"+tm.OtherWS, tm.Outside.Token, nil)["name"])
	a.Must(t, 200, "GET", "/v1/workspaces/"+tm.OtherWS+"/contacts/"+otherContact, tm.Outside.Token, nil)
}
