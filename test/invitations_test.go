package test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// invite invites email to the team's workspace as the owner and returns the 201 body.
func (a *App) invite(t testing.TB, tm team, email, role string) map[string]any {
	t.Helper()
	return a.Must(t, 201, "POST", wsPath(tm, "/invitations"), tm.Owner.Token, map[string]string{"email": email, "role": role})
}

// signupAs signs up and logs in a user with the given email.
func (a *App) signupAs(t testing.TB, email, name string) user {
	t.Helper()
	body := a.Must(t, 201, "POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": password, "name": name})
	u := a.login(t, email, password)
	u.ID = body["user"].(map[string]any)["id"].(string)
	return u
}

func accept(token string) string { return "/v1/invitations/" + token + "/accept" }

func TestInvitations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := startApp(t)
	tm := newTeam(t, a)

	// An invitation to someone who signs up afterwards, with the email in another case.
	email := "Invitee-Ann@Example.com"
	inv := a.invite(t, tm, email, "manager")
	token, _ := inv["token"].(string)
	require.True(t, strings.HasPrefix(token, "wiv_"), "a token shown once: %v", inv)
	require.Equal(t, "invitee-ann@example.com", inv["email"])
	require.Equal(t, "manager", inv["role"])
	require.Equal(t, "pending", inv["status"])
	require.Equal(t, tm.Owner.ID, inv["invited_by"])
	created, err := time.Parse(time.RFC3339Nano, inv["created_at"].(string))
	require.NoError(t, err)
	expires, err := time.Parse(time.RFC3339Nano, inv["expires_at"].(string))
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, expires.Sub(created))

	// The mail went into the job table with the invitation, its text sealed: the token is
	// nowhere in plaintext.
	var mailArgs string
	require.NoError(t, a.Pool.QueryRow(ctx, `SELECT args::text FROM river_job WHERE kind = 'mail.send' AND args->>'to' = $1`,
		"invitee-ann@example.com").Scan(&mailArgs))
	require.Contains(t, mailArgs, "You are invited to Acme on WABA")
	require.NotContains(t, mailArgs, token)
	require.NotContains(t, mailArgs, strings.TrimPrefix(token, "wiv_"))

	// Listed without the token, newest first.
	other := a.invite(t, tm, "someone-else@example.com", "agent")
	list := a.Must(t, 200, "GET", wsPath(tm, "/invitations"), tm.Manager.Token, nil)["data"].([]any)
	require.Len(t, list, 2)
	require.Equal(t, other["id"], list[0].(map[string]any)["id"])
	require.Equal(t, inv["id"], list[1].(map[string]any)["id"])
	for _, it := range list {
		require.NotContains(t, it, "token")
		require.Equal(t, "pending", it.(map[string]any)["status"])
	}
	requireBadPaging(t, a, wsPath(tm, "/invitations"), tm.Owner.Token)

	ann := a.signupAs(t, email, "Ann")
	// Another signed-up user cannot accept it, nor an API key.
	res := a.Do(t, "POST", accept(token), tm.Outside.Token, nil)
	require.Equal(t, 403, res.Status, "%s", res.Body)
	require.Equal(t, "forbidden", res.Code(t))
	key := a.Must(t, 201, "POST", wsPath(tm, "/api-keys"), tm.Owner.Token, map[string]string{"name": "ci", "role": "owner"})["key"].(string)
	require.Equal(t, 403, a.Do(t, "POST", accept(token), key, nil).Status)
	require.Equal(t, 401, a.Do(t, "POST", accept(token), "", nil).Status, "a bearer token is needed")

	m := a.Must(t, 200, "POST", accept(token), ann.Token, nil)
	require.Equal(t, map[string]any{"workspace_id": tm.WS, "workspace_name": "Acme", "role": "manager"}, m)
	memberships := a.Must(t, 200, "GET", "/v1/me", ann.Token, nil)["memberships"].([]any)
	require.Contains(t, memberships, map[string]any{"workspace_id": tm.WS, "workspace_name": "Acme", "role": "manager"})
	a.Must(t, 200, "GET", wsPath(tm, "/members"), ann.Token, nil) // as a manager now

	// Single use, and no longer listed.
	res = a.Do(t, "POST", accept(token), ann.Token, nil)
	require.Equal(t, 404, res.Status)
	require.Equal(t, "not_found", res.Code(t))
	list = a.Must(t, 200, "GET", wsPath(tm, "/invitations"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, other["id"], list[0].(map[string]any)["id"])

	// A current member cannot be invited.
	require.Equal(t, "conflict", a.Do(t, "POST", wsPath(tm, "/invitations"), tm.Owner.Token,
		map[string]string{"email": tm.Agent.Email, "role": "viewer"}).Code(t))
	// The add-member rules: a manager invites neither managers nor owners; a viewer nobody.
	require.Equal(t, 403, a.Do(t, "POST", wsPath(tm, "/invitations"), tm.Manager.Token, map[string]string{"email": "x@example.com", "role": "manager"}).Status)
	require.Equal(t, 403, a.Do(t, "POST", wsPath(tm, "/invitations"), tm.Viewer.Token, map[string]string{"email": "x@example.com", "role": "viewer"}).Status)
	require.Equal(t, 422, a.Do(t, "POST", wsPath(tm, "/invitations"), tm.Owner.Token, map[string]string{"email": "x", "role": "viewer"}).Status)

	// Revoked: 204, then its token is not found, and it is gone from the list.
	bob := a.signup(t, "bob")
	revoked := a.invite(t, tm, bob.Email, "agent")
	a.Must(t, 204, "DELETE", wsPath(tm, "/invitations/"+revoked["id"].(string)), tm.Manager.Token, nil)
	require.Equal(t, 404, a.Do(t, "POST", accept(revoked["token"].(string)), bob.Token, nil).Status)
	require.Equal(t, 404, a.Do(t, "DELETE", wsPath(tm, "/invitations/"+revoked["id"].(string)), tm.Owner.Token, nil).Status, "once")

	// A new invitation to the same email replaces the open one: only the newest token works.
	first := a.invite(t, tm, bob.Email, "viewer")
	second := a.invite(t, tm, bob.Email, "agent")
	require.Equal(t, 404, a.Do(t, "POST", accept(first["token"].(string)), bob.Token, nil).Status)

	// An invitation id of workspace A under workspace B is not found there, and stays.
	otherWS := "/v1/workspaces/" + tm.OtherWS + "/invitations/" + second["id"].(string)
	require.Equal(t, 404, a.Do(t, "DELETE", otherWS, tm.Outside.Token, nil).Status)
	require.Empty(t, a.Must(t, 200, "GET", "/v1/workspaces/"+tm.OtherWS+"/invitations", tm.Outside.Token, nil)["data"])
	require.Equal(t, "agent", a.Must(t, 200, "POST", accept(second["token"].(string)), bob.Token, nil)["role"])

	// After 7 days an invitation has expired: listed as such until revoked, not accepted.
	carl := a.signup(t, "carl")
	late := a.invite(t, tm, carl.Email, "viewer")
	a.Clock.Advance(7*24*time.Hour + time.Minute)
	// Their access tokens expired too.
	tm.Owner.Token, carl.Token = a.login(t, tm.Owner.Email, password).Token, a.login(t, carl.Email, password).Token
	list = a.Must(t, 200, "GET", wsPath(tm, "/invitations"), tm.Owner.Token, nil)["data"].([]any)
	require.Equal(t, late["id"], list[0].(map[string]any)["id"])
	require.Equal(t, "expired", list[0].(map[string]any)["status"])
	require.Equal(t, 404, a.Do(t, "POST", accept(late["token"].(string)), carl.Token, nil).Status)

	// The three actions are in the audit trail, the acceptance as the invitee's.
	var actions []string
	rows, err := a.Pool.Query(ctx, `SELECT action || ':' || actor_id FROM audit_logs WHERE workspace_id = $1 AND action LIKE 'invitation.%'`, tm.WS)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		actions = append(actions, s)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, actions, "invitation.created:"+tm.Owner.ID)
	require.Contains(t, actions, "invitation.revoked:"+tm.Manager.ID)
	require.Contains(t, actions, "invitation.accepted:"+ann.ID)
	require.Contains(t, actions, "invitation.accepted:"+bob.ID)
	require.Equal(t, 2, countPrefix(actions, "invitation.accepted:"))
	require.Equal(t, 2, countPrefix(actions, "invitation.revoked:"), "the revoke and the replacement")

	// The development mailer logged the mail with its link (that is its job); no other log
	// line carried a token.
	eventually(t, 20*time.Second, func() bool { return strings.Contains(a.Logs.String(), "/invitations/accept?token="+token) },
		"the invitation mail should go out (to the log without SMTP_URL)")
	for _, tok := range []string{token, first["token"].(string), second["token"].(string), late["token"].(string)} {
		require.NotContains(t, logsButMail(a), tok)
	}
}

