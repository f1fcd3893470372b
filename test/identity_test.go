package test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/httpconsole"
	"github.com/wabaplatform/waba/domain"
)

var userSeq atomic.Int64

// user is a signed-up, logged-in user: Token is the access token, Refresh the session's
// refresh token.
type user struct {
	ID, Email, Token, Refresh string
}

func (a *App) signup(t testing.TB, name string) user {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", name, userSeq.Add(1))
	body := a.Must(t, 201, "POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": "correct horse battery", "name": name})
	u := user{ID: body["user"].(map[string]any)["id"].(string), Email: email}
	login := a.Must(t, 200, "POST", "/v1/auth/login", "", map[string]string{"email": email, "password": "correct horse battery"})
	u.Token, u.Refresh = login["access_token"].(string), login["refresh_token"].(string)
	return u
}

func (a *App) createWorkspace(t testing.TB, owner user, name string) string {
	t.Helper()
	return a.Must(t, 201, "POST", "/v1/workspaces", owner.Token, map[string]string{"name": name})["id"].(string)
}

func (a *App) addMember(t testing.TB, ws string, by user, role string) user {
	t.Helper()
	u := a.signup(t, role)
	a.Must(t, 201, "POST", "/v1/workspaces/"+ws+"/members", by.Token, map[string]string{"email": u.Email, "role": role})
	return u
}

// team is a workspace with one member of each role, and an outsider who owns another.
type team struct {
	WS, OtherWS                            string
	Owner, Manager, Agent, Viewer, Outside user
}

func newTeam(t testing.TB, a *App) team {
	t.Helper()
	tm := team{Owner: a.signup(t, "owner")}
	tm.WS = a.createWorkspace(t, tm.Owner, "Acme")
	tm.Manager = a.addMember(t, tm.WS, tm.Owner, "manager")
	tm.Agent = a.addMember(t, tm.WS, tm.Owner, "agent")
	tm.Viewer = a.addMember(t, tm.WS, tm.Owner, "viewer")
	tm.Outside = a.signup(t, "outsider")
	tm.OtherWS = a.createWorkspace(t, tm.Outside, "Globex")
	return tm
}

func (tm team) byRole(role string) user {
	return map[string]user{"owner": tm.Owner, "manager": tm.Manager, "agent": tm.Agent, "viewer": tm.Viewer}[role]
}

var phoneSeq atomic.Int64

// nextPhone is a fresh number in +1415557xxxx, a range none of the tests' fixed numbers
// (+14155550100 and its neighbours) is in, so a fresh one never meets a fixed one.
func nextPhone() string { return fmt.Sprintf("+1415557%04d", phoneSeq.Add(1)%10000) }

// contact creates a contact as the owner, assigned to assignee ("" for nobody).
func (a *App) contact(t testing.TB, tm team, ws string, owner user, assignee string) string {
	t.Helper()
	body := map[string]any{"phone": nextPhone(), "name": "Customer"}
	if assignee != "" {
		body["assigned_to"] = assignee
	}
	return a.Must(t, 201, "POST", "/v1/workspaces/"+ws+"/contacts", owner.Token, body)["id"].(string)
}

// routeCase is one row of the permission matrix: who may call a route and with what the
// call is prepared (a fresh target per call, so destructive routes can be tried by all).
type routeCase struct {
	allowed []string
	ok      int
	prepare func(t *testing.T, a *App, tm team, role string) (path string, body any)
}

func wsPath(tm team, p string) string { return "/v1/workspaces/" + tm.WS + p }

