package test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/bootstrap"
	"github.com/wabaplatform/waba/domain"
)

// eventPath is one way a kind of event comes about: through the API, Meta's webhooks, a
// worker or the command line. do causes it and returns the workspace it belongs to ("" for
// none).
type eventPath struct {
	name string
	do   func(t *testing.T) string
}

// Every kind of domain event, by every path that can cause it, leaves the same record:
// its row in the event log; its audit entry, unless the kind is one of the message flow's
// (a message received, a status applied) that the audit trail does not keep; and its
// inbox feed entry when it concerns a contact or a message. The log's subscribers read it
// (the stats subscriber counts it at /metrics).
func TestEveryEventKindIsRecordedByEveryPath(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, withOperator, withLocalHooks)
	a, ws, owner := e.a, e.tm.WS, e.tm.Owner
	h := newHookEnv(t, a) // a second workspace, owning the webhook fixtures' number
	ctx := context.Background()
	path := func(p string) string { return wsPath(e.tm, p) }
	newContact := func(t *testing.T) string {
		return a.Must(t, 201, "POST", path("/contacts"), owner.Token, map[string]any{"phone": nextPhone()})["id"].(string)
	}
	ts := int64(1768300000)
	say := func(from, text string) { h.customer(t, from, "Kim", &ts)(text) }
	var member user
	var keyID, apiOptOut, second string
	var invitee user
	var invitationToken string
	var tplCreated string
	var inboxAgent user
	var campaign string
	var autoRule string
	var hookEndpoint string
	failing := newReceiver(t)
	failing.status.Store(500)
	campaignPath := func(suffix string) string { return path("/campaigns/" + campaign + suffix) }
	conversation := func(t *testing.T) string { // the fixtures' workspace's most recent conversation
		return a.Must(t, 200, "GET", h.path("/conversations?limit=1"), h.owner.Token, nil)["data"].([]any)[0].(map[string]any)["id"].(string)
	}

	// Each kind with every path that causes it, in an order where each path has what it needs.
	paths := []struct {
		kind  domain.EventKind
		paths []eventPath
	}{
		{domain.EventLoginFailed, []eventPath{{"API login with a wrong password", func(t *testing.T) string {
			require.Equal(t, 401, a.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": owner.Email, "password": "wrong password!"}).Status)
			return ""
		}}}},
		{domain.EventRefreshTokenReused, []eventPath{{"API refresh with a spent token", func(t *testing.T) string {
			u := a.signup(t, "reuser")
			require.Equal(t, 200, a.refresh(t, u.Refresh).Status)
			require.Equal(t, 401, a.refresh(t, u.Refresh).Status)
			return ""
		}}}},
		{domain.EventPasswordChanged, []eventPath{{"API", func(t *testing.T) string {
			u := a.signup(t, "changer")
			a.Must(t, 204, "PUT", "/v1/me/password", u.Token, map[string]string{"current_password": password, "new_password": "another fine secret"})
			return ""
		}}}},
		{domain.EventPasswordReset, []eventPath{{"API confirm with a mailed link", func(t *testing.T) string {
			u := a.signup(t, "resetter")
			a.Must(t, 204, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": a.resetToken(t, u.Email), "new_password": "another fine secret"})
			return ""
		}}}},
		{domain.EventWorkspaceCreated, []eventPath{{"API", func(t *testing.T) string {
			second = a.createWorkspace(t, owner, "Second")
			return second
		}}}},
		{domain.EventWorkspaceUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PATCH", path(""), owner.Token, map[string]string{"name": "Renamed"})
			return ws
		}}}},
		{domain.EventMessagingSettingsChanged, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PUT", path("/settings/messaging"), owner.Token, map[string]any{"marketing_per_contact_per_day": 1,
				"marketing_per_contact_per_week": 3, "opt_out_keywords": []string{"BASTA"}, "opt_in_keywords": []string{}})
			return ws
		}}}},
		{domain.EventWorkspacePlanChanged, []eventPath{{"operator API", func(t *testing.T) string { a.setPlan(t, ws, "pro"); return ws }}}},
		{domain.EventBillingModeChanged, []eventPath{{"operator API", func(t *testing.T) string {
			a.Must(t, 200, "PUT", "/admin/workspaces/"+ws+"/billing", operatorToken, map[string]string{"mode": "prepaid"})
			return ws
		}}}},
		{domain.EventBillingCredited, []eventPath{{"operator API", func(t *testing.T) string {
			a.Must(t, 201, "POST", "/admin/workspaces/"+ws+"/credits", operatorToken, map[string]any{"amount_micros": 5000000})
			return ws
		}}}},
		{domain.EventRateCardUpdated, []eventPath{{"operator API", func(t *testing.T) string {
			a.Must(t, 200, "PUT", "/admin/rate-card?effective_at="+time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339), operatorToken,
				CSV("market,category,currency,rate_micros\n*,marketing,USD,1\n"))
			return ""
		}}}},
		{domain.EventMemberAdded, []eventPath{
			{"API", func(t *testing.T) string { member = a.addMember(t, ws, owner, "agent"); return ws }},
			{"API invitation accepted", func(t *testing.T) string {
				joiner := a.signup(t, "joiner")
				tok := a.Must(t, 201, "POST", path("/invitations"), owner.Token, map[string]string{"email": joiner.Email, "role": "viewer"})["token"].(string)
				a.Must(t, 200, "POST", "/v1/invitations/"+tok+"/accept", joiner.Token, nil)
				return ws
			}},
		}},
		{domain.EventMemberRoleChanged, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PATCH", path("/members/"+member.ID), owner.Token, map[string]string{"role": "viewer"})
			return ws
		}}}},
		{domain.EventMemberRemoved, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 204, "DELETE", path("/members/"+member.ID), owner.Token, nil)
			return ws
		}}}},
		{domain.EventAPIKeyCreated, []eventPath{{"API", func(t *testing.T) string {
			keyID = a.Must(t, 201, "POST", path("/api-keys"), owner.Token, map[string]string{"name": "ci", "role": "viewer"})["id"].(string)
			return ws
		}}}},
		{domain.EventAPIKeyRevoked, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 204, "DELETE", path("/api-keys/"+keyID), owner.Token, nil)
			return ws
		}}}},
		{domain.EventWorkspaceDeleted, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 202, "DELETE", "/v1/workspaces/"+second, owner.Token, map[string]string{"confirm": "Second"})
			return second
		}}}},
		{domain.EventInvitationCreated, []eventPath{{"API", func(t *testing.T) string {
			invitee = a.signup(t, "invitee")
			invitationToken = a.Must(t, 201, "POST", path("/invitations"), owner.Token, map[string]string{"email": invitee.Email, "role": "agent"})["token"].(string)
			return ws
		}}}},
		{domain.EventInvitationRevoked, []eventPath{
			{"API", func(t *testing.T) string {
				id := a.Must(t, 201, "POST", path("/invitations"), owner.Token, map[string]string{"email": "revoked@example.com", "role": "viewer"})["id"].(string)
				a.Must(t, 204, "DELETE", path("/invitations/"+id), owner.Token, nil)
				return ws
			}},
			{"API, replaced by a new invitation to the email", func(t *testing.T) string {
				a.Must(t, 201, "POST", path("/invitations"), owner.Token, map[string]string{"email": "revoked@example.com", "role": "viewer"})
				a.Must(t, 201, "POST", path("/invitations"), owner.Token, map[string]string{"email": "revoked@example.com", "role": "agent"})
				return ws
			}},
		}},
		{domain.EventInvitationAccepted, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "POST", "/v1/invitations/"+invitationToken+"/accept", invitee.Token, nil)
			return ws
		}}}},
		{domain.EventNumberConnected, []eventPath{{"API and onboarding worker", func(t *testing.T) string { e.connect(t, ws, owner); return ws }}}},
		{domain.EventNumberConnectFailed, []eventPath{{"API and onboarding worker", func(t *testing.T) string {
			a.Must(t, 202, "POST", path("/whatsapp/connect"), owner.Token, map[string]string{
				"access_token": "EAAS-not-a-real-token", "waba_id": e.acct.WABAID, "phone_number_id": "9" + e.acct.PhoneNumberID})
			return ws
		}}}},
		{domain.EventContactCreated, []eventPath{
			{"API", func(t *testing.T) string { newContact(t); return ws }},
			{"API send to a new number", func(t *testing.T) string {
				e.send(t, owner.Token, map[string]any{"to": nextPhone(), "type": "template", "template": template("order_update")})
				return ws
			}},
			{"webhook from a new customer", func(t *testing.T) string { say("14155550301", "Hello"); return h.ws }},
		}},
		{domain.EventContactUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PATCH", path("/contacts/"+newContact(t)), owner.Token, map[string]string{"name": "Kim"})
			return ws
		}}}},
		{domain.EventContactDeleted, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 204, "DELETE", path("/contacts/"+newContact(t)), owner.Token, nil)
			return ws
		}}}},
		{domain.EventContactImported, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "POST", path("/contacts/import"), owner.Token, CSV("phone,name\n"+nextPhone()+",Imported\n"))
			return ws
		}}}},
		{domain.EventContactOptedOut, []eventPath{
			{"API", func(t *testing.T) string {
				apiOptOut = newContact(t)
				a.Must(t, 200, "POST", path("/contacts/"+apiOptOut+"/opt-out"), owner.Token, nil)
				return ws
			}},
			{"webhook STOP", func(t *testing.T) string { say("14155550302", "STOP"); return h.ws }},
		}},
		{domain.EventContactOptedIn, []eventPath{
			{"API", func(t *testing.T) string {
				a.Must(t, 200, "POST", path("/contacts/"+apiOptOut+"/opt-in"), owner.Token, nil)
				return ws
			}},
			{"webhook START", func(t *testing.T) string { say("14155550302", "START"); return h.ws }},
		}},
		{domain.EventContactMarketingOptedOut, []eventPath{{"webhook user_preferences stop", func(t *testing.T) string {
			h.deliver(t, readFixture(t, "user_preferences_stop.json"))
			return h.ws
		}}}},
		{domain.EventContactMarketingOptedIn, []eventPath{{"webhook user_preferences resume", func(t *testing.T) string {
			resume := strings.Replace(string(readFixture(t, "user_preferences_stop.json")), `"value":"stop"`, `"value":"resume"`, 1)
			h.deliver(t, []byte(resume))
			return h.ws
		}}}},
		{domain.EventMessageReceived, []eventPath{{"webhook", func(t *testing.T) string { say("14155550303", "Hi"); return h.ws }}}},
		{domain.EventMessageQueued, []eventPath{
			{"API send", func(t *testing.T) string {
				id, _ := e.windowContact(t, "")
				e.send(t, owner.Token, map[string]any{"to": id, "type": "text", "text": map[string]any{"body": "Hi"}})
				return ws
			}},
			{"webhook STOP (the confirmation)", func(t *testing.T) string { say("14155550304", "STOP"); return h.ws }},
		}},
		{domain.EventMessageStatusChanged, []eventPath{
			{"webhook status (the sandbox reports a send)", func(t *testing.T) string {
				id, _ := e.windowContact(t, "")
				e.send(t, owner.Token, map[string]any{"to": id, "type": "text", "text": map[string]any{"body": "Hi"}})
				return ws
			}},
			{"send worker (Meta refuses the template)", func(t *testing.T) string {
				e.send(t, owner.Token, map[string]any{"to": nextPhone(), "type": "template", "template": template("no_such_template")})
				return ws
			}},
		}},
		{domain.EventTemplateCreated, []eventPath{
			{"API", func(t *testing.T) string {
				tplCreated = a.Must(t, 201, "POST", path("/templates"), owner.Token, onWABA(templateBody("ev_created"), e.acct.WABAID))["id"].(string)
				return ws
			}},
			{"sync (a template only Meta had)", func(t *testing.T) string {
				_, err := e.sb.AddTemplate(e.acct.WABAID, sandbox.TemplateSpec{Name: "ev_from_meta", Language: "en_US", Category: "UTILITY"})
				require.NoError(t, err)
				a.Must(t, 202, "POST", path("/templates/sync"), owner.Token, nil)
				return ws
			}},
		}},
		{domain.EventTemplateStatusChanged, []eventPath{
			{"webhook (Meta's review)", func(t *testing.T) string {
				a.Must(t, 201, "POST", path("/templates"), owner.Token, onWABA(templateBody("ev_reviewed"), e.acct.WABAID))
				return ws
			}},
			{"sync (a status Meta's webhook did not bring)", func(t *testing.T) string {
				eventually(t, 20*time.Second, func() bool { return e.templateByName(t, "ev_from_meta") != nil }, "ev_from_meta synced")
				_, err := a.Pool.Exec(ctx, `UPDATE templates SET status = 'PENDING', status_at = NULL WHERE workspace_id = $1 AND name = 'ev_from_meta'`, ws)
				require.NoError(t, err)
				a.Must(t, 202, "POST", path("/templates/sync"), owner.Token, nil)
				return ws
			}},
		}},
		{domain.EventTemplateDeleted, []eventPath{
			{"API", func(t *testing.T) string {
				a.Must(t, 204, "DELETE", path("/templates/"+tplCreated), owner.Token, nil)
				return ws
			}},
			{"sync (gone at Meta)", func(t *testing.T) string {
				eventually(t, 20*time.Second, func() bool {
					tpl := e.templateByName(t, "ev_from_meta")
					return tpl != nil && tpl["status"] == "APPROVED"
				}, "ev_from_meta approved again")
				req, err := http.NewRequest(http.MethodDelete, e.sbURL+"/v25.0/"+e.acct.WABAID+"/message_templates?name=ev_from_meta", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+e.acct.AccessToken)
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				res.Body.Close()
				a.Must(t, 202, "POST", path("/templates/sync"), owner.Token, nil)
				return ws
			}},
		}},
		{domain.EventInboxSettingsChanged, []eventPath{{"API", func(t *testing.T) string {
			inboxAgent = a.addMember(t, h.ws, h.owner, "agent")
			a.Must(t, 200, "PUT", h.path("/settings/inbox"), h.owner.Token, map[string]string{"auto_assign": "round_robin"})
			return h.ws
		}}}},
		{domain.EventWorkingHoursUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PUT", path("/settings/working-hours"), owner.Token, map[string]any{"timezone": "Asia/Kolkata",
				"days": map[string]any{"mon": []any{map[string]string{"from": "09:00", "to": "18:00"}}}, "holidays": []string{"2026-01-26"}})
			return ws
		}}}},
		{domain.EventAutomationSettingsUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PUT", path("/automation/away"), owner.Token, map[string]any{"enabled": false, "text": "We are closed"})
			return ws
		}}}},
		{domain.EventAutomationRuleCreated, []eventPath{{"API", func(t *testing.T) string {
			autoRule = a.Must(t, 201, "POST", path("/automation/rules"), owner.Token, map[string]any{"name": "Events", "match": "exact",
				"keywords": []string{"ev_rule"}, "enabled": false, "actions": []any{map[string]any{"type": "add_tag", "tag": "ev"}}})["id"].(string)
			return ws
		}}}},
		{domain.EventAutomationRuleUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PATCH", path("/automation/rules/"+autoRule), owner.Token, map[string]any{"priority": 2})
			return ws
		}}}},
		{domain.EventAutomationRuleDeleted, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 204, "DELETE", path("/automation/rules/"+autoRule), owner.Token, nil)
			return ws
		}}}},
		{domain.EventConversationAssigned, []eventPath{
			{"API", func(t *testing.T) string {
				a.Must(t, 200, "POST", h.path("/conversations/"+conversation(t)+"/assign"), h.owner.Token, map[string]string{"user_id": inboxAgent.ID})
				return h.ws
			}},
			{"auto-assignment of a new customer's conversation (webhook)", func(t *testing.T) string { say("14155550305", "Hola"); return h.ws }},
		}},
		{domain.EventConversationStatus, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "POST", h.path("/conversations/"+conversation(t)+"/status"), h.owner.Token, map[string]string{"status": "pending"})
			return h.ws
		}}}},
		{domain.EventNoteCreated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 201, "POST", h.path("/conversations/"+conversation(t)+"/notes"), h.owner.Token, map[string]string{"body": "called back"})
			return h.ws
		}}}},
		{domain.EventCampaignCreated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 201, "POST", path("/contacts"), owner.Token, map[string]any{"phone": nextPhone(), "tags": []string{"ev_campaign"}})
			campaign = a.Must(t, 201, "POST", path("/campaigns"), owner.Token, map[string]any{"name": "Events",
				"phone_number_id": e.acct.PhoneNumberID, "template": map[string]any{"name": "order_update", "language": "en_US"},
				"audience": map[string]any{"tags": []string{"ev_campaign"}}})["id"].(string)
			return ws
		}}}},
		{domain.EventCampaignUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PATCH", campaignPath(""), owner.Token, map[string]any{"name": "Events, renamed"})
			return ws
		}}}},
		{domain.EventCampaignLaunched, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 202, "POST", campaignPath("/launch"), owner.Token, nil)
			return ws
		}}}},
		{domain.EventCampaignPaused, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "POST", campaignPath("/pause"), owner.Token, nil)
			return ws
		}}}},
		{domain.EventCampaignResumed, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "POST", campaignPath("/resume"), owner.Token, nil)
			return ws
		}}}},
		{domain.EventCampaignCompleted, []eventPath{{"send job (every recipient sent)", func(t *testing.T) string { return ws }}}},
		{domain.EventCampaignCancelled, []eventPath{{"API", func(t *testing.T) string {
			draft := a.Must(t, 201, "POST", path("/campaigns"), owner.Token, map[string]any{"name": "Never",
				"phone_number_id": e.acct.PhoneNumberID, "template": map[string]any{"name": "order_update", "language": "en_US"}})
			a.Must(t, 200, "POST", path("/campaigns/"+draft["id"].(string)+"/cancel"), owner.Token, nil)
			return ws
		}}}},
		{domain.EventWebhookEndpointCreated, []eventPath{{"API", func(t *testing.T) string {
			hookEndpoint = a.Must(t, 201, "POST", path("/webhook-endpoints"), owner.Token,
				map[string]any{"url": failing.URL, "events": []string{"ping"}})["id"].(string)
			return ws
		}}}},
		{domain.EventWebhookEndpointUpdated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "PATCH", path("/webhook-endpoints/"+hookEndpoint), owner.Token, map[string]any{"description": "CRM"})
			return ws
		}}}},
		{domain.EventWebhookEndpointSecretRotated, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 200, "POST", path("/webhook-endpoints/"+hookEndpoint+"/rotate-secret"), owner.Token, nil)
			return ws
		}}}},
		{domain.EventWebhookEndpointDisabled, []eventPath{{"delivery job (failing for 5 days)", func(t *testing.T) string {
			_, err := a.Pool.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1`, hookEndpoint)
			require.NoError(t, err)
			a.Must(t, 202, "POST", path("/webhook-endpoints/"+hookEndpoint+"/test"), owner.Token, nil)
			return ws
		}}}},
		{domain.EventWebhookEndpointDeleted, []eventPath{{"API", func(t *testing.T) string {
			a.Must(t, 204, "DELETE", path("/webhook-endpoints/"+hookEndpoint), owner.Token, nil)
			return ws
		}}}},
		{domain.EventTokenKeyRotated, []eventPath{{"command line (waba keys rotate)", func(t *testing.T) string {
			// The fixtures' number has no real sealed token to rotate (connectNumber).
			_, err := a.Pool.Exec(ctx, `DELETE FROM phone_numbers WHERE workspace_id = $1`, h.ws)
			require.NoError(t, err)
			cfg := a.Cfg
			cfg.TokenMasterKey, cfg.PreviousMasterKeys = bytes.Repeat([]byte{9}, 32), [][]byte{a.Cfg.TokenMasterKey}
			_, err = bootstrap.RotateKeys(ctx, cfg, 10)
			require.NoError(t, err)
			return ws
		}}}},
	}

	var listed []domain.EventKind
	for _, k := range paths {
		listed = append(listed, k.kind)
		for _, p := range k.paths {
			requireRecorded(t, a, k.kind, p)
		}
	}
	slices.Sort(listed)
	all := slices.Clone(domain.EventKinds)
	slices.Sort(all)
	require.Equal(t, all, listed, "every kind has its paths here")

	// The stats subscriber has read the log, through River, up to the last event.
	eventually(t, 20*time.Second, func() bool {
		res := a.Do(t, "GET", "/metrics", "", nil)
		return strings.Contains(string(res.Body), `waba_events_total{kind="vault.key_rotated"}`)
	}, "the stats subscriber should count the last event")
}

// requireRecorded runs p and requires its kind's record: the event row, the audit entry
// (not for a message received or a status applied) and the feed entry (for what concerns
// a contact or a message; not an import, which concerns many).
func requireRecorded(t *testing.T, a *App, kind domain.EventKind, p eventPath) {
	t.Helper()
	ctx := context.Background()
	var before int64
	var since time.Time
	require.NoError(t, a.Pool.QueryRow(ctx, `SELECT coalesce(max(id), 0), now() FROM events`).Scan(&before, &since))
	ws := p.do(t)
	var wsID *string
	if ws != "" {
		wsID = &ws
	}
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, a.Pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	eventually(t, 20*time.Second, func() bool {
		return count(`SELECT count(*) FROM events WHERE id > $1 AND kind = $2 AND workspace_id IS NOT DISTINCT FROM $3::uuid`,
			before, string(kind), wsID) > 0
	}, string(kind)+" by "+p.name+" should be in the event log")

	// The audit entries of the new events: an entry is stamped with its event's time, which
	// for a template sync is when it read Meta's list, possibly a little before since.
	audited := kind != domain.EventMessageReceived && kind != domain.EventMessageStatusChanged
	audits := count(`SELECT count(*) FROM audit_logs a WHERE a.created_at >= $1::timestamptz - interval '1 minute' AND a.action = $2
			AND a.workspace_id IS NOT DISTINCT FROM $3::uuid
			AND a.resource_id IN (SELECT e.resource_id FROM events e WHERE e.id > $4 AND e.kind = $2)`,
		since, string(kind), wsID, before)
	require.Equal(t, audited, audits > 0, "%s by %s: audit entries %d", kind, p.name, audits)

	feed := strings.HasPrefix(string(kind), "message.") ||
		strings.HasPrefix(string(kind), "contact.") && kind != domain.EventContactDeleted && kind != domain.EventContactImported ||
		strings.HasPrefix(string(kind), "conversation.") || kind == domain.EventNoteCreated
	feedRows := count(`SELECT count(*) FROM inbox_events WHERE id > $1 AND kind = $2 AND workspace_id = $3::uuid`, before, string(kind), wsID)
	require.Equal(t, feed, feedRows > 0, "%s by %s: feed entries %d", kind, p.name, feedRows)
}
