package test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// inboxEnv is a hook environment with an agent pair, a manager and a viewer.
type inboxEnv struct {
	*hookEnv
	agent, agent2, manager, viewer user
	ts                             int64
}

func newInboxEnv(t *testing.T) *inboxEnv {
	t.Helper()
	h := startHooks(t)
	e := &inboxEnv{hookEnv: h, ts: time.Now().Unix() - 60}
	e.agent = h.a.addMember(t, h.ws, h.owner, "agent")
	e.agent2 = h.a.addMember(t, h.ws, h.owner, "agent")
	e.manager = h.a.addMember(t, h.ws, h.owner, "manager")
	e.viewer = h.a.addMember(t, h.ws, h.owner, "viewer")
	return e
}

func (e *inboxEnv) list(t *testing.T, token, query string) []map[string]any {
	t.Helper()
	body := e.a.Must(t, 200, "GET", e.path("/conversations"+query), token, nil)
	var out []map[string]any
	for _, d := range body["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func (e *inboxEnv) write(t *testing.T, from, name, text string) {
	t.Helper()
	e.customer(t, from, name, &e.ts)(text)
}

func ids(cs []map[string]any) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c["id"].(string))
	}
	return out
}

func TestInboxConversationLifecycle(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	e.write(t, "5215512345678", "Ana", "Hola, ¿tienen pan dulce hoy?")

	// It appears in "unassigned" for an agent and for the owner.
	un := e.list(t, e.agent.Token, "?view=unassigned")
	require.Len(t, un, 1)
	c := un[0]
	require.Equal(t, "open", c["status"])
	require.Nil(t, c["assigned_to"])
	require.EqualValues(t, 1, c["unread_count"])
	require.Equal(t, "Hola, ¿tienen pan dulce hoy?", c["last_message_preview"])
	require.Equal(t, fixturePhoneID, c["phone_number_id"])
	require.Equal(t, true, c["can_send_freeform"])
	require.NotNil(t, c["service_window_expires_at"])
	require.Equal(t, ids(un), ids(e.list(t, e.owner.Token, "?view=unassigned")))
	require.Empty(t, e.list(t, e.agent.Token, "?view=mine"))
	id := c["id"].(string)
	conv := func(p string) string { return e.path("/conversations/" + id + p) }

	// Its messages and its search.
	msgs := e.a.Must(t, 200, "GET", conv("/messages"), e.agent.Token, nil)["data"].([]any)
	require.Len(t, msgs, 1)
	require.Equal(t, "inbound", msgs[0].(map[string]any)["direction"])
	require.Len(t, e.list(t, e.owner.Token, "?q=ana"), 1)
	require.Len(t, e.list(t, e.owner.Token, "?q=%2B52155"), 1)
	require.Empty(t, e.list(t, e.owner.Token, "?q=zelda"))

	// A viewer reads only.
	e.a.Must(t, 200, "GET", conv(""), e.viewer.Token, nil)
	require.Equal(t, 403, e.a.Do(t, "POST", conv("/assign"), e.viewer.Token, map[string]any{"user_id": e.viewer.ID}).Status)
	require.Equal(t, 403, e.a.Do(t, "POST", conv("/status"), e.viewer.Token, map[string]any{"status": "resolved"}).Status)
	require.Equal(t, 403, e.a.Do(t, "POST", conv("/notes"), e.viewer.Token, map[string]any{"body": "x"}).Status)
	require.Equal(t, 403, e.a.Do(t, "POST", conv("/read"), e.viewer.Token, nil).Status)

	// An agent cannot give it to someone else, but takes it for themselves.
	require.Equal(t, 403, e.a.Do(t, "POST", conv("/assign"), e.agent.Token, map[string]any{"user_id": e.agent2.ID}).Status)
	got := e.a.Must(t, 200, "POST", conv("/assign"), e.agent.Token, map[string]any{"user_id": e.agent.ID})
	require.Equal(t, e.agent.ID, got["assigned_to"])
	require.Equal(t, e.agent.ID, e.contactBy(t, "+5215512345678")["assigned_to"], "assigning the conversation assigns the contact")
	require.Equal(t, []string{id}, ids(e.list(t, e.agent.Token, "?view=mine")))

	// Another agent neither sees it nor can take it.
	require.Equal(t, 404, e.a.Do(t, "GET", conv(""), e.agent2.Token, nil).Status)
	require.Equal(t, 404, e.a.Do(t, "GET", conv("/messages"), e.agent2.Token, nil).Status)
	require.Equal(t, 404, e.a.Do(t, "GET", conv("/notes"), e.agent2.Token, nil).Status)
	require.Equal(t, 404, e.a.Do(t, "POST", conv("/assign"), e.agent2.Token, map[string]any{"user_id": e.agent2.ID}).Status)
	require.Empty(t, e.list(t, e.agent2.Token, "?view=all"))

	// Notes are visible with the conversation, and only there.
	note := e.a.Must(t, 201, "POST", conv("/notes"), e.agent.Token, map[string]any{"body": "  wants conchas  "})
	require.Equal(t, "wants conchas", note["body"])
	require.Equal(t, e.agent.ID, note["author_id"])
	notes := e.a.Must(t, 200, "GET", conv("/notes"), e.owner.Token, nil)["data"].([]any)
	require.Len(t, notes, 1)
	require.Equal(t, 422, e.a.Do(t, "POST", conv("/notes"), e.agent.Token, map[string]any{"body": " "}).Status)
	var details string
	require.NoError(t, e.a.Pool.QueryRow(context.Background(),
		`SELECT details::text FROM audit_logs WHERE action = 'note.created'`).Scan(&details))
	require.NotContains(t, details, "conchas", "a note's body stays out of the audit trail")

	// The owner (or a manager) assigns anyone who is a member, and null unassigns.
	require.Equal(t, 422, e.a.Do(t, "POST", conv("/assign"), e.manager.Token, map[string]any{"user_id": e.a.signup(t, "stranger").ID}).Status)
	require.Equal(t, e.agent2.ID, e.a.Must(t, 200, "POST", conv("/assign"), e.owner.Token, map[string]any{"user_id": e.agent2.ID})["assigned_to"])
	require.Equal(t, 404, e.a.Do(t, "GET", conv(""), e.agent.Token, nil).Status)
	require.Nil(t, e.a.Must(t, 200, "POST", conv("/assign"), e.manager.Token, map[string]any{"user_id": nil})["assigned_to"])
	require.Nil(t, e.contactBy(t, "+5215512345678")["assigned_to"])
	require.Equal(t, 422, e.a.Do(t, "POST", conv("/assign"), e.manager.Token, map[string]any{}).Status)

	// Read sets the unread count to 0.
	e.write(t, "5215512345678", "Ana", "¿Hola?")
	require.EqualValues(t, 2, e.a.Must(t, 200, "GET", conv(""), e.owner.Token, nil)["unread_count"])
	require.EqualValues(t, 0, e.a.Must(t, 200, "POST", conv("/read"), e.agent.Token, nil)["unread_count"])

	// Status changes; the next inbound message reopens a resolved conversation.
	require.Equal(t, 422, e.a.Do(t, "POST", conv("/status"), e.agent.Token, map[string]any{"status": "closed"}).Status)
	require.Equal(t, "resolved", e.a.Must(t, 200, "POST", conv("/status"), e.agent.Token, map[string]any{"status": "resolved"})["status"])
	require.Len(t, e.list(t, e.owner.Token, "?status=resolved"), 1)
	require.Empty(t, e.list(t, e.owner.Token, "?status=open"))
	e.write(t, "5215512345678", "Ana", "Una cosa más")
	again := e.a.Must(t, 200, "GET", conv(""), e.owner.Token, nil)
	require.Equal(t, "open", again["status"])
	require.Equal(t, "Una cosa más", again["last_message_preview"])
	require.Equal(t, 1, e.count(t, `SELECT count(*) FROM conversations`), "one conversation per contact and number")

	// Out of the window (the customer wrote 25 hours ago), free text is not allowed.
	_, err := e.a.Pool.Exec(context.Background(), `UPDATE conversations SET service_window_expires_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	require.Equal(t, false, e.a.Must(t, 200, "GET", conv(""), e.owner.Token, nil)["can_send_freeform"])

	// The changes are audited.
	var assigned, status int
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'conversation.assigned'),
		count(*) FILTER (WHERE action = 'conversation.status_changed') FROM audit_logs`).Scan(&assigned, &status))
	require.Equal(t, 3, assigned)
	require.Equal(t, 1, status) // resolved by the agent; the customer reopening it is not an action of the team
}