func matrix() map[string]routeCase {
	all := []string{"owner", "manager", "agent", "viewer"}
	admins := []string{"owner", "manager"}
	staff := []string{"owner", "manager", "agent"}
	readers := []string{"owner", "manager", "viewer"}
	const unknownID = "0190a0a0-0000-7000-8000-000000000000"
	static := func(p string, body any) func(*testing.T, *App, team, string) (string, any) {
		return func(_ *testing.T, _ *App, tm team, _ string) (string, any) { return wsPath(tm, p), body }
	}
	// a contact the caller can see: agents only see contacts assigned to them.
	visible := func(suffix string, body any) func(*testing.T, *App, team, string) (string, any) {
		return func(t *testing.T, a *App, tm team, role string) (string, any) {
			assignee := ""
			if role == "agent" {
				assignee = tm.Agent.ID
			}
			return wsPath(tm, "/contacts/"+a.contact(t, tm, tm.WS, tm.Owner, assignee)+suffix), body
		}
	}
	// a conversation the caller can see: an agent's own, or an unassigned one (mine false).
	conversation := func(suffix string, mine bool, body any) func(*testing.T, *App, team, string) (string, any) {
		return func(t *testing.T, a *App, tm team, role string) (string, any) {
			assignee := ""
			if role == "agent" && mine {
				assignee = tm.Agent.ID
			}
			ct := a.contact(t, tm, tm.WS, tm.Owner, assignee)
			id := domain.NewID().String()
			_, err := a.Pool.Exec(context.Background(), `INSERT INTO conversations (workspace_id, id, contact_id, phone_number_id,
				assigned_to, last_message_at, created_at, updated_at) VALUES ($1, $2, $3, '1065', nullif($4, '')::uuid, now(), now(), now())`,
				tm.WS, id, ct, assignee)
			require.NoError(t, err)
			return wsPath(tm, "/conversations/"+id+suffix), body
		}
	}
	// a keyword rule of the workspace, made by the owner.
	rule := func(body any) func(*testing.T, *App, team, string) (string, any) {
		return func(t *testing.T, a *App, tm team, _ string) (string, any) {
			id := a.Must(t, 201, "POST", wsPath(tm, "/automation/rules"), tm.Owner.Token, map[string]any{"name": "r", "match": "exact",
				"keywords": []string{"hi"}, "actions": []any{map[string]any{"type": "add_tag", "tag": "t"}}})["id"].(string)
			return wsPath(tm, "/automation/rules/"+id), body
		}
	}
	freshAgent := func(t *testing.T, a *App, tm team, _ string) string {
		return a.addMember(t, tm.WS, tm.Owner, "agent").ID
	}
	return map[string]routeCase{
		"GET /v1/workspaces/:ws":   {all, 200, static("", nil)},
		"PATCH /v1/workspaces/:ws": {admins, 200, static("", map[string]any{"name": "Acme Ltd"})},
		// A wrong name: the owner reaches the confirmation (422) and the workspace stays for
		// the other rows; others stop at 403.
		"DELETE /v1/workspaces/:ws":                 {[]string{"owner"}, 422, static("", map[string]any{"confirm": "not the name"})},
		"GET /v1/workspaces/:ws/members":            {admins, 200, static("/members", nil)},
		"GET /v1/workspaces/:ws/settings/messaging": {all, 200, static("/settings/messaging", nil)},
		"PUT /v1/workspaces/:ws/settings/messaging": {admins, 200, static("/settings/messaging", map[string]any{
			"marketing_per_contact_per_day": 2, "marketing_per_contact_per_week": 6, "opt_out_keywords": []string{}, "opt_in_keywords": []string{}})},
		"POST /v1/workspaces/:ws/members": {admins, 201, func(t *testing.T, a *App, tm team, _ string) (string, any) {
			return wsPath(tm, "/members"), map[string]string{"email": a.signup(t, "new").Email, "role": "agent"}
		}},
		"PATCH /v1/workspaces/:ws/members/:user_id": {admins, 200, func(t *testing.T, a *App, tm team, r string) (string, any) {
			return wsPath(tm, "/members/"+freshAgent(t, a, tm, r)), map[string]string{"role": "viewer"}
		}},
		"DELETE /v1/workspaces/:ws/members/:user_id": {admins, 204, func(t *testing.T, a *App, tm team, r string) (string, any) {
			return wsPath(tm, "/members/"+freshAgent(t, a, tm, r)), nil
		}},
		"POST /v1/workspaces/:ws/api-keys": {admins, 201, static("/api-keys", map[string]string{"name": "ci", "role": "viewer"})},
		"GET /v1/workspaces/:ws/api-keys":  {admins, 200, static("/api-keys", nil)},
		"DELETE /v1/workspaces/:ws/api-keys/:id": {admins, 204, func(t *testing.T, a *App, tm team, _ string) (string, any) {
			k := a.Must(t, 201, "POST", wsPath(tm, "/api-keys"), tm.Owner.Token, map[string]string{"name": "tmp", "role": "viewer"})
			return wsPath(tm, "/api-keys/"+k["id"].(string)), nil
		}},
		// A manager may invite to and revoke the agent role (only an owner the owner and manager roles).
		"POST /v1/workspaces/:ws/invitations": {admins, 201, func(_ *testing.T, _ *App, tm team, _ string) (string, any) {
			return wsPath(tm, "/invitations"), map[string]string{"email": fmt.Sprintf("invitee-%d@example.com", userSeq.Add(1)), "role": "agent"}
		}},
		"GET /v1/workspaces/:ws/invitations": {admins, 200, static("/invitations", nil)},
		"DELETE /v1/workspaces/:ws/invitations/:id": {admins, 204, func(t *testing.T, a *App, tm team, _ string) (string, any) {
			inv := a.Must(t, 201, "POST", wsPath(tm, "/invitations"), tm.Owner.Token, map[string]string{"email": fmt.Sprintf("invitee-%d@example.com", userSeq.Add(1)), "role": "agent"})
			return wsPath(tm, "/invitations/"+inv["id"].(string)), nil
		}},
		"POST /v1/workspaces/:ws/contacts": {staff, 201, func(*testing.T, *App, team, string) (string, any) {
			return "", map[string]any{"phone": nextPhone()}
		}},
		"GET /v1/workspaces/:ws/contacts":              {all, 200, static("/contacts", nil)},
		"GET /v1/workspaces/:ws/contacts/:id":          {all, 200, visible("", nil)},
		"PATCH /v1/workspaces/:ws/contacts/:id":        {staff, 200, visible("", map[string]any{"name": "Renamed"})},
		"DELETE /v1/workspaces/:ws/contacts/:id":       {staff, 204, visible("", nil)},
		"POST /v1/workspaces/:ws/contacts/:id/opt-out": {staff, 200, visible("/opt-out", nil)},
		"POST /v1/workspaces/:ws/contacts/:id/opt-in":  {staff, 200, visible("/opt-in", nil)},
		// The imported number is outside nextPhone's, which later rows create in the workspace.
		"POST /v1/workspaces/:ws/contacts/import":       {admins, 200, static("/contacts/import", CSV("phone,name\n+14155560199,Imported\n"))},
		"GET /v1/workspaces/:ws/audit-logs":             {admins, 200, static("/audit-logs", nil)},
		"GET /v1/workspaces/:ws/audit-logs/export":      {admins, 200, static("/audit-logs/export", nil)},
		"GET /v1/workspaces/:ws/whatsapp/phone-numbers": {readers, 200, static("/whatsapp/phone-numbers", nil)},
		// Connect with a malformed body: allowed roles reach validation (422), others stop at 403.
		"POST /v1/workspaces/:ws/whatsapp/connect": {admins, 422, static("/whatsapp/connect", map[string]any{"pin": "12"})},
		// An unknown number id: allowed roles reach the lookup (404), others stop at 403.
		"GET /v1/workspaces/:ws/whatsapp/phone-numbers/:id":           {readers, 404, static("/whatsapp/phone-numbers/"+unknownID, nil)},
		"POST /v1/workspaces/:ws/whatsapp/phone-numbers/:id/sync":     {admins, 404, static("/whatsapp/phone-numbers/"+unknownID+"/sync", nil)},
		"POST /v1/workspaces/:ws/webhook-endpoints":                   {admins, 422, static("/webhook-endpoints", map[string]any{"url": "ftp://x"})},
		"GET /v1/workspaces/:ws/webhook-endpoints":                    {readers, 200, static("/webhook-endpoints", nil)},
		"GET /v1/workspaces/:ws/webhook-endpoints/:id":                {readers, 404, static("/webhook-endpoints/"+unknownID, nil)},
		"PATCH /v1/workspaces/:ws/webhook-endpoints/:id":              {admins, 404, static("/webhook-endpoints/"+unknownID, map[string]any{"description": "x"})},
		"DELETE /v1/workspaces/:ws/webhook-endpoints/:id":             {admins, 404, static("/webhook-endpoints/"+unknownID, nil)},
		"POST /v1/workspaces/:ws/webhook-endpoints/:id/rotate-secret": {admins, 404, static("/webhook-endpoints/"+unknownID+"/rotate-secret", nil)},
		"POST /v1/workspaces/:ws/webhook-endpoints/:id/test":          {admins, 404, static("/webhook-endpoints/"+unknownID+"/test", nil)},
		"GET /v1/workspaces/:ws/webhook-endpoints/:id/deliveries":     {readers, 404, static("/webhook-endpoints/"+unknownID+"/deliveries", nil)},
		"POST /v1/workspaces/:ws/webhook-deliveries/:id/retry":        {admins, 404, static("/webhook-deliveries/"+unknownID+"/retry", nil)},
		"GET /v1/workspaces/:ws/templates":                            {all, 200, static("/templates", nil)},
		"POST /v1/workspaces/:ws/templates":                           {admins, 422, static("/templates", map[string]any{"name": "x"})},
		"POST /v1/workspaces/:ws/templates/sync":                      {admins, 202, static("/templates/sync", nil)},
		"GET /v1/workspaces/:ws/templates/:id":                        {all, 404, static("/templates/"+unknownID, nil)},
		"DELETE /v1/workspaces/:ws/templates/:id":                     {admins, 404, static("/templates/"+unknownID, nil)},
		// Campaigns: viewers read; agents have no campaign permission at all.
		"GET /v1/workspaces/:ws/campaigns":                {readers, 200, static("/campaigns", nil)},
		"POST /v1/workspaces/:ws/campaigns":               {admins, 422, static("/campaigns", map[string]any{"name": ""})},
		"GET /v1/workspaces/:ws/campaigns/:id":            {readers, 404, static("/campaigns/"+unknownID, nil)},
		"PATCH /v1/workspaces/:ws/campaigns/:id":          {admins, 404, static("/campaigns/"+unknownID, map[string]any{"name": "x"})},
		"POST /v1/workspaces/:ws/campaigns/:id/launch":    {admins, 404, static("/campaigns/"+unknownID+"/launch", nil)},
		"POST /v1/workspaces/:ws/campaigns/:id/pause":     {admins, 404, static("/campaigns/"+unknownID+"/pause", nil)},
		"POST /v1/workspaces/:ws/campaigns/:id/resume":    {admins, 404, static("/campaigns/"+unknownID+"/resume", nil)},
		"POST /v1/workspaces/:ws/campaigns/:id/cancel":    {admins, 404, static("/campaigns/"+unknownID+"/cancel", nil)},
		"GET /v1/workspaces/:ws/campaigns/:id/recipients": {readers, 404, static("/campaigns/"+unknownID+"/recipients", nil)},

		// A recipient list is an edit of the campaign; its export a read.
		"POST /v1/workspaces/:ws/campaigns/:id/recipients":       {admins, 404, static("/campaigns/"+unknownID+"/recipients", CSV("phone\n+14155560198\n"))},
		"GET /v1/workspaces/:ws/campaigns/:id/recipients/export": {readers, 404, static("/campaigns/"+unknownID+"/recipients/export", nil)},

		// Billing is read by owners, managers and viewers; an estimate is a read (422: empty).
		"GET /v1/workspaces/:ws/billing":              {readers, 200, static("/billing", nil)},
		"GET /v1/workspaces/:ws/billing/usage":        {readers, 200, static("/billing/usage", nil)},
		"GET /v1/workspaces/:ws/billing/usage/export": {readers, 200, static("/billing/usage/export", nil)},
		"GET /v1/workspaces/:ws/billing/transactions": {readers, 200, static("/billing/transactions", nil)},
		"POST /v1/workspaces/:ws/billing/estimate":    {readers, 422, static("/billing/estimate", map[string]any{})},
		// A send to a visible contact in a workspace without a number: allowed roles pass the
		// permission and quota checks and stop at 409 whatsapp_not_connected, others at 403.
		"POST /v1/workspaces/:ws/messages": {staff, 409, func(t *testing.T, a *App, tm team, role string) (string, any) {
			p, _ := visible("", nil)(t, a, tm, role)
			return wsPath(tm, "/messages"), map[string]any{"to": p[strings.LastIndex(p, "/")+1:], "type": "text", "text": map[string]string{"body": "hi"}}
		}},
		"GET /v1/workspaces/:ws/messages/:id":          {all, 404, static("/messages/"+unknownID, nil)},
		"GET /v1/workspaces/:ws/contacts/:id/messages": {all, 200, visible("/messages", nil)},
		// An upload that is no multipart body: the allowed pass the permission check and stop
		// at 422; a file that is not there is 404 to every reader.
		"POST /v1/workspaces/:ws/media":            {staff, 422, static("/media", "not a multipart body")},
		"GET /v1/workspaces/:ws/media/:id/content": {all, 404, static("/media/"+unknownID+"/content", nil)},

		"GET /v1/workspaces/:ws/conversations":              {all, 200, static("/conversations?view=unassigned&status=open&q=cust", nil)},
		"GET /v1/workspaces/:ws/conversations/:id":          {all, 200, conversation("", true, nil)},
		"GET /v1/workspaces/:ws/conversations/:id/messages": {all, 200, conversation("/messages", true, nil)},
		// An unassigned conversation given to the agent: owners and managers assign anyone,
		// the agent takes it for themselves.
		"POST /v1/workspaces/:ws/conversations/:id/assign": {staff, 200, func(t *testing.T, a *App, tm team, role string) (string, any) {
			p, _ := conversation("/assign", false, nil)(t, a, tm, role)
			return p, map[string]any{"user_id": tm.Agent.ID}
		}},
		"POST /v1/workspaces/:ws/conversations/:id/status": {staff, 200, conversation("/status", true, map[string]string{"status": "resolved"})},
		"POST /v1/workspaces/:ws/conversations/:id/read":   {staff, 200, conversation("/read", true, nil)},
		"GET /v1/workspaces/:ws/conversations/:id/notes":   {all, 200, conversation("/notes", true, nil)},
		"POST /v1/workspaces/:ws/conversations/:id/notes":  {staff, 201, conversation("/notes", true, map[string]string{"body": "note"})},
		"GET /v1/workspaces/:ws/settings/inbox":            {all, 200, static("/settings/inbox", nil)},
		"GET /v1/workspaces/:ws/events":                    {all, 200, static("/events", nil)},
		"POST /v1/workspaces/:ws/events/tickets":           {all, 201, static("/events/tickets", nil)},
		"PUT /v1/workspaces/:ws/settings/inbox":            {admins, 200, static("/settings/inbox", map[string]string{"auto_assign": "off"})},
		"PATCH /v1/workspaces/:ws/members/me":              {staff, 200, static("/members/me", map[string]bool{"available": true})},
		"GET /v1/workspaces/:ws/settings/working-hours":    {readers, 200, static("/settings/working-hours", nil)},
		"PUT /v1/workspaces/:ws/settings/working-hours": {admins, 200, static("/settings/working-hours", map[string]any{
			"timezone": "Europe/Madrid", "days": map[string]any{"mon": []any{map[string]string{"from": "09:00", "to": "18:00"}}}})},
		"GET /v1/workspaces/:ws/automation/away":         {readers, 200, static("/automation/away", nil)},
		"PUT /v1/workspaces/:ws/automation/away":         {admins, 200, static("/automation/away", map[string]any{"enabled": true, "text": "Closed"})},
		"GET /v1/workspaces/:ws/automation/welcome":      {readers, 200, static("/automation/welcome", nil)},
		"PUT /v1/workspaces/:ws/automation/welcome":      {admins, 200, static("/automation/welcome", map[string]any{"enabled": false, "text": ""})},
		"GET /v1/workspaces/:ws/automation/rules":        {readers, 200, static("/automation/rules", nil)},
		"POST /v1/workspaces/:ws/automation/rules":       {admins, 201, static("/automation/rules", map[string]any{"name": "r", "match": "contains", "keywords": []string{"x"}, "actions": []any{map[string]any{"type": "reply_text", "text": "y"}}})},
		"POST /v1/workspaces/:ws/automation/rules/test":  {readers, 200, static("/automation/rules/test", map[string]string{"text": "hi"})},
		"GET /v1/workspaces/:ws/automation/rules/:id":    {readers, 200, rule(nil)},
		"PATCH /v1/workspaces/:ws/automation/rules/:id":  {admins, 200, rule(map[string]any{"priority": 3})},
		"DELETE /v1/workspaces/:ws/automation/rules/:id": {admins, 204, rule(nil)},
	}
}

