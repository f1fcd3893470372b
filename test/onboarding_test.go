package test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/bootstrap"
)

// withSandbox starts a Meta sandbox and points the app's Graph URL at it.
func withSandbox(t testing.TB) (*sandbox.Sandbox, func(*bootstrap.Config)) {
	t.Helper()
	sb := sandbox.New(sandbox.Config{AppID: "test-app", AppSecret: "test-app-secret", StatusDelay: 10 * time.Millisecond})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return sb, func(c *bootstrap.Config) { c.MetaGraphURL = srv.URL }
}

func (a *App) waitNumber(t testing.TB, tm team, id, status string) map[string]any {
	t.Helper()
	var last map[string]any
	eventually(t, 20*time.Second, func() bool {
		last = a.Must(t, 200, "GET", wsPath(tm, "/whatsapp/phone-numbers/"+id), tm.Owner.Token, nil)
		return last["status"] == status
	}, "number should become "+status)
	return last
}

func TestConnectWithTokenReachesConnected(t *testing.T) {
	t.Parallel()
	sb, point := withSandbox(t)
	a := startApp(t, point)
	tm := newTeam(t, a)
	acct, err := sb.CreateAccount(sandbox.AccountOptions{DisplayPhoneNumber: "15550104567", VerifiedName: "Acme Support"})
	require.NoError(t, err)

	res := a.Must(t, 202, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, map[string]string{
		"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID, "pin": "123456"})
	num := res["phone_number"].(map[string]any)
	require.Equal(t, "connecting", num["status"])
	require.NotContains(t, string(a.Do(t, "GET", wsPath(tm, "/whatsapp/phone-numbers"), tm.Owner.Token, nil).Body), acct.AccessToken)

	got := a.waitNumber(t, tm, num["id"].(string), "connected")
	require.Equal(t, true, got["webhook_subscribed"])
	require.Equal(t, true, got["registered"])
	require.Equal(t, "Acme Support", got["verified_name"])
	require.NotEmpty(t, got["display_phone_number"])
	require.NotNil(t, got["last_synced_at"])
	require.Nil(t, got["failure_reason"])

	// Both Meta calls reached the sandbox.
	var subscribed, registered bool
	for _, c := range sb.Calls() {
		subscribed = subscribed || (c.Method == "POST" && strings.HasSuffix(c.Path, acct.WABAID+"/subscribed_apps") && c.Status == 200)
		registered = registered || (c.Method == "POST" && strings.HasSuffix(c.Path, acct.PhoneNumberID+"/register") && c.Status == 200)
	}
	require.True(t, subscribed, "app subscribed to the WABA")
	require.True(t, registered, "number registered")

	audit := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?action=whatsapp.connected"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, audit, 1)

	// Another workspace cannot claim the same number.
	other := a.Do(t, "POST", "/v1/workspaces/"+tm.OtherWS+"/whatsapp/connect", tm.Outside.Token, map[string]string{
		"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})
	require.Equal(t, 409, other.Status, string(other.Body))

	// A manual sync is queued and runs: the number's last sync moves past the request.
	before := time.Now().UTC()
	a.Must(t, 202, "POST", wsPath(tm, "/whatsapp/phone-numbers/"+num["id"].(string)+"/sync"), tm.Manager.Token, nil)
	eventually(t, 20*time.Second, func() bool {
		n := a.Must(t, 200, "GET", wsPath(tm, "/whatsapp/phone-numbers/"+num["id"].(string)), tm.Owner.Token, nil)
		s, _ := n["last_synced_at"].(string)
		synced, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err, "last_synced_at %q", s)
		return n["status"] == "connected" && synced.After(before)
	}, "the manual sync runs")
	// Agents may not connect numbers.
	require.Equal(t, 403, a.Do(t, "POST", wsPath(tm, "/whatsapp/connect"), tm.Agent.Token, map[string]string{"code": "x"}).Status)

	// The token is nowhere: not in any response above, not in the logs, not in the database.
	require.NotContains(t, a.Logs.String(), acct.AccessToken)
	requireNotInDatabase(t, a, acct.AccessToken)
}

func TestConnectWithEmbeddedSignupCode(t *testing.T) {
	t.Parallel()
	sb, point := withSandbox(t)
	a := startApp(t, point)
	tm := newTeam(t, a)
	acct, err := sb.CreateAccount(sandbox.AccountOptions{})
	require.NoError(t, err)
	num := a.Must(t, 202, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, map[string]string{"code": acct.Code})["phone_number"].(map[string]any)
	require.Equal(t, acct.PhoneNumberID, num["phone_number_id"])
	require.Equal(t, acct.WABAID, num["waba_id"])
	a.waitNumber(t, tm, num["id"].(string), "connected")
	// The code is single use.
	res := a.Do(t, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, map[string]string{"code": acct.Code})
	require.Equal(t, 422, res.Status, string(res.Body))
	require.NotContains(t, a.Logs.String(), acct.AccessToken)
	requireNotInDatabase(t, a, acct.AccessToken)
}

func TestConnectWithInvalidTokenFails(t *testing.T) {
	t.Parallel()
	sb, point := withSandbox(t)
	a := startApp(t, point)
	tm := newTeam(t, a)
	acct, err := sb.CreateAccount(sandbox.AccountOptions{})
	require.NoError(t, err)
	num := a.Must(t, 202, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, map[string]string{
		"access_token": "EAAS-not-a-real-token", "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})["phone_number"].(map[string]any)
	got := a.waitNumber(t, tm, num["id"].(string), "failed")
	require.Contains(t, got["failure_reason"], "190")
	require.Len(t, a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?action=whatsapp.connect_failed"), tm.Owner.Token, nil)["data"], 1)

	for _, body := range []map[string]string{{}, {"access_token": "x"}, {"code": "x", "access_token": "y"}, {"access_token": "x", "waba_id": "1", "phone_number_id": "abc"}, {"code": "x", "pin": "12345"}} {
		require.Equal(t, 422, a.Do(t, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, body).Status, "%v", body)
	}
}

// requireNotInDatabase searches every row of every table for s, as text and as the hex
// form bytea columns print in.
func requireNotInDatabase(t testing.TB, a *App, s string) {
	t.Helper()
	ctx := context.Background()
	rows, err := a.Pool.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, tables)
	for _, tbl := range tables {
		var n int
		require.NoError(t, a.Pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl+` t WHERE position($1 in t::text) > 0 OR position(encode(convert_to($1, 'UTF8'), 'hex') in t::text) > 0`, s).Scan(&n))
		require.Zero(t, n, "the secret appears in table %s", tbl)
	}
}
