package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/bootstrap"
)

// sseEvent is one event of a stream.
type sseEvent struct {
	ID, Name string
	Data     map[string]any
}

// sseStream reads a live event stream in the background.
type sseStream struct {
	events   chan sseEvent
	comments chan string
	cancel   context.CancelFunc
	done     chan struct{}
}

// openStream opens base+path (a bearer token, when given, in the header) and answers the
// status; on 200 the stream is read until t ends or close is called.
func openStream(t *testing.T, base, path, token string, headers ...string) (*sseStream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		return nil, res.StatusCode
	}
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &sseStream{events: make(chan sseEvent, 1000), comments: make(chan string, 1000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Name != "" {
					ev.Data = map[string]any{}
					_ = json.Unmarshal([]byte(data), &ev.Data)
					s.events <- ev
				}
				ev, data = sseEvent{}, ""
			case strings.HasPrefix(line, ":"):
				s.comments <- strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				data += line[6:]
			}
		}
	}()
	t.Cleanup(s.close)
	return s, http.StatusOK
}

func (s *sseStream) close() { s.cancel(); <-s.done }

// next is the stream's next event (failing after 10 s without one).
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the stream within 10s")
		return sseEvent{}
	}
}

// nextNamed skips events until one named name.
func (s *sseStream) nextNamed(t *testing.T, name string) sseEvent {
	t.Helper()
	for {
		if ev := s.next(t); ev.Name == name {
			return ev
		}
	}
}