// Routes outside a workspace, checked separately below.
var nonWorkspaceRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /v1/openapi.json": true,
	"POST /v1/auth/signup": true, "POST /v1/auth/login": true, "GET /v1/me": true, "POST /v1/workspaces": true,
	"POST /v1/auth/refresh": true, "POST /v1/auth/logout": true, "PUT /v1/me/password": true,
	"POST /v1/auth/password-reset": true, "POST /v1/auth/password-reset/confirm": true,
	"POST /v1/invitations/:token/accept": true, // test/invitations_test.go
}

// Every registered route is tried with no token, a bad token, a member of another
// workspace, and each role; a route missing from the table fails the test.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	m := matrix()

	registered := map[string]bool{}
	for _, r := range a.Echo.Routes() {
		key := r.Method + " " + r.Path
		registered[key] = true
		// The web console's pages are files for browsers, open to all (adapters/httpconsole).
		if nonWorkspaceRoutes[key] || strings.HasPrefix(r.Path, "/webhooks/") || strings.HasPrefix(r.Path, "/admin") ||
			slices.Contains(httpconsole.Pages, r.Path) || strings.HasPrefix(r.Path, "/console/") {
			continue
		}
		rc, ok := m[key]
		require.True(t, ok, "route %s has no row in the permission matrix (test/identity_test.go)", key)
		t.Run(key, func(t *testing.T) {
			path, body := rc.prepare(t, a, tm, "owner")
			if path == "" {
				path = wsPath(tm, strings.TrimPrefix(strings.SplitN(r.Path, ":ws", 2)[1], ""))
			}
			require.Equal(t, 401, a.Do(t, r.Method, path, "", body).Status, "no token")
			require.Equal(t, 401, a.Do(t, r.Method, path, "not-a-token", body).Status, "bad token")
			require.Equal(t, 401, a.Do(t, r.Method, path, "wsk_forged", body).Status, "unknown api key")
			require.Equal(t, 403, a.Do(t, r.Method, path, tm.Outside.Token, body).Status, "member of another workspace")
			for _, role := range []string{"owner", "manager", "agent", "viewer"} {
				path, body := rc.prepare(t, a, tm, role)
				if path == "" {
					path = wsPath(tm, strings.SplitN(r.Path, ":ws", 2)[1])
				}
				want := 403
				for _, al := range rc.allowed {
					if al == role {
						want = rc.ok
					}
				}
				res := a.Do(t, r.Method, path, tm.byRole(role).Token, body)
				require.Equal(t, want, res.Status, "%s as %s: %s", key, role, res.Body)
			}
		})
	}
	// A row (or exemption) for a route that was renamed or removed would never be tried.
	for key := range m {
		require.True(t, registered[key], "the permission matrix row %s matches no registered route", key)
	}
	for key := range nonWorkspaceRoutes {
		require.True(t, registered[key], "nonWorkspaceRoutes lists %s, which is not a registered route", key)
	}

	require.Equal(t, 401, a.Do(t, "GET", "/v1/me", "", nil).Status)
	me := a.Must(t, 200, "GET", "/v1/me", tm.Agent.Token, nil)
	require.Equal(t, "agent", me["memberships"].([]any)[0].(map[string]any)["role"])
	require.Equal(t, 401, a.Do(t, "POST", "/v1/workspaces", "", map[string]string{"name": "x"}).Status)
}