func TestInboxOutboundMovesLastMessage(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	e.write(t, "14155550111", "Bo", "hi")
	c := e.list(t, e.owner.Token, "")[0]
	e.a.Must(t, 202, "POST", e.path("/messages"), e.owner.Token, map[string]any{
		"to": "+14155550111", "phone_number_id": fixturePhoneID, "type": "text", "text": map[string]any{"body": "Hello Bo"}})
	after := e.a.Must(t, 200, "GET", e.path("/conversations/"+c["id"].(string)), e.owner.Token, nil)
	require.Equal(t, "Hello Bo", after["last_message_preview"])
	require.EqualValues(t, 1, after["unread_count"], "our own message is not unread")
}

func TestInboxSettingsAndAvailability(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	p := e.path("/settings/inbox")
	require.Equal(t, "off", e.a.Must(t, 200, "GET", p, e.viewer.Token, nil)["auto_assign"])
	require.Equal(t, 403, e.a.Do(t, "PUT", p, e.agent.Token, map[string]any{"auto_assign": "least_busy"}).Status)
	require.Equal(t, 422, e.a.Do(t, "PUT", p, e.owner.Token, map[string]any{"auto_assign": "random"}).Status)
	require.Equal(t, "least_busy", e.a.Must(t, 200, "PUT", p, e.manager.Token, map[string]any{"auto_assign": "least_busy"})["auto_assign"])
	require.Equal(t, "least_busy", e.a.Must(t, 200, "GET", p, e.agent.Token, nil)["auto_assign"])

	me := e.path("/members/me")
	require.Equal(t, false, e.a.Must(t, 200, "PATCH", me, e.agent.Token, map[string]any{"available": false})["available"])
	require.Equal(t, 422, e.a.Do(t, "PATCH", me, e.agent.Token, map[string]any{}).Status)
	require.Equal(t, 403, e.a.Do(t, "PATCH", me, e.viewer.Token, map[string]any{"available": false}).Status)

	// Least busy among the available agents: agent is away, so agent2 gets both.
	e.write(t, "14155550121", "C1", "one")
	e.write(t, "14155550122", "C2", "two")
	for _, c := range e.list(t, e.owner.Token, "") {
		require.Equal(t, e.agent2.ID, c["assigned_to"])
	}
	e.a.Must(t, 200, "PATCH", me, e.agent.Token, map[string]any{"available": true})
	e.write(t, "14155550123", "C3", "three")
	require.Equal(t, e.agent.ID, e.list(t, e.owner.Token, "")[0]["assigned_to"], "the least busy agent")
}

func TestInboxAutoAssignRoundRobinUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	e.a.Must(t, 200, "PUT", e.path("/settings/inbox"), e.owner.Token, map[string]any{"auto_assign": "round_robin"})

	// Two new customers write at the same moment.
	var wg sync.WaitGroup
	for i, from := range []string{"14155550131", "14155550132"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.post(t, textEnvelope(newWAMID(), from, "N", "hello", e.ts+int64(i)))
			require.Equal(t, http.StatusOK, res.Status)
		}()
	}
	wg.Wait()
	e.waitJobs(t)

	cs := e.list(t, e.owner.Token, "")
	require.Len(t, cs, 2)
	got := map[string]int{}
	for _, c := range cs {
		got[c["assigned_to"].(string)]++
	}
	require.Equal(t, map[string]int{e.agent.ID: 1, e.agent2.ID: 1}, got, "each agent exactly once")
	require.Equal(t, 2, e.count(t, `SELECT count(*) FROM audit_logs WHERE action = 'conversation.assigned' AND actor_type = 'system'`))
	require.Len(t, e.list(t, e.agent.Token, "?view=mine"), 1)
	require.Empty(t, e.list(t, e.agent.Token, "?view=unassigned"))
	require.True(t, strings.HasPrefix(cs[0]["last_message_preview"].(string), "hello"))
}