// ended reports whether the server closed the stream within 10 s.
func (s *sseStream) ended(t *testing.T) bool {
	t.Helper()
	select {
	case <-s.done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

func (e *inboxEnv) ticket(t *testing.T, token string) string {
	t.Helper()
	got := e.a.Must(t, 201, "POST", e.path("/events/tickets"), token, nil)
	require.NotEmpty(t, got["expires_at"])
	return got["ticket"].(string)
}

func TestLiveEvents(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	owner, _ := openStream(t, e.a.URL, e.path("/events"), e.owner.Token)
	agent, _ := openStream(t, e.a.URL, e.path("/events?ticket="+e.ticket(t, e.agent.Token)), "")
	agent2, _ := openStream(t, e.a.URL, e.path("/events?ticket="+e.ticket(t, e.agent2.Token)), "")
	viewer, _ := openStream(t, e.a.URL, e.path("/events"), e.viewer.Token)

	// A customer writes: the message is on the owner's stream and in "unassigned"; an
	// agent sees the unassigned queue too.
	e.write(t, "5215512345678", "Ana", "Hola")
	ev := owner.next(t)
	require.Equal(t, "message.created", ev.Name)
	require.Equal(t, "message.received", ev.Data["kind"])
	conv := ev.Data["conversation_id"].(string)
	require.Equal(t, []string{conv}, ids(e.list(t, e.owner.Token, "?view=unassigned")))
	require.Equal(t, ev.ID, agent.nextNamed(t, "message.created").ID)
	require.Equal(t, ev.ID, agent2.nextNamed(t, "message.created").ID)
	require.Equal(t, ev.ID, viewer.nextNamed(t, "message.created").ID)

	// Assigned to the agent: from now on its events reach the agent and not agent2.
	e.a.Must(t, 200, "POST", e.path("/conversations/"+conv+"/assign"), e.owner.Token, map[string]any{"user_id": e.agent.ID})
	assigned := agent.nextNamed(t, "conversation.assigned")
	require.Equal(t, conv, assigned.Data["conversation_id"])
	require.Equal(t, assigned.ID, owner.nextNamed(t, "conversation.assigned").ID)
	e.write(t, "5215512345678", "Ana", "¿Sigue ahí?")
	mine := agent.nextNamed(t, "message.created")
	require.Equal(t, conv, mine.Data["conversation_id"])
	require.Equal(t, mine.ID, owner.nextNamed(t, "message.created").ID)
	e.a.Must(t, 201, "POST", e.path("/conversations/"+conv+"/notes"), e.agent.Token, map[string]any{"body": "vip"})
	noted := agent.next(t)
	require.Equal(t, "note.created", noted.Name)
	require.Equal(t, conv, noted.Data["conversation_id"])
	require.NotContains(t, string(mustJSON(noted.Data)), "vip", "a note's body is never on the stream")
	require.Equal(t, 404, e.a.Do(t, "GET", e.path("/conversations/"+conv), e.agent2.Token, nil).Status)

	// Another customer writes: it is the next thing agent2 receives, so nothing of the
	// agent's conversation (the assignment, the message, the note) came before it.
	e.write(t, "5215599999999", "Beto", "Buenas")
	other := agent2.next(t)
	require.Equal(t, "message.created", other.Name)
	require.NotEqual(t, conv, other.Data["conversation_id"])
	require.Equal(t, other.ID, agent.nextNamed(t, "message.created").ID, "the unassigned queue is every agent's")

	// Resume: the owner's stream goes away, two messages arrive, and the stream opened
	// with Last-Event-ID starts with exactly them.
	last := owner.nextNamed(t, "message.created").ID
	owner.close()
	for viewer.next(t).ID != last { // the viewer's stream is where the owner's stopped
	}
	e.write(t, "5215512345678", "Ana", "uno")
	e.write(t, "5215512345678", "Ana", "dos")
	v := viewer.nextNamed(t, "message.created")
	w := viewer.nextNamed(t, "message.created")
	resumed, _ := openStream(t, e.a.URL, e.path("/events"), e.owner.Token, "Last-Event-ID", last)
	require.Equal(t, v.ID, resumed.next(t).ID)
	require.Equal(t, w.ID, resumed.next(t).ID)
	// ... and goes on live.
	e.write(t, "5215512345678", "Ana", "tres")
	require.Equal(t, viewer.nextNamed(t, "message.created").ID, resumed.nextNamed(t, "message.created").ID)
	// The query form of the resume, for browsers.
	again, _ := openStream(t, e.a.URL, e.path("/events?last_event_id="+last), e.owner.Token)
	require.Equal(t, v.ID, again.next(t).ID)
}

func TestLiveEventTickets(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	events := func(q string) int {
		_, status := openStream(t, e.a.URL, e.path("/events"+q), "")
		return status
	}
	tk := e.ticket(t, e.agent.Token)
	require.Equal(t, 200, events("?ticket="+tk))
	require.Equal(t, 401, events("?ticket="+tk), "single use")
	require.Equal(t, 401, events("?ticket=wet_forged"))
	require.Equal(t, 401, events(""))

	late := e.ticket(t, e.agent.Token)
	e.a.Clock.Advance(61 * time.Second)
	require.Equal(t, 401, events("?ticket="+late), "expired after 60 s")

	// Another workspace: its ticket does not open this one, nor does a non-member's bearer.
	stranger := e.a.signup(t, "stranger")
	ws2 := e.a.createWorkspace(t, stranger, "Elsewhere")
	other := e.a.Must(t, 201, "POST", "/v1/workspaces/"+ws2+"/events/tickets", stranger.Token, nil)["ticket"].(string)
	require.Equal(t, 403, events("?ticket="+other))
	_, status := openStream(t, e.a.URL, e.path("/events"), stranger.Token)
	require.Equal(t, 403, status)
	require.Equal(t, 403, e.a.Do(t, "POST", e.path("/events/tickets"), stranger.Token, nil).Status)

	// A logged-out session's ticket is refused.
	tk = e.ticket(t, e.agent.Token)
	require.Equal(t, 204, e.a.Do(t, "POST", "/v1/auth/logout", "", map[string]any{"refresh_token": e.agent.Refresh}).Status)
	require.Equal(t, 401, events("?ticket="+tk))
}

// An event caused on one instance reaches a stream open on another: both read the one
// log, woken by its notifications.
func TestLiveEventsAcrossInstances(t *testing.T) {
	t.Parallel()
	url := pgtest.NewURL(t)
	a := startAppOn(t, url)
	b := startAppOn(t, url)
	e := &inboxEnv{hookEnv: newHookEnv(t, a), ts: time.Now().Unix() - 60}
	onA, _ := openStream(t, a.URL, e.path("/events"), e.owner.Token)

	onB := &inboxEnv{hookEnv: &hookEnv{a: b, owner: e.owner, ws: e.ws, number: e.number}, ts: e.ts}
	onB.write(t, "5215512345678", "Ana", "Hola desde B")
	ev := onA.nextNamed(t, "message.created")
	conv := ev.Data["conversation_id"].(string)
	b.Must(t, 200, "POST", e.path("/conversations/"+conv+"/status"), e.owner.Token, map[string]any{"status": "resolved"})
	up := onA.nextNamed(t, "conversation.updated")
	require.Equal(t, conv, up.Data["conversation_id"])
}

// Stopping the server ends its streams, so the stop does not wait for them.
func TestLiveStreamsEndOnShutdown(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	s, _ := openStream(t, e.a.URL, e.path("/events"), e.owner.Token)
	start := time.Now()
	e.a.Stop(t)
	require.True(t, s.ended(t))
	require.Less(t, time.Since(start), 5*time.Second, "the stop did not wait for the stream")
}

// An idle stream gets a comment line every heartbeat (15 s by default; shortened here).
func TestLiveStreamHeartbeat(t *testing.T) {
	t.Parallel()
	a := startAppWith(t, pgtest.NewURL(t), func(s *bootstrap.Settings) { s.Heartbeat = 50 * time.Millisecond })
	e := &inboxEnv{hookEnv: newHookEnv(t, a)}
	s, _ := openStream(t, a.URL, e.path("/events"), e.owner.Token)
	for _, want := range []string{"connected", "ping", "ping"} {
		select {
		case c := <-s.comments:
			require.Equal(t, want, c)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q comment", want)
		}
	}
}

// A stream quiet for longer than its write timeout (10 s; 200 ms here) and shorter than
// its heartbeat (15 s) takes a burst larger than its buffers: the write deadline is set
// before the burst is written, not only before the flush that ends it (the burst's first
// bytes reach the connection before the flush, and a deadline left by the previous flush
// has passed). The wait is the socket's deadline, which no test clock moves.
func TestLiveStreamBurstAfterQuiet(t *testing.T) {
	t.Parallel()
	a := startAppWith(t, pgtest.NewURL(t), func(s *bootstrap.Settings) { s.StreamWriteTimeout = 200 * time.Millisecond })
	h := newHookEnv(t, a)
	s, _ := openStream(t, h.a.URL, h.path("/events"), h.owner.Token)
	time.Sleep(500 * time.Millisecond)
	const n = 100 // ~45 KiB of events, one transaction: one read of the log, one turn of the stream
	msgs := make([]map[string]any, n)
	ts := time.Now().Unix() - 60
	for i := range msgs {
		msgs[i] = map[string]any{"from": "5215512345678", "id": newWAMID(), "timestamp": fmt.Sprint(ts + int64(i)), "type": "text",
			"text": map[string]string{"body": fmt.Sprintf("mensaje %d de una ráfaga", i)}}
	}
	h.deliver(t, envelopeOf("5215512345678", "Ana", msgs...))
	for i := range n {
		select {
		case ev := <-s.events:
			require.Equal(t, "message.created", ev.Name, "event %d", i)
		case <-s.done:
			t.Fatalf("the stream ended after %d of %d events", i, n)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d events within 10s", i, n)
		}
	}
}

// Removing a member, or changing their role, ends their open streams at once: what they
// may see changed.
func TestLiveStreamsEndWhenTheMembershipChanges(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	agent, _ := openStream(t, e.a.URL, e.path("/events"), e.agent.Token)
	viewer, _ := openStream(t, e.a.URL, e.path("/events"), e.viewer.Token)
	owner, _ := openStream(t, e.a.URL, e.path("/events"), e.owner.Token)
	require.Equal(t, 204, e.a.Do(t, "DELETE", e.path("/members/"+e.agent.ID), e.owner.Token, nil).Status)
	e.a.Must(t, 200, "PATCH", e.path("/members/"+e.viewer.ID), e.owner.Token, map[string]string{"role": "agent"})
	require.True(t, agent.ended(t), "the removed agent's stream ends")
	require.True(t, viewer.ended(t), "the former viewer's stream ends")
	e.write(t, "5215512345678", "Ana", "Hola")
	require.Equal(t, "message.created", owner.next(t).Name, "the owner's stream goes on")
	_, status := openStream(t, e.a.URL, e.path("/events"), e.agent.Token)
	require.Equal(t, 403, status)
}