func TestRoleRules(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)

	// No member changes the plan (TestPlanIsTheOperators); a manager may rename.
	require.Equal(t, 403, a.Do(t, "PATCH", wsPath(tm, ""), tm.Manager.Token, map[string]string{"plan": "pro"}).Status)
	require.Equal(t, "Acme Ltd", a.Must(t, 200, "PATCH", wsPath(tm, ""), tm.Manager.Token, map[string]string{"name": "Acme Ltd"})["name"])
	require.Equal(t, 422, a.Do(t, "PATCH", wsPath(tm, ""), tm.Owner.Token, map[string]string{"name": ""}).Status)

	// Only an owner grants owner or manager.
	u := a.signup(t, "cand")
	require.Equal(t, 403, a.Do(t, "POST", wsPath(tm, "/members"), tm.Manager.Token, map[string]string{"email": u.Email, "role": "manager"}).Status)
	require.Equal(t, 403, a.Do(t, "PATCH", wsPath(tm, "/members/"+tm.Agent.ID), tm.Manager.Token, map[string]string{"role": "owner"}).Status)
	require.Equal(t, 404, a.Do(t, "POST", wsPath(tm, "/members"), tm.Owner.Token, map[string]string{"email": "nobody@example.com", "role": "agent"}).Status)
	require.Equal(t, 409, a.Do(t, "POST", wsPath(tm, "/members"), tm.Owner.Token, map[string]string{"email": tm.Agent.Email, "role": "agent"}).Status)

	// The last owner can be neither demoted nor removed.
	res := a.Do(t, "PATCH", wsPath(tm, "/members/"+tm.Owner.ID), tm.Owner.Token, map[string]string{"role": "manager"})
	require.Equal(t, 409, res.Status)
	require.Equal(t, "last_owner", res.Code(t))
	require.Equal(t, "last_owner", a.Do(t, "DELETE", wsPath(tm, "/members/"+tm.Owner.ID), tm.Owner.Token, nil).Code(t))
	// With a second owner, the first may step down.
	a.Must(t, 200, "PATCH", wsPath(tm, "/members/"+tm.Manager.ID), tm.Owner.Token, map[string]string{"role": "owner"})
	a.Must(t, 200, "PATCH", wsPath(tm, "/members/"+tm.Owner.ID), tm.Owner.Token, map[string]string{"role": "viewer"})

	// An API key cannot carry a role above its creator's.
	require.Equal(t, 403, a.Do(t, "POST", wsPath(tm, "/api-keys"), tm.Owner.Token /* now a viewer */, map[string]string{"name": "k", "role": "viewer"}).Status)
}