// logsButMail is the app's log without the development mailer's lines, which hold the
// links they would have mailed.
func logsButMail(a *App) string {
	lines := strings.Split(a.Logs.String(), "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, "mail not sent") }), "\n")
}

func countPrefix(ss []string, prefix string) int {
	return len(slices.DeleteFunc(slices.Clone(ss), func(s string) bool { return !strings.HasPrefix(s, prefix) }))
}

// The accept path carries the token: the request log writes the route instead, whatever
// the answer (accepted, refused, unknown, wrong method), and so does the problem document.
func TestInvitationTokenStaysOutOfTheLogs(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	u := a.signup(t, "invitee")
	token := a.invite(t, tm, u.Email, "agent")["token"].(string)

	res := a.Do(t, "POST", accept(token), tm.Outside.Token, nil) // 403
	require.Equal(t, 403, res.Status)
	require.NotContains(t, string(res.Body), token)
	require.Equal(t, "/v1/invitations/:token/accept", res.JSON(t)["instance"])
	require.Equal(t, 405, a.Do(t, "GET", accept(token), u.Token, nil).Status)
	require.Equal(t, 401, a.Do(t, "POST", accept(token), "", nil).Status)
	a.Must(t, 200, "POST", accept(token), u.Token, nil)
	require.Equal(t, 404, a.Do(t, "POST", accept(token), u.Token, nil).Status)
	require.Equal(t, 404, a.Do(t, "POST", accept("wiv_unknown"), u.Token, nil).Status)

	logs := logsButMail(a)
	require.Contains(t, logs, "/v1/invitations/:token/accept", "the requests were logged, by route")
	require.NotContains(t, logs, token)
	require.NotContains(t, logs, "wiv_unknown")
}