func TestSignupAndLoginValidation(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	res := a.Do(t, "POST", "/v1/auth/signup", "", map[string]string{"email": "nope", "password": "short", "name": ""})
	require.Equal(t, 422, res.Status)
	require.Equal(t, "validation_failed", res.Code(t))
	fields := map[string]bool{}
	for _, e := range res.JSON(t)["errors"].([]any) {
		fields[e.(map[string]any)["field"].(string)] = true
	}
	require.Equal(t, map[string]bool{"email": true, "password": true, "name": true}, fields)
	require.Equal(t, 400, a.Do(t, "POST", "/v1/auth/signup", "", "{not json").Status)

	u := a.signup(t, "ana")
	res = a.Do(t, "POST", "/v1/auth/signup", "", map[string]string{"email": strings.ToUpper(u.Email), "password": "another long one", "name": "Ana"})
	require.Equal(t, 409, res.Status)
	require.Equal(t, "email_taken", res.Code(t))

	wrong := a.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.Email, "password": "wrong password!"})
	unknown := a.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ghost@example.com", "password": "wrong password!"})
	require.Equal(t, 401, wrong.Status)
	require.Equal(t, 401, unknown.Status)
	require.Equal(t, "invalid_credentials", wrong.Code(t))
	require.Equal(t, wrong.JSON(t)["detail"], unknown.JSON(t)["detail"])
	// Email is case-insensitive at login too.
	a.Must(t, 200, "POST", "/v1/auth/login", "", map[string]string{"email": strings.ToUpper(u.Email), "password": "correct horse battery"})
}

func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "victim")
	bad := map[string]string{"email": u.Email, "password": "guess guess guess"}
	for i := 0; i < 10; i++ {
		res := a.Do(t, "POST", "/v1/auth/login", "", bad)
		require.Equal(t, 401, res.Status, "attempt %d", i+1)
		require.Equal(t, "10", res.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, fmt.Sprint(9-i), res.Header.Get("X-RateLimit-Remaining"), "attempt %d", i+1)
		require.NotEmpty(t, res.Header.Get("X-RateLimit-Reset"))
	}
	res := a.Do(t, "POST", "/v1/auth/login", "", bad)
	require.Equal(t, 429, res.Status)
	require.Equal(t, "rate_limited", res.Code(t))
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	require.Equal(t, "0", res.Header.Get("X-RateLimit-Remaining"))
	// Even the right password waits for the window: the account is being guessed at.
	require.Equal(t, 429, a.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.Email, "password": "correct horse battery"}).Status)

	var n int
	require.NoError(t, a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_logs WHERE action = 'auth.login_failed' AND details->>'email' = $1`, u.Email).Scan(&n))
	require.Equal(t, 10, n)
}

func TestAgentSeesOnlyAssignedContacts(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	mine := a.contact(t, tm, tm.WS, tm.Owner, tm.Agent.ID)
	other := a.contact(t, tm, tm.WS, tm.Owner, "")

	list := a.Must(t, 200, "GET", wsPath(tm, "/contacts"), tm.Agent.Token, nil)["data"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, mine, list[0].(map[string]any)["id"])
	// Filtering by another assignee does not widen the view.
	require.Empty(t, a.Must(t, 200, "GET", wsPath(tm, "/contacts?assigned_to="+tm.Owner.ID), tm.Agent.Token, nil)["data"])

	for _, c := range []struct{ method, suffix string }{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"POST", "/opt-out"}} {
		res := a.Do(t, c.method, wsPath(tm, "/contacts/"+other+c.suffix), tm.Agent.Token, map[string]any{"name": "x"})
		require.Equal(t, 404, res.Status, "%s %s", c.method, c.suffix)
		require.Equal(t, "not_found", res.Code(t))
	}
	// An agent cannot reassign, even their own contact.
	require.Equal(t, 403, a.Do(t, "PATCH", wsPath(tm, "/contacts/"+mine), tm.Agent.Token, map[string]any{"assigned_to": tm.Owner.ID}).Status)
	// The owner sees both.
	require.Len(t, a.Must(t, 200, "GET", wsPath(tm, "/contacts"), tm.Owner.Token, nil)["data"], 2)
}

func TestCrossWorkspaceIDsAreNotFound(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	theirs := a.contact(t, tm, tm.OtherWS, tm.Outside, "")
	theirKey := a.Must(t, 201, "POST", "/v1/workspaces/"+tm.OtherWS+"/api-keys", tm.Outside.Token, map[string]string{"name": "k", "role": "viewer"})["id"].(string)

	for _, c := range []struct{ method, path string }{
		{"GET", "/contacts/" + theirs}, {"PATCH", "/contacts/" + theirs}, {"DELETE", "/contacts/" + theirs},
		{"POST", "/contacts/" + theirs + "/opt-out"}, {"DELETE", "/api-keys/" + theirKey},
		{"PATCH", "/members/" + tm.Outside.ID}, {"DELETE", "/members/" + tm.Outside.ID},
	} {
		res := a.Do(t, c.method, wsPath(tm, c.path), tm.Owner.Token, map[string]any{"name": "x", "role": "viewer"})
		require.Equal(t, 404, res.Status, "%s %s: %s", c.method, c.path, res.Body)
	}
	// Still there for its owner.
	a.Must(t, 200, "GET", "/v1/workspaces/"+tm.OtherWS+"/contacts/"+theirs, tm.Outside.Token, nil)
	// A malformed or unknown workspace id.
	require.Equal(t, 404, a.Do(t, "GET", "/v1/workspaces/not-a-uuid", tm.Owner.Token, nil).Status)
	require.Equal(t, 403, a.Do(t, "GET", "/v1/workspaces/"+tm.OtherWS, tm.Owner.Token, nil).Status)
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	k := a.Must(t, 201, "POST", wsPath(tm, "/api-keys"), tm.Manager.Token, map[string]string{"name": "crm", "role": "agent"})
	secret := k["key"].(string)
	require.True(t, strings.HasPrefix(secret, "wsk_"))

	listed := a.Must(t, 200, "GET", wsPath(tm, "/api-keys"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, listed, 1)
	require.NotContains(t, listed[0], "key")

	// The key acts with its role in its workspace only.
	a.Must(t, 201, "POST", wsPath(tm, "/contacts"), secret, map[string]any{"phone": nextPhone()})
	require.Equal(t, 403, a.Do(t, "GET", wsPath(tm, "/audit-logs"), secret, nil).Status)
	require.Equal(t, 403, a.Do(t, "GET", "/v1/workspaces/"+tm.OtherWS, secret, nil).Status)
	require.Equal(t, 403, a.Do(t, "POST", wsPath(tm, "/api-keys"), tm.Manager.Token, map[string]string{"name": "x", "role": "owner"}).Status)

	// Stored only as a hash.
	var n int
	require.NoError(t, a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys WHERE position($1::bytea in key_hash) > 0`, []byte(secret)).Scan(&n))
	require.Zero(t, n)

	// Revocation takes effect at once.
	a.Must(t, 204, "DELETE", wsPath(tm, "/api-keys/"+k["id"].(string)), tm.Owner.Token, nil)
	res := a.Do(t, "GET", wsPath(tm, "/contacts"), secret, nil)
	require.Equal(t, 401, res.Status)
	require.Equal(t, "unauthenticated", res.Code(t))
	require.Equal(t, 404, a.Do(t, "DELETE", wsPath(tm, "/api-keys/"+k["id"].(string)), tm.Owner.Token, nil).Status)
}

func TestForgedAccessTokens(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "ana")
	parts := strings.Split(u.Token, ".")
	enc := base64.RawURLEncoding
	none := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	payload, _ := enc.DecodeString(parts[1])
	tampered := parts[0] + "." + enc.EncodeToString([]byte(strings.Replace(string(payload), `"sub":"`, `"sub":"0`, 1))) + "." + parts[2]
	for name, tok := range map[string]string{"alg none": none, "tampered": tampered, "truncated": parts[0] + "." + parts[1]} {
		res := a.Do(t, "GET", "/v1/me", tok, nil)
		require.Equal(t, 401, res.Status, name)
		require.Equal(t, "unauthenticated", res.Code(t), name)
	}
	a.Must(t, 200, "GET", "/v1/me", u.Token, nil)
}

func TestContactsAPI(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	c := a.Must(t, 201, "POST", wsPath(tm, "/contacts"), tm.Owner.Token, map[string]any{
		"phone": "+1 (415) 555-2671", "name": "Jos\u00e9", "tags": []string{"vip", "vip", "lead"}, "attributes": map[string]any{"plan": "gold"},
	})
	require.Equal(t, "+14155552671", c["phone"])
	require.Equal(t, "14155552671", c["wa_id"])
	require.Equal(t, []any{"vip", "lead"}, c["tags"])
	require.Equal(t, false, c["opted_out"])

	dup := a.Do(t, "POST", wsPath(tm, "/contacts"), tm.Owner.Token, map[string]any{"phone": "14155552671"})
	require.Equal(t, 409, dup.Status)
	require.Equal(t, "contact_exists", dup.Code(t))
	bad := a.Do(t, "POST", wsPath(tm, "/contacts"), tm.Owner.Token, map[string]any{"phone": "12"})
	require.Equal(t, 422, bad.Status)
	require.Contains(t, string(bad.Body), `"field":"phone"`)
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("t", i)
	}
	require.Equal(t, 422, a.Do(t, "POST", wsPath(tm, "/contacts"), tm.Owner.Token, map[string]any{"phone": nextPhone(), "tags": tooMany}).Status)
	require.Equal(t, 422, a.Do(t, "POST", wsPath(tm, "/contacts"), tm.Owner.Token, map[string]any{"phone": nextPhone(), "attributes": map[string]any{"x": strings.Repeat("a", 17<<10)}}).Status)

	id := c["id"].(string)
	// The phone filter normalizes like creation does.
	for _, q := range []string{"phone=%2B1%20415%20555%202671", "phone=1-415-555-2671", "q=jos", "tag=lead", "opted_out=false"} {
		require.Len(t, a.Must(t, 200, "GET", wsPath(tm, "/contacts?"+q), tm.Owner.Token, nil)["data"], 1, q)
	}
	require.Empty(t, a.Must(t, 200, "GET", wsPath(tm, "/contacts?tag=nope"), tm.Owner.Token, nil)["data"])
	require.Equal(t, 422, a.Do(t, "GET", wsPath(tm, "/contacts?limit=500"), tm.Owner.Token, nil).Status)
	require.Equal(t, 422, a.Do(t, "GET", wsPath(tm, "/contacts?opted_out=maybe"), tm.Owner.Token, nil).Status)

	p := a.Must(t, 200, "PATCH", wsPath(tm, "/contacts/"+id), tm.Owner.Token, map[string]any{"assigned_to": tm.Agent.ID, "tags": []string{}})
	require.Equal(t, tm.Agent.ID, p["assigned_to"])
	require.Empty(t, p["tags"])
	require.Equal(t, 422, a.Do(t, "PATCH", wsPath(tm, "/contacts/"+id), tm.Owner.Token, map[string]any{"assigned_to": tm.Outside.ID}).Status)
	p = a.Must(t, 200, "PATCH", wsPath(tm, "/contacts/"+id), tm.Owner.Token, map[string]any{"assigned_to": nil})
	require.Nil(t, p["assigned_to"])

	o := a.Must(t, 200, "POST", wsPath(tm, "/contacts/"+id+"/opt-out"), tm.Manager.Token, nil)
	require.Equal(t, true, o["opted_out"])
	require.Equal(t, "api", o["opt_out_source"])
	require.NotNil(t, o["opted_out_at"])
	require.Len(t, a.Must(t, 200, "GET", wsPath(tm, "/contacts?opted_out=true"), tm.Owner.Token, nil)["data"], 1)
	i := a.Must(t, 200, "POST", wsPath(tm, "/contacts/"+id+"/opt-in"), tm.Manager.Token, nil)
	require.Equal(t, false, i["opted_out"])

	// Cursor pagination walks every contact once.
	for range 4 {
		a.contact(t, tm, tm.WS, tm.Owner, "")
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		body := a.Must(t, 200, "GET", wsPath(tm, "/contacts?limit=2"+cursor), tm.Owner.Token, nil)
		for _, d := range body["data"].([]any) {
			seen[d.(map[string]any)["id"].(string)] = true
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	require.Len(t, seen, 5)
	a.Must(t, 204, "DELETE", wsPath(tm, "/contacts/"+id), tm.Owner.Token, nil)
	require.Equal(t, 404, a.Do(t, "GET", wsPath(tm, "/contacts/"+id), tm.Owner.Token, nil).Status)
}

func TestAuditTrailAndExport(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	id := a.contact(t, tm, tm.WS, tm.Owner, "")
	a.Must(t, 200, "PATCH", wsPath(tm, "/contacts/"+id), tm.Manager.Token, map[string]any{"name": "Changed"})
	a.Must(t, 200, "POST", wsPath(tm, "/contacts/"+id+"/opt-out"), tm.Manager.Token, nil)
	a.Must(t, 204, "DELETE", wsPath(tm, "/contacts/"+id), tm.Owner.Token, nil)

	body := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?resource_type=contact&resource_id="+id), tm.Owner.Token, nil)
	var actions []string
	for _, d := range body["data"].([]any) {
		e := d.(map[string]any)
		actions = append(actions, e["action"].(string))
		require.NotEmpty(t, e["request_id"])
		require.NotEmpty(t, e["ip"])
		require.NotEmpty(t, e["user_agent"])
	}
	require.Equal(t, []string{"contact.deleted", "contact.opted_out", "contact.updated", "contact.created"}, actions)

	byManager := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?actor_id="+tm.Manager.ID), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, byManager, 2)
	created := a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?action=member.added"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, created, 3)
	e := created[0].(map[string]any)
	require.Equal(t, "user", e["actor_type"])
	require.Equal(t, tm.Owner.ID, e["actor_id"])
	require.Equal(t, 422, a.Do(t, "GET", wsPath(tm, "/audit-logs?from=yesterday"), tm.Owner.Token, nil).Status)
	require.Empty(t, a.Must(t, 200, "GET", wsPath(tm, "/audit-logs?from=2999-01-01T00:00:00Z"), tm.Owner.Token, nil)["data"])
	// Entries of another workspace never show.
	require.Empty(t, a.Must(t, 200, "GET", "/v1/workspaces/"+tm.OtherWS+"/audit-logs?resource_id="+id, tm.Outside.Token, nil)["data"])

	res := a.Do(t, "GET", wsPath(tm, "/audit-logs/export?resource_id="+id), tm.Owner.Token, nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv"))
	rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 5)
	require.Equal(t, "action", rows[0][4])
	require.Equal(t, "contact.deleted", rows[1][4])
}
