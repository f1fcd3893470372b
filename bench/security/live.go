package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/live"
	"github.com/wabaplatform/waba/bench/internal/harness"
)

// --- live events: tickets, streams, what an agent's stream carries --------------------------

// sseEvent is one event of a live stream.
type sseEvent struct {
	ID, Name string
	Raw      string // the data, as sent
	Data     struct {
		Kind           string         `json:"kind"`
		ConversationID string         `json:"conversation_id"`
		ContactID      string         `json:"contact_id"`
		MessageID      string         `json:"message_id"`
		Details        map[string]any `json:"details"`
	}
}

// sseStream records a stream's events as they arrive, until closed.
type sseStream struct {
	label  string
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	evs    []sseEvent
}

func (s *sseStream) close() { s.cancel(); <-s.done }

func (s *sseStream) events() []sseEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

// waitFor returns the first event recorded that matches, waiting up to timeout for it.
func (s *sseStream) waitFor(ctx context.Context, timeout time.Duration, match func(sseEvent) bool) (sseEvent, bool) {
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range s.events() {
			if match(ev) {
				return ev, true
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return sseEvent{}, false
		}
		select {
		case <-s.done: // one last look: the stream ended
			deadline = time.Time{}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// sseClient opens live event streams. It has no overall timeout: a stream lasts until
// closed.
type sseClient struct {
	base string
	hc   *http.Client
}

func newSSEClient(base string) *sseClient {
	return &sseClient{base: base, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16,
		DisableCompression: true, ResponseHeaderTimeout: 15 * time.Second}}}
}

// open requests path with headers given as name, value pairs and returns the status; on
// 200 the stream is recorded in the background until closed. Status 0: the request
// failed (or could not be sent: a header value Go refuses).
func (sc *sseClient) open(ctx context.Context, label, path string, headers ...string) (*sseStream, int) {
	sctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, sc.base+path, nil)
	if err != nil {
		cancel()
		return nil, 0
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := sc.hc.Do(req)
	if err != nil {
		cancel()
		return nil, 0
	}
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		cancel()
		return nil, res.StatusCode
	}
	s := &sseStream{label: label, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		rd := bufio.NewScanner(res.Body)
		rd.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		var data []string
		for rd.Scan() {
			line := rd.Text()
			switch {
			case line == "":
				if ev.Name != "" || ev.ID != "" {
					ev.Raw = strings.Join(data, "\n")
					_ = json.Unmarshal([]byte(ev.Raw), &ev.Data)
					s.mu.Lock()
					s.evs = append(s.evs, ev)
					s.mu.Unlock()
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
	}()
	return s, http.StatusOK
}

// answer is the status of a stream request; a stream that opened is closed at once.
func (sc *sseClient) answer(ctx context.Context, path string, headers ...string) int {
	s, st := sc.open(ctx, "", path, headers...)
	if s != nil {
		s.close()
	}
	return st
}

func eventsPath(ws, query string) string { return "/v1/workspaces/" + ws + "/events" + query }

// takeTicket asks for a stream ticket of ws with token.
func takeTicket(ctx context.Context, c *harness.Client, token, ws string) (string, time.Time, error) {
	m, err := c.Must(ctx, 201, "POST", "/v1/workspaces/"+ws+"/events/tickets", token, nil)
	if err != nil {
		return "", time.Time{}, err
	}
	tk, _ := m["ticket"].(string)
	s, _ := m["expires_at"].(string)
	exp, err := time.Parse(time.RFC3339Nano, s)
	if tk == "" || err != nil {
		return "", time.Time{}, fmt.Errorf("ticket answer %v", m)
	}
	return tk, exp, nil
}

// position is an event id ("<transaction>-<id>") as numbers, to order events by.
type position struct {
	tx uint64
	id int64
}

func parsePosition(s string) position {
	tx, id, _ := strings.Cut(s, "-")
	t, _ := strconv.ParseUint(tx, 10, 64)
	i, _ := strconv.ParseInt(id, 10, 64)
	return position{t, i}
}

func (p position) before(o position) bool { return p.tx < o.tx || (p.tx == o.tx && p.id < o.id) }

// expiringTicket takes two tickets of A's workspace now and returns the probe that uses
// one of them after its 60 s: it must be refused. The other is used at once (it opens a
// stream: the ticket was good when issued). Taken before the other probes, the ticket has
// aged behind them (and behind the fuzzers, in a full run) by the time the probe runs, so
// it waits only for what is left of the minute.
func (w *world) expiringTicket(ctx context.Context) func(context.Context, func(string, ...any)) *probe {
	p := &probe{name: "live events: a ticket past its 60 s -> 401; the lifetime it is issued with"}
	sc := newSSEClient(w.c.Base)
	asked := time.Now()
	late, exp, err := takeTicket(ctx, w.c, w.a.Token, w.wsA)
	answered := time.Now()
	twin, _, err2 := takeTicket(ctx, w.c, w.a.Token, w.wsA)
	if err = errors.Join(err, err2); err != nil {
		p.try(false, "setup: "+err.Error())
		return func(context.Context, func(string, ...any)) *probe { return p }
	}
	st := sc.answer(ctx, eventsPath(w.wsA, "?ticket="+url.QueryEscape(twin)))
	p.try(st == 200, fmt.Sprintf("control: a ticket used at once -> %d", st))
	// The lifetime the server gives: at most 60 s from the request (1 s of slack for
	// the two clocks' reading, which are this machine's one clock).
	p.try(!exp.After(answered.Add(61*time.Second)) && exp.After(asked),
		fmt.Sprintf("ticket expires at %s, asked at %s: over 60 s", exp.Format(time.RFC3339Nano), asked.Format(time.RFC3339Nano)))
	return func(ctx context.Context, logf func(string, ...any)) *probe {
		if wait := time.Until(exp.Add(time.Second)); wait > 0 {
			logf("waiting %v for a ticket to expire", wait.Round(time.Second))
			select {
			case <-ctx.Done():
				p.try(false, "interrupted while waiting for the ticket to expire")
				return p
			case <-time.After(wait):
			}
		}
		age := time.Since(asked).Round(time.Second)
		st := sc.answer(ctx, eventsPath(w.wsA, "?ticket="+url.QueryEscape(late)))
		p.try(st == 401, fmt.Sprintf("a ticket %v old -> %d", age, st))
		// With the holder's own bearer beside it, the expired ticket still decides.
		st = sc.answer(ctx, eventsPath(w.wsA, "?ticket="+url.QueryEscape(late)), "Authorization", "Bearer "+w.a.Token)
		p.try(st == 401, fmt.Sprintf("a ticket %v old, with its user's bearer -> %d", age, st))
		return p
	}
}

// liveWorld is the inbox the live event probes play in: an owner, agents A and B (and C,
// to be removed), an agent API key, a number customers write to, and the owner's stream,
// open from the start, as the record of every event of the workspace.
type liveWorld struct {
	w                   *world
	sc                  *sseClient
	ws, ws2             string // the inbox; another workspace of the same owner
	owner, a, b, c      harness.User
	agentKey            string
	tenant              harness.Tenant
	gen                 *harness.Generator
	said                map[int]int // messages each customer sent so far
	nextCustomer        int
	ownerSt, aSt        *sseStream
	streams             []*sseStream // closed at the end
	guarded             []*guarded
	firstID, sentinelID string // the inbox's first event; the isolation probe's sentinel
	bStreams            []*sseStream
	foreignIDs          []string // event ids of other workspaces, from the log
	foreignMarks        []string // what only those workspaces' events would mention
}

// guarded is one of agent A's conversations: what names it, and from which event on it is
// A's alone (before, it was unassigned or B's, and B saw it legitimately).
type guarded struct {
	label         string
	conv, contact string
	from          position        // events from here on are A's alone
	allowed       map[string]bool // events from `from` on that B may still see: its own reassignment away
	ids           []string        // the conversation, its contact, its messages' ids and wamids
}

const customers = 1000 // the generator's pool of senders on the inbox's number

// eventWait bounds the wait for an event the probes caused. Streams read the log up to the
// oldest write transaction still open anywhere on the Postgres server (transaction ids are
// the cluster's, not one database's), so another database's long transaction on a shared
// server delays every event by as long as it runs; on a quiet server events take
// milliseconds.
const eventWait = 60 * time.Second

func (w *world) liveEvents(ctx context.Context) []*probe {
	lv, err := w.liveSetup(ctx)
	if lv != nil {
		defer func() {
			for _, s := range lv.streams {
				s.close()
			}
		}()
	}
	if err != nil {
		p := &probe{name: "live events: setup"}
		p.try(false, "setup: "+err.Error())
		return []*probe{p}
	}
	return []*probe{lv.tickets(ctx), lv.streamAuth(ctx), lv.isolation(ctx), lv.resume(ctx), lv.tampering(ctx)}
}

func (w *world) liveSetup(ctx context.Context) (*liveWorld, error) {
	lv := &liveWorld{w: w, sc: newSSEClient(w.c.Base), said: map[int]int{}}
	stamp := time.Now().UnixNano()
	var err error
	for _, u := range []struct {
		into *harness.User
		name string
	}{{&lv.owner, "owner"}, {&lv.a, "agent-a"}, {&lv.b, "agent-b"}, {&lv.c, "agent-c"}} {
		if *u.into, err = w.c.SignupLogin(ctx, fmt.Sprintf("live-%s-%d@example.com", u.name, stamp)); err != nil {
			return lv, err
		}
	}
	if lv.ws, err = w.c.CreateWorkspace(ctx, lv.owner, "Live Inbox Co", ""); err != nil {
		return lv, err
	}
	if lv.ws2, err = w.c.CreateWorkspace(ctx, lv.owner, "Live Other Co", ""); err != nil {
		return lv, err
	}
	for _, u := range []harness.User{lv.a, lv.b, lv.c} {
		if _, err := w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+lv.ws+"/members", lv.owner.Token,
			map[string]string{"email": u.Email, "role": "agent"}); err != nil {
			return lv, err
		}
	}
	m, err := w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+lv.ws+"/api-keys", lv.owner.Token, map[string]string{"name": "live agent", "role": "agent"})
	if err != nil {
		return lv, err
	}
	lv.agentKey, _ = m["key"].(string)
	lv.tenant = harness.NewTenants(1)[0]
	lv.tenant.WorkspaceID = lv.ws
	if _, err := w.db.InsertNumber(ctx, lv.ws, lv.tenant.PhoneNumberID, lv.tenant.WABAID, lv.tenant.Display); err != nil {
		return lv, err
	}
	lv.gen = harness.NewGenerator([]harness.Tenant{lv.tenant}, customers, 0)
	var st int
	if lv.ownerSt, st = lv.sc.open(ctx, "owner", eventsPath(lv.ws, ""), "Authorization", "Bearer "+lv.owner.Token); st != 200 {
		return lv, fmt.Errorf("the owner's stream -> %d", st)
	}
	lv.streams = append(lv.streams, lv.ownerSt)
	if lv.aSt, st = lv.sc.open(ctx, "agent A", eventsPath(lv.ws, ""), "Authorization", "Bearer "+lv.a.Token); st != 200 {
		return lv, fmt.Errorf("agent A's stream -> %d", st)
	}
	lv.streams = append(lv.streams, lv.aSt)
	// Events of other workspaces, straight from the log: B's (from the run's setup) and A's.
	rows, err := w.db.Pool.Query(ctx, `SELECT tx::text || '-' || id FROM events WHERE workspace_id = ANY($1::uuid[]) ORDER BY tx, id`,
		[]string{w.wsA, w.wsB})
	if err != nil {
		return lv, err
	}
	if lv.foreignIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return lv, err
	}
	if len(lv.foreignIDs) == 0 {
		return lv, errors.New("no event of the other workspaces in the log")
	}
	lv.foreignMarks = append(slices.Clone(w.markers), w.wsA, w.aContact(ctx))
	return lv, nil
}

// --- webhooks into the inbox ------------------------------------------------------------------

func (lv *liveWorld) post(ctx context.Context, body []byte) error {
	st, err := harness.PostWebhook(ctx, lv.w.c.HC, lv.w.c.Base, body, webhook.Sign([]byte(harness.AppSecret), body))
	if err == nil && st != 200 {
		err = fmt.Errorf("webhook -> %d", st)
	}
	return err
}

// say posts customer k's next message (the generator's kinds in turn) and returns its wamid.
func (lv *liveWorld) say(ctx context.Context, k int) (string, error) {
	pl := lv.gen.At(k + customers*lv.said[k])
	lv.said[k]++
	return pl.WAMID, lv.post(ctx, pl.Body)
}

func (lv *liveWorld) meta() string {
	return fmt.Sprintf(`"messaging_product":"whatsapp","metadata":{"display_phone_number":"%s","phone_number_id":"%s"}`,
		lv.tenant.Display, lv.tenant.PhoneNumberID)
}

func (lv *liveWorld) envelope(value string) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"value":{%s,%s},"field":"messages"}]}]}`,
		lv.tenant.WABAID, lv.meta(), value)
}

func newWAMID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "wamid.LIVEPROBE" + hex.EncodeToString(b)
}

// text posts a text message from waID (a keyword, say) and returns its wamid.
func (lv *liveWorld) text(ctx context.Context, waID, body string) (string, error) {
	wamid := newWAMID()
	return wamid, lv.post(ctx, lv.envelope(fmt.Sprintf(`"contacts":[{"profile":{"name":"Live %s"},"wa_id":"%s"}],`+
		`"messages":[{"from":"%s","id":"%s","timestamp":"%d","type":"text","text":{"body":%q}}]`, waID, waID, waID, wamid, time.Now().Unix(), body)))
}

// status posts Meta's report of an outbound message.
func (lv *liveWorld) status(ctx context.Context, wamid, status, waID string) error {
	return lv.post(ctx, lv.envelope(fmt.Sprintf(`"statuses":[{"id":"%s","status":"%s","timestamp":"%d","recipient_id":"%s"}]`,
		wamid, status, time.Now().Unix(), waID)))
}

// received waits for the owner's stream to carry the message with wamid.
func (lv *liveWorld) received(ctx context.Context, wamid string) (sseEvent, error) {
	ev, ok := lv.ownerSt.waitFor(ctx, eventWait, func(ev sseEvent) bool {
		return ev.Data.Kind == "message.received" && ev.Data.Details["wamid"] == wamid
	})
	if !ok {
		return ev, fmt.Errorf("message %s not on the owner's stream within %v (%s)", wamid, eventWait, lv.whereIs(ctx, wamid))
	}
	return ev, nil
}

// whereIs says how far an inbound message got: the job answering for its webhook, its row,
// its event.
func (lv *liveWorld) whereIs(ctx context.Context, wamid string) string {
	var jobs, msg, evs, last string
	err := lv.w.db.Pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(string_agg(w.kind || ' ' || w.state || ' attempt ' || w.attempt || coalesce(' ' || (w.errors[cardinality(w.errors)]->>'error'), ''), ', '), 'no job')
			FROM (`+riveradapter.WebhookBodiesQuery+`) w WHERE position(convert_to($1, 'UTF8') IN w.raw) > 0),
		(SELECT coalesce(string_agg(id::text, ', '), 'no message row') FROM messages WHERE wamid = $1),
		(SELECT coalesce(string_agg(tx::text || '-' || id, ', '), 'no event') FROM events WHERE workspace_id = $2 AND payload->>'wamid' = $1),
		(SELECT coalesce(max(tx::text || '-' || id), 'none') FROM events WHERE workspace_id = $2)`, wamid, lv.ws).Scan(&jobs, &msg, &evs, &last)
	if err != nil {
		return "diagnosis failed: " + err.Error()
	}
	n := len(lv.ownerSt.events())
	return fmt.Sprintf("job: %s; message: %s; event: %s; the inbox's last event %s; %d events on the owner's stream; %s", jobs, msg, evs, last, n,
		lv.w.holdback(ctx))
}

// holdback names the oldest write transaction open on the Postgres server: streams read no
// event appended after it began until it ends.
func (w *world) holdback(ctx context.Context) string {
	var db, state, query string
	var pid int
	var age float64
	err := w.db.Pool.QueryRow(ctx, `SELECT coalesce(datname, ''), pid, extract(epoch FROM now() - xact_start)::float8, coalesce(state, ''),
		left(regexp_replace(query, '\s+', ' ', 'g'), 60) FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start LIMIT 1`).
		Scan(&db, &pid, &age, &state, &query)
	if errors.Is(err, pgx.ErrNoRows) {
		return "no write transaction open on the server"
	}
	if err != nil {
		return "pg_stat_activity: " + err.Error()
	}
	return fmt.Sprintf("oldest write transaction on the server: database %s, pid %d, %.1fs old, %s: %s", db, pid, age, state, query)
}

// settle waits until the owner's stream has every event of the inbox the log holds now
// (of the kinds streams carry).
func (lv *liveWorld) settle(ctx context.Context) error {
	var last string
	ks := make([]string, 0, len(live.Names))
	for _, k := range live.Kinds() {
		ks = append(ks, string(k))
	}
	err := lv.w.db.Pool.QueryRow(ctx, `SELECT tx::text || '-' || id FROM events WHERE workspace_id = $1 AND kind = ANY($2)
		ORDER BY tx DESC, id DESC LIMIT 1`, lv.ws, ks).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := lv.ownerSt.waitFor(ctx, eventWait, func(ev sseEvent) bool { return ev.ID == last }); !ok {
		return fmt.Errorf("event %s of the log not on the owner's stream within %v (%s)", last, eventWait, lv.w.holdback(ctx))
	}
	return nil
}

// newCustomer writes from a customer never seen before (nobody's conversation, every
// agent's queue) and returns the event of that message on the owner's stream.
func (lv *liveWorld) newCustomer(ctx context.Context) (sseEvent, int, error) {
	k := lv.nextCustomer
	lv.nextCustomer++
	wamid, err := lv.say(ctx, k)
	if err != nil {
		return sseEvent{}, k, err
	}
	ev, err := lv.received(ctx, wamid)
	return ev, k, err
}

// sentinel settles the inbox, then makes a new customer write: the event every stream of
// the inbox may carry, after everything else.
func (lv *liveWorld) sentinel(ctx context.Context) (string, error) {
	if err := lv.settle(ctx); err != nil {
		return "", err
	}
	ev, _, err := lv.newCustomer(ctx)
	return ev.ID, err
}

func (lv *liveWorld) do(ctx context.Context, want int, method, path, token string, body any) (map[string]any, error) {
	return lv.w.c.Must(ctx, want, method, "/v1/workspaces/"+lv.ws+path, token, body)
}

// --- tickets ----------------------------------------------------------------------------------

func (lv *liveWorld) tickets(ctx context.Context) *probe {
	p := &probe{name: "live events: spent, racing, forged and altered tickets; other workspaces' and revoked members'"}
	use := func(ws, tk string, headers ...string) int {
		return lv.sc.answer(ctx, eventsPath(ws, "?ticket="+url.QueryEscape(tk)), headers...)
	}
	ticket := func(u harness.User, ws string) string {
		tk, _, err := takeTicket(ctx, lv.w.c, u.Token, ws)
		if err != nil {
			p.try(false, "setup: "+err.Error())
		}
		return tk
	}
	// Spent: each ticket opens once, then never again (with the query form of resume too).
	for i := range 5 {
		tk := ticket([]harness.User{lv.owner, lv.a, lv.b}[i%3], lv.ws)
		if tk == "" {
			continue
		}
		st := use(lv.ws, tk)
		p.try(st == 200, fmt.Sprintf("control: a fresh ticket -> %d", st))
		for _, extra := range []string{"", "&last_event_id=1-1"} {
			st := lv.sc.answer(ctx, eventsPath(lv.ws, "?ticket="+url.QueryEscape(tk)+extra))
			p.try(st == 401, fmt.Sprintf("a spent ticket again%s -> %d", extra, st))
		}
	}
	// Racing: one ticket, twelve requests at once; one stream opens.
	if tk := ticket(lv.b, lv.ws); tk != "" {
		out := make(chan int, 12)
		for range 12 {
			go func() { out <- use(lv.ws, tk) }()
		}
		opened := 0
		for range 12 {
			st := <-out
			if st == 200 {
				opened++
				p.try(opened == 1, fmt.Sprintf("one ticket opened %d streams at once", opened))
			} else {
				p.try(st == 401, fmt.Sprintf("a ticket racing its own use -> %d", st))
			}
		}
		p.try(opened == 1, fmt.Sprintf("control: of 12 racing uses of a ticket %d opened", opened))
	}
	// Forged and altered: an unspent real ticket, bent; other secrets; junk.
	real := ticket(lv.owner, lv.ws)
	if real != "" {
		forged := map[string]string{
			"random wet_ ticket":         randomToken("wet_"),
			"random wrt_ token":          randomToken("wrt_"),
			"random wsk_ key":            randomToken("wsk_"),
			"random wpr_ token":          randomToken("wpr_"),
			"random wiv_ token":          randomToken("wiv_"),
			"random, no prefix":          randomToken(""),
			"real ticket, last changed":  flipLast(real),
			"real ticket, upper-cased":   strings.ToUpper(real),
			"real ticket, truncated":     real[:len(real)-1],
			"real ticket, junk appended": real + "x",
			"real ticket without prefix": strings.TrimPrefix(real, "wet_"),
			"real ticket, other prefix":  "wrt_" + strings.TrimPrefix(real, "wet_"),
			"real ticket, spaces around": " " + real + " ",
			"real ticket, NUL appended":  real + "\x00",
			"the owner's refresh token":  lv.owner.Refresh,
			"the owner's access token":   lv.owner.Token,
			"an API key":                 lv.agentKey,
			"prefix only":                "wet_",
			"SQL":                        "wet_' OR '1'='1",
			"SQL, comment":               "wet_x' OR 1=1 --",
			"LIKE wildcard":              "wet_%",
			"8,000 characters":           "wet_" + strings.Repeat("A", 8000),
			"100,000 characters":         "wet_" + strings.Repeat("A", 100_000),
			"unicode":                    "wet_ſtop✓",
		}
		for name, tk := range forged {
			st := use(lv.ws, tk)
			// A NUL anywhere in a query string is refused at the edge (422) before any
			// handler reads it.
			p.try(st == 401 || (st == 422 && strings.Contains(tk, "\x00")), fmt.Sprintf("%s -> %d", name, st))
		}
		for name, q := range map[string]string{"empty ticket": "?ticket=", "ticket twice, forged first": "?ticket=" +
			url.QueryEscape(randomToken("wet_")) + "&ticket=" + url.QueryEscape(real)} {
			st := lv.sc.answer(ctx, eventsPath(lv.ws, q))
			p.try(st == 401, fmt.Sprintf("%s -> %d", name, st))
		}
		// A ticket is no bearer.
		st := lv.sc.answer(ctx, eventsPath(lv.ws, ""), "Authorization", "Bearer "+real)
		p.try(st == 401, fmt.Sprintf("a real ticket as a bearer -> %d", st))
		r, err := lv.w.c.Do(ctx, "GET", "/v1/workspaces/"+lv.ws+"/conversations", real, nil)
		p.try(err == nil && r.Status == 401, fmt.Sprintf("a real ticket as the bearer of the REST API -> %d", r.Status))
		// None of that spent it.
		st = use(lv.ws, real)
		p.try(st == 200, fmt.Sprintf("control: the real ticket after the forgeries -> %d", st))
	}
	// Another workspace: the owner's ticket of the inbox on the owner's other workspace, on
	// a workspace the owner is not in, on one that does not exist; and the other way.
	for name, ws := range map[string]string{"its owner's other workspace": lv.ws2, "a workspace its user is not in": lv.w.wsB} {
		if tk := ticket(lv.owner, lv.ws); tk != "" {
			st := use(ws, tk)
			p.try(st == 403, fmt.Sprintf("a ticket of workspace L on %s -> %d", name, st))
		}
	}
	if tk := ticket(lv.owner, lv.ws); tk != "" {
		st := use(randomUUID(), tk)
		p.try(st == 403 || st == 404, fmt.Sprintf("a ticket on a workspace that does not exist -> %d", st))
	}
	if tk := ticket(lv.owner, lv.ws2); tk != "" {
		st := use(lv.ws, tk)
		p.try(st == 403, fmt.Sprintf("a ticket of the owner's other workspace on L -> %d", st))
	}
	if tk := ticket(lv.owner, lv.ws); tk != "" {
		st := use("not-a-workspace", tk)
		p.try(st == 404, fmt.Sprintf("a ticket on a malformed workspace id -> %d", st))
	}
	// Who may not take one: a non-member, an API key (tickets are for browsers).
	for name, tok := range map[string]string{"a non-member": lv.w.a.Token, "an agent API key": lv.agentKey} {
		r, err := lv.w.c.Do(ctx, "POST", "/v1/workspaces/"+lv.ws+"/events/tickets", tok, nil)
		p.try(err == nil && r.Status == 403, fmt.Sprintf("a ticket asked by %s -> %d", name, r.Status))
	}
	r, err := lv.w.c.Do(ctx, "POST", "/v1/workspaces/"+randomUUID()+"/events/tickets", lv.owner.Token, nil)
	p.try(err == nil && r.Status == 404, fmt.Sprintf("a ticket of a workspace that does not exist -> %d", r.Status))
	// A member removed after taking a ticket; a session logged out after taking one.
	if tk := ticket(lv.c, lv.ws); tk != "" {
		if _, err := lv.do(ctx, 204, "DELETE", "/members/"+lv.c.ID, lv.owner.Token, nil); err != nil {
			p.try(false, "setup: "+err.Error())
		} else {
			st := use(lv.ws, tk)
			p.try(st == 403, fmt.Sprintf("the ticket of a member removed since -> %d", st))
		}
	}
	u, err := lv.w.c.SignupLogin(ctx, fmt.Sprintf("live-leaver-%d@example.com", time.Now().UnixNano()))
	if err == nil {
		_, err = lv.do(ctx, 201, "POST", "/members", lv.owner.Token, map[string]string{"email": u.Email, "role": "agent"})
	}
	if err != nil {
		p.try(false, "setup: "+err.Error())
	} else if tk := ticket(u, lv.ws); tk != "" {
		if r, err := lv.w.c.Do(ctx, "POST", "/v1/auth/logout", "", map[string]string{"refresh_token": u.Refresh}); err != nil || r.Status != 204 {
			p.try(false, fmt.Sprintf("setup: logout -> %d %v", r.Status, err))
		} else {
			st := use(lv.ws, tk)
			p.try(st == 401, fmt.Sprintf("the ticket of a session logged out since -> %d", st))
			st = lv.sc.answer(ctx, eventsPath(lv.ws, ""), "Authorization", "Bearer "+u.Token)
			p.try(st == 401, fmt.Sprintf("the access token of a session logged out -> %d", st))
		}
	}
	return p
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// --- who may open a stream --------------------------------------------------------------------

func (lv *liveWorld) streamAuth(ctx context.Context) *probe {
	p := &probe{name: "live events: streams of non-members, other workspaces' keys, unknown workspaces, no or query-string credentials"}
	other, err := lv.w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+lv.w.wsB+"/api-keys", lv.w.b.Token, map[string]string{"name": "live probe", "role": "owner"})
	if err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	otherKey, _ := other["key"].(string)
	revoked, err := lv.do(ctx, 201, "POST", "/api-keys", lv.owner.Token, map[string]string{"name": "revoked", "role": "owner"})
	if err == nil {
		_, err = lv.do(ctx, 204, "DELETE", "/api-keys/"+revoked["id"].(string), lv.owner.Token, nil)
	}
	if err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	revokedKey, _ := revoked["key"].(string)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	type attempt struct {
		name, path string
		headers    []string
		want       int
	}
	ws := lv.ws
	attempts := []attempt{
		{"a non-member's bearer", eventsPath(ws, ""), bearer(lv.w.a.Token), 403},
		{"a non-member's bearer, resuming", eventsPath(ws, "?last_event_id=1-1"), bearer(lv.w.a.Token), 403},
		{"another workspace's owner API key", eventsPath(ws, ""), bearer(otherKey), 403},
		{"another workspace's API key, its id in the query", eventsPath(ws, "?workspace_id="+lv.w.wsB), bearer(otherKey), 403},
		{"a revoked API key of the workspace", eventsPath(ws, ""), bearer(revokedKey), 401},
		{"a random uuid workspace", eventsPath(randomUUID(), ""), bearer(lv.owner.Token), 404},
		{"a random uuid workspace, API key", eventsPath(randomUUID(), ""), bearer(lv.agentKey), 404},
		{"the nil uuid workspace", eventsPath("00000000-0000-0000-0000-000000000000", ""), bearer(lv.owner.Token), 404},
		{"no credentials", eventsPath(ws, ""), nil, 401},
		{"no credentials, resuming", eventsPath(ws, "?last_event_id=1-1"), []string{"Last-Event-ID", "1-1"}, 401},
		{"an empty bearer", eventsPath(ws, ""), []string{"Authorization", "Bearer "}, 401},
		{"a token without Bearer", eventsPath(ws, ""), []string{"Authorization", lv.owner.Token}, 401},
		{"Basic with the password", eventsPath(ws, ""), []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(lv.owner.Email+":"+harness.Password))}, 401},
		{"a bearer as a cookie", eventsPath(ws, ""), []string{"Cookie", "access_token=" + lv.owner.Token + "; token=" + lv.owner.Token}, 401},
		{"an API key in X-API-Key", eventsPath(ws, ""), []string{"X-API-Key", lv.agentKey}, 401},
		{"a refresh token as the bearer", eventsPath(ws, ""), bearer(lv.owner.Refresh), 401},
	}
	for _, param := range []string{"access_token", "token", "bearer", "authorization", "jwt", "auth"} {
		attempts = append(attempts, attempt{"the owner's token in ?" + param + "=", eventsPath(ws, "?"+param+"="+url.QueryEscape(lv.owner.Token)), nil, 401})
	}
	attempts = append(attempts,
		attempt{"Bearer <token> in ?authorization=", eventsPath(ws, "?authorization="+url.QueryEscape("Bearer "+lv.owner.Token)), nil, 401},
		attempt{"an API key in ?api_key=", eventsPath(ws, "?api_key="+url.QueryEscape(lv.agentKey)), nil, 401},
		attempt{"an API key in ?key=", eventsPath(ws, "?key="+url.QueryEscape(lv.agentKey)), nil, 401},
		attempt{"an API key in ?ticket=", eventsPath(ws, "?ticket="+url.QueryEscape(lv.agentKey)), nil, 401})
	for _, bad := range []string{"not-a-uuid", "00000000-0000-0000-0000-00000000000g", ws + "0", ws[:len(ws)-1], strings.ToUpper(ws) + "x",
		"%27%20OR%20%271%27%3D%271", "..%2F..%2Fv1%2Fme", "%00", strings.Repeat("a", 5000)} {
		attempts = append(attempts, attempt{"malformed workspace " + trunc(bad, 24), eventsPath(bad, ""), bearer(lv.owner.Token), 404})
		// Without credentials: 401, or 404 where the router matches no route at all.
		attempts = append(attempts, attempt{"malformed workspace " + trunc(bad, 24) + ", no credentials", eventsPath(bad, ""), nil, 401})
	}
	for _, a := range attempts {
		st := lv.sc.answer(ctx, a.path, a.headers...)
		ok := st == a.want || (a.want == 401 && st == 404 && strings.HasPrefix(a.name, "malformed"))
		p.try(ok, fmt.Sprintf("%s -> %d, want %d", a.name, st, a.want))
	}
	// The same streams opened for real, as a control: the probe's requests can succeed.
	for name, h := range map[string][]string{"the owner's bearer": bearer(lv.owner.Token), "the agent API key": bearer(lv.agentKey)} {
		st := lv.sc.answer(ctx, eventsPath(ws, ""), h...)
		p.try(st == 200, fmt.Sprintf("control: %s -> %d", name, st))
	}
	return p
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// --- what an agent's stream carries -----------------------------------------------------------

// isolation gives agent A five conversations (three assigned before agent B's streams
// open, one taken from B's queue while they are open, one reassigned from B to A while
// they are open) and makes them busy: customers' messages, notes, status changes, read
// marks, sends, delivery reports, contact edits, opt-outs by API and by keyword, a
// reassignment to A again. A new customer then writes (the sentinel); B's streams (bearer,
// ticket, and an agent-role API key's) must carry nothing of A's conversations until then.
func (lv *liveWorld) isolation(ctx context.Context) *probe {
	p := &probe{name: "live events: agent B's streams carry nothing of agent A's conversations"}
	if err := lv.busyInbox(ctx, p); err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	for _, s := range lv.bStreams {
		_, ok := s.waitFor(ctx, eventWait, func(ev sseEvent) bool { return ev.ID == lv.sentinelID })
		p.try(ok, fmt.Sprintf("control: the sentinel %s not on %s's stream", lv.sentinelID, s.label))
	}
	if err := lv.collectIDs(ctx); err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	aEvents := lv.guardedEvents(lv.ownerSt.events())
	p.try(len(aEvents) >= 8*len(lv.guarded), fmt.Sprintf("control: only %d events of A's conversations on the owner's stream", len(aEvents)))
	for _, g := range lv.guarded {
		n := 0
		for _, ev := range lv.guardedEvents(lv.aSt.events()) {
			if ev.Data.ConversationID == g.conv || ev.Data.ContactID == g.contact {
				n++
			}
		}
		p.try(n > 0, fmt.Sprintf("control: agent A's own stream has nothing of its %s conversation", g.label))
	}
	for _, s := range lv.bStreams {
		lv.checkStream(p, s, aEvents)
	}
	return p
}

// checkStream counts, on a stream of someone who is not agent A, every event of A's
// conversations it must not carry, and every event it carries, which must name nothing of
// them (nor of another workspace).
func (lv *liveWorld) checkStream(p *probe, s *sseStream, aEvents []sseEvent) {
	got := s.events()
	has := map[string]bool{}
	for _, ev := range got {
		has[ev.ID] = true
	}
	for _, ev := range aEvents {
		p.try(!has[ev.ID], fmt.Sprintf("%s's stream carried %s (%s) of A's %s (event %s)", s.label, ev.Name, ev.Data.Kind, about(ev), ev.ID))
	}
	for _, ev := range got {
		what := lv.leak(ev)
		p.try(what == "", fmt.Sprintf("%s's stream: %s (%s, event %s) names %s", s.label, ev.Name, ev.Data.Kind, ev.ID, what))
	}
}

// about names what an event concerns: its conversation, else its contact.
func about(ev sseEvent) string {
	if ev.Data.ConversationID != "" {
		return "conversation " + ev.Data.ConversationID
	}
	return "contact " + ev.Data.ContactID
}

// leak is what of A's conversations (or of other workspaces) ev names, "" if nothing.
func (lv *liveWorld) leak(ev sseEvent) string {
	at := parsePosition(ev.ID)
	for _, g := range lv.guarded {
		if at.before(g.from) || g.allowed[ev.ID] {
			continue
		}
		for _, id := range g.ids {
			if strings.Contains(ev.Raw, id) {
				return "A's " + g.label + " conversation's " + id
			}
		}
	}
	if slices.Contains(lv.foreignIDs, ev.ID) {
		return "another workspace's event id"
	}
	for _, m := range lv.foreignMarks {
		if m != "" && strings.Contains(ev.Raw, m) {
			return "another workspace's " + m
		}
	}
	return ""
}

// guardedEvents are the events among evs that belong to A's conversations alone.
func (lv *liveWorld) guardedEvents(evs []sseEvent) []sseEvent {
	var out []sseEvent
	for _, ev := range evs {
		at := parsePosition(ev.ID)
		for _, g := range lv.guarded {
			if at.before(g.from) || g.allowed[ev.ID] {
				continue
			}
			if ev.Data.ConversationID == g.conv || ev.Data.ContactID == g.contact {
				out = append(out, ev)
				break
			}
		}
	}
	return out
}

// collectIDs gives each of A's conversations the ids and wamids of its contact's messages,
// as the log holds them now.
func (lv *liveWorld) collectIDs(ctx context.Context) error {
	for _, g := range lv.guarded {
		rows, err := lv.w.db.Pool.Query(ctx, `SELECT id::text FROM messages WHERE workspace_id = $1 AND contact_id = $2
			UNION ALL SELECT wamid FROM messages WHERE workspace_id = $1 AND contact_id = $2 AND wamid IS NOT NULL`, lv.ws, g.contact)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		g.ids = append([]string{g.conv, g.contact}, ids...)
	}
	return nil
}

// busyInbox sets up A's conversations and B's streams, makes the conversations busy and
// ends with the sentinel (lv.sentinelID).
func (lv *liveWorld) busyInbox(ctx context.Context, p *probe) error {
	// Three customers write and their conversations go to A (with their contacts).
	assigned := func(conv, to string) (sseEvent, error) {
		ev, ok := lv.ownerSt.waitFor(ctx, eventWait, func(ev sseEvent) bool {
			return ev.Data.Kind == "conversation.assigned" && ev.Data.ConversationID == conv && ev.Data.Details["to"] == to
		})
		if !ok {
			return ev, fmt.Errorf("assignment of %s to %s not on the owner's stream within %v (%s)", conv, to, eventWait, lv.w.holdback(ctx))
		}
		return ev, nil
	}
	first := func(label string) (*guarded, int, error) {
		ev, k, err := lv.newCustomer(ctx)
		if err != nil {
			return nil, k, err
		}
		if ev.Data.ConversationID == "" || ev.Data.ContactID == "" {
			return nil, k, fmt.Errorf("a new customer's message without conversation or contact: %s", ev.Raw)
		}
		return &guarded{label: label, conv: ev.Data.ConversationID, contact: ev.Data.ContactID, allowed: map[string]bool{}}, k, nil
	}
	var ks []int
	for _, label := range []string{"first", "second", "third"} {
		g, k, err := first(label)
		if err != nil {
			return err
		}
		lv.guarded = append(lv.guarded, g)
		ks = append(ks, k)
	}
	moved, kMoved, err := first("reassigned from B")
	if err != nil {
		return err
	}
	if _, err := lv.do(ctx, 200, "POST", "/conversations/"+moved.conv+"/assign", lv.owner.Token, map[string]any{"user_id": lv.b.ID}); err != nil {
		return err
	}
	for _, g := range lv.guarded {
		if _, err := lv.do(ctx, 200, "POST", "/conversations/"+g.conv+"/assign", lv.owner.Token, map[string]any{"user_id": lv.a.ID}); err != nil {
			return err
		}
		if _, err := lv.do(ctx, 200, "PATCH", "/contacts/"+g.contact, lv.owner.Token, map[string]any{"assigned_to": lv.a.ID}); err != nil {
			return err
		}
	}
	if err := lv.settle(ctx); err != nil {
		return err
	}

	// B's streams: bearer, ticket; and an agent-role API key's.
	tk, _, err := takeTicket(ctx, lv.w.c, lv.b.Token, lv.ws)
	if err != nil {
		return err
	}
	for _, o := range []struct{ label, path, auth string }{
		{"agent B (bearer)", eventsPath(lv.ws, ""), "Bearer " + lv.b.Token},
		{"agent B (ticket)", eventsPath(lv.ws, "?ticket="+url.QueryEscape(tk)), ""},
		{"an agent API key", eventsPath(lv.ws, ""), "Bearer " + lv.agentKey},
	} {
		var h []string
		if o.auth != "" {
			h = []string{"Authorization", o.auth}
		}
		s, st := lv.sc.open(ctx, o.label, o.path, h...)
		if st != 200 {
			return fmt.Errorf("%s's stream -> %d", o.label, st)
		}
		lv.streams = append(lv.streams, s)
		lv.bStreams = append(lv.bStreams, s)
	}

	// A customer of the queue, seen by B, then taken by A.
	taken, kTaken, err := first("taken from the queue")
	if err != nil {
		return err
	}
	for _, s := range lv.bStreams {
		_, ok := s.waitFor(ctx, eventWait, func(ev sseEvent) bool { return ev.Data.ConversationID == taken.conv })
		p.try(ok, fmt.Sprintf("control: %s's stream did not carry an unassigned conversation (the queue)", s.label))
	}
	if _, err := lv.do(ctx, 200, "POST", "/conversations/"+taken.conv+"/assign", lv.a.Token, map[string]any{"user_id": lv.a.ID}); err != nil {
		return err
	}
	ev, err := assigned(taken.conv, lv.a.ID)
	if err != nil {
		return err
	}
	taken.from = parsePosition(ev.ID)
	// B's conversation, reassigned to A: B may see that assignment, nothing after it.
	if _, err := lv.do(ctx, 200, "POST", "/conversations/"+moved.conv+"/assign", lv.owner.Token, map[string]any{"user_id": lv.a.ID}); err != nil {
		return err
	}
	if ev, err = assigned(moved.conv, lv.a.ID); err != nil {
		return err
	}
	moved.from, moved.allowed[ev.ID] = parsePosition(ev.ID), true
	for _, g := range []*guarded{taken, moved} {
		if _, err := lv.do(ctx, 200, "PATCH", "/contacts/"+g.contact, lv.owner.Token, map[string]any{"assigned_to": lv.a.ID}); err != nil {
			return err
		}
	}
	lv.guarded = append(lv.guarded, taken, moved)
	ks = append(ks, kTaken, kMoved)

	// Busy: everything A's conversations can go through.
	var wamids []string
	type report struct{ message, wamid, status, waID string }
	var reports []report
	for i, g := range lv.guarded {
		k := ks[i]
		for range 2 {
			wamid, err := lv.say(ctx, k)
			if err != nil {
				return err
			}
			wamids = append(wamids, wamid)
		}
		for _, c := range []struct {
			method, path, token string
			body                any
		}{
			{"POST", "/conversations/" + g.conv + "/notes", lv.a.Token, map[string]any{"body": "A's private note " + g.label}},
			{"POST", "/conversations/" + g.conv + "/status", lv.a.Token, map[string]any{"status": "pending"}},
			{"POST", "/conversations/" + g.conv + "/read", lv.a.Token, nil},
			{"POST", "/conversations/" + g.conv + "/assign", lv.owner.Token, map[string]any{"user_id": lv.a.ID}},
			{"PATCH", "/contacts/" + g.contact, lv.a.Token, map[string]any{"name": "A's customer " + g.label, "tags": []string{"a-only"}}},
			{"POST", "/messages", lv.a.Token, map[string]any{"to": g.contact, "type": "text", "text": map[string]string{"body": "from A"}}},
			{"POST", "/conversations/" + g.conv + "/status", lv.a.Token, map[string]any{"status": "resolved"}},
			{"POST", "/conversations/" + g.conv + "/status", lv.owner.Token, map[string]any{"status": "open"}},
		} {
			r, err := lv.w.c.Do(ctx, c.method, "/v1/workspaces/"+lv.ws+c.path, c.token, c.body)
			if err != nil || r.Status < 200 || r.Status > 299 {
				return fmt.Errorf("%s %s -> %d %v: %s", c.method, c.path, r.Status, err, r.Body)
			}
		}
		// A message A sent earlier (as the log would hold it once Meta took it: the bench's
		// number has no token to send with), and Meta's reports of it.
		msg, wamid := randomUUID(), newWAMID()
		var waID string
		if err := lv.w.db.Pool.QueryRow(ctx, `SELECT wa_id FROM contacts WHERE workspace_id = $1 AND id = $2`, lv.ws, g.contact).Scan(&waID); err != nil {
			return err
		}
		if _, err := lv.w.db.Pool.Exec(ctx, `INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type,
			content, status, wamid, created_at, sent_at) VALUES ($1, $2, $3, $4, 'outbound', 'text', '{"body":"earlier"}', 'sent', $5, now(), now())`,
			lv.ws, msg, g.contact, lv.tenant.PhoneNumberID, wamid); err != nil {
			return err
		}
		for _, st := range []string{"delivered", "read"} {
			reports = append(reports, report{msg, wamid, st, waID})
		}
	}
	for _, r := range reports {
		if err := lv.status(ctx, r.wamid, r.status, r.waID); err != nil {
			return err
		}
		if _, ok := lv.ownerSt.waitFor(ctx, eventWait, func(ev sseEvent) bool {
			return ev.Data.Kind == "message.status" && ev.Data.MessageID == r.message && ev.Data.Details["status"] == r.status
		}); !ok {
			return fmt.Errorf("report %s of %s not on the owner's stream within %v (%s)", r.status, r.message, eventWait, lv.w.holdback(ctx))
		}
	}
	// Opt-outs: by API (A) on the first contact, by keyword on the second.
	g0, g1 := lv.guarded[0], lv.guarded[1]
	var waID string
	for _, path := range []string{"/opt-out", "/opt-in"} {
		if _, err := lv.do(ctx, 200, "POST", "/contacts/"+g0.contact+path, lv.a.Token, nil); err != nil {
			return err
		}
	}
	if err := lv.w.db.Pool.QueryRow(ctx, `SELECT wa_id FROM contacts WHERE workspace_id = $1 AND id = $2`, lv.ws, g1.contact).Scan(&waID); err != nil {
		return err
	}
	for _, kw := range []string{"STOP", "START"} {
		wamid, err := lv.text(ctx, waID, kw)
		if err != nil {
			return err
		}
		wamids = append(wamids, wamid)
		if _, err := lv.received(ctx, wamid); err != nil {
			return err
		}
	}
	for _, wamid := range wamids {
		if _, err := lv.received(ctx, wamid); err != nil {
			return err
		}
	}
	lv.firstID = lv.ownerSt.events()[0].ID
	lv.sentinelID, err = lv.sentinel(ctx)
	return err
}

// --- resuming ---------------------------------------------------------------------------------

// resume opens B's streams with a Last-Event-ID of the inbox's first event (before A's
// conversations were A's), of an event of A's conversation, and of other workspaces'
// events: what they replay must name nothing of A's conversations (nor of the others).
func (lv *liveWorld) resume(ctx context.Context) *probe {
	p := &probe{name: "live events: agent B resuming after A's events and other workspaces' events"}
	if len(lv.guarded) == 0 || lv.sentinelID == "" {
		p.try(false, "setup: the isolation probe did not get as far as its sentinel")
		return p
	}
	aEvents := lv.guardedEvents(lv.ownerSt.events())
	if len(aEvents) == 0 {
		p.try(false, "setup: no event of A's conversations to resume after")
		return p
	}
	mid, last := aEvents[len(aEvents)/2].ID, aEvents[len(aEvents)-1].ID
	foreign := lv.foreignIDs[len(lv.foreignIDs)-1]
	type opening struct {
		label, auth, query, header string
		own                        bool // resumes after an event of the inbox: the earlier sentinel is due
	}
	openings := []opening{
		{"B resuming after the inbox's first event (bearer, header)", "bearer", "", lv.firstID, true},
		{"B resuming after the inbox's first event (ticket, query)", "ticket", lv.firstID, "", true},
		{"B resuming after an event of A's conversation (bearer, query)", "bearer", mid, "", true},
		{"B resuming after A's last event (ticket, query)", "ticket", last, "", true},
		{"agent key resuming after the inbox's first event", "key", "", lv.firstID, true},
		{"B resuming after another workspace's event (bearer, header)", "bearer", "", foreign, false},
		{"B resuming after another workspace's first event (ticket, query)", "ticket", lv.foreignIDs[0], "", false},
		{"agent key resuming after another workspace's event", "key", foreign, "", false},
	}
	var streams []*sseStream
	var due []bool
	for _, o := range openings {
		q := ""
		if o.query != "" {
			q = "?last_event_id=" + url.QueryEscape(o.query)
		}
		var h []string
		switch o.auth {
		case "bearer":
			h = []string{"Authorization", "Bearer " + lv.b.Token}
		case "key":
			h = []string{"Authorization", "Bearer " + lv.agentKey}
		case "ticket":
			tk, _, err := takeTicket(ctx, lv.w.c, lv.b.Token, lv.ws)
			if err != nil {
				p.try(false, "setup: "+err.Error())
				continue
			}
			if q == "" {
				q = "?ticket=" + url.QueryEscape(tk)
			} else {
				q += "&ticket=" + url.QueryEscape(tk)
			}
		}
		if o.header != "" {
			h = append(h, "Last-Event-ID", o.header)
		}
		s, st := lv.sc.open(ctx, o.label, eventsPath(lv.ws, q), h...)
		p.try(st == 200, fmt.Sprintf("%s -> %d", o.label, st))
		if s != nil {
			lv.streams = append(lv.streams, s)
			streams, due = append(streams, s), append(due, o.own)
		}
	}
	// Control: the owner resuming after the first event is replayed A's conversations.
	ownerResumed, st := lv.sc.open(ctx, "owner resuming", eventsPath(lv.ws, ""), "Authorization", "Bearer "+lv.owner.Token, "Last-Event-ID", lv.firstID)
	if ownerResumed != nil {
		lv.streams = append(lv.streams, ownerResumed)
	}
	sentinel, err := lv.sentinel(ctx)
	if err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	if ownerResumed == nil {
		p.try(false, fmt.Sprintf("control: the owner resuming -> %d", st))
	} else {
		ownerResumed.waitFor(ctx, eventWait, func(ev sseEvent) bool { return ev.ID == sentinel })
		got := map[string]bool{}
		for _, ev := range ownerResumed.events() {
			got[ev.ID] = true
		}
		n, want := 0, 0
		for _, ev := range aEvents {
			if ev.ID == lv.firstID { // resumed after it: not replayed
				continue
			}
			want++
			if got[ev.ID] {
				n++
			}
		}
		p.try(n == want, fmt.Sprintf("control: the owner resuming was replayed %d of A's %d events after the first", n, want))
	}
	for i, s := range streams {
		_, ok := s.waitFor(ctx, eventWait, func(ev sseEvent) bool { return ev.ID == sentinel })
		p.try(ok, fmt.Sprintf("control: the sentinel %s not on %s's stream", sentinel, s.label))
		// Resumed after an event of the inbox, B is replayed what B may see: the isolation
		// probe's sentinel (a new customer, every agent's).
		if due[i] && lv.sentinelID != "" {
			_, ok := s.waitFor(ctx, time.Second, func(ev sseEvent) bool { return ev.ID == lv.sentinelID })
			p.try(ok, fmt.Sprintf("control: %s was not replayed the earlier sentinel %s", s.label, lv.sentinelID))
		}
		lv.checkStream(p, s, aEvents)
	}
	return p
}

// --- Last-Event-ID tampering ------------------------------------------------------------------

// tampering opens the streams of B's workspace (its owner's) with Last-Event-IDs that are
// garbage, huge, negative, or the ids of the inbox's events taken from the inbox's own
// stream: each opens at the live end (or is refused with a 4xx), replaying nothing, least
// of all the inbox's events; the first event each carries is a new customer of B's.
func (lv *liveWorld) tampering(ctx context.Context) *probe {
	p := &probe{name: "live events: Last-Event-ID garbage, huge, negative, another workspace's ids"}
	var number harness.Tenant
	if err := lv.w.db.Pool.QueryRow(ctx, `SELECT phone_number_id, waba_id, display_phone_number FROM phone_numbers WHERE workspace_id = $1`,
		lv.w.wsB).Scan(&number.PhoneNumberID, &number.WABAID, &number.Display); err != nil {
		p.try(false, "setup: B's number: "+err.Error())
		return p
	}
	owned := lv.ownerSt.events()
	if len(owned) < 3 {
		p.try(false, "setup: too few events on the inbox's stream")
		return p
	}
	values := []string{"garbage", "0", "1", "-1", "1-", "-1-1", "-5-3", "5--3", "-1--1", "1--1", "0-0", "1-0", "0-1", "a-b", "1-1-1",
		"1.5-2", "1-+1", "+1-1", "0x10-0x10", "1e3-1", " 1-1 ", "18446744073709551615-9223372036854775807", "18446744073709551616-1",
		"1-9223372036854775808", "9223372036854775807-9223372036854775807", strings.Repeat("9", 40) + "-1", "1-" + strings.Repeat("9", 40),
		strings.Repeat("1", 10_000) + "-" + strings.Repeat("1", 10_000), "1-1' OR '1'='1", "1-1; DROP TABLE events; --",
		"(1,1) OR true", "١-١", "１-１", "%", "1-1%00"}
	fromInbox := map[string]string{"the inbox's first event": owned[0].ID, "the inbox's middle event": owned[len(owned)/2].ID,
		"the inbox's last event": owned[len(owned)-1].ID, "the inbox's sentinel": lv.sentinelID}
	queryOnly := []string{"1-1\x00", "1-1\n2-2", "1-1\r\nX-Injected: 1"}
	bearer := []string{"Authorization", "Bearer " + lv.w.b.Token}
	type opened struct {
		label string
		s     *sseStream
	}
	var streams []opened
	try := func(label, query string, headers ...string) {
		s, st := lv.sc.open(ctx, label, eventsPath(lv.w.wsB, query), append(slices.Clone(bearer), headers...)...)
		p.try(st == 200 || (st >= 400 && st < 500), fmt.Sprintf("%s -> %d", label, st))
		if s != nil {
			lv.streams = append(lv.streams, s)
			streams = append(streams, opened{label, s})
		}
	}
	for _, v := range values {
		if !strings.ContainsAny(v, "\x00\r\n") {
			try(fmt.Sprintf("Last-Event-ID %.30q", v), "", "Last-Event-ID", v)
		}
		try(fmt.Sprintf("last_event_id=%.30q", v), "?last_event_id="+url.QueryEscape(v))
	}
	for _, v := range queryOnly {
		try(fmt.Sprintf("last_event_id=%.30q", v), "?last_event_id="+url.QueryEscape(v))
	}
	for name, id := range fromInbox {
		try("Last-Event-ID of "+name, "", "Last-Event-ID", id)
		try("last_event_id of "+name, "?last_event_id="+url.QueryEscape(id))
	}
	// The sentinel: a new customer of B's, seen first on a stream opened without resuming.
	ref, st := lv.sc.open(ctx, "B's owner", eventsPath(lv.w.wsB, ""), bearer...)
	if ref == nil {
		p.try(false, fmt.Sprintf("setup: B's owner's stream -> %d", st))
		return p
	}
	lv.streams = append(lv.streams, ref)
	gen := harness.NewGenerator([]harness.Tenant{number}, 1000, 0)
	pl := gen.At(1000 - 1)
	if err := lv.post(ctx, pl.Body); err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	first, ok := ref.waitFor(ctx, eventWait, func(sseEvent) bool { return true })
	if !ok {
		p.try(false, fmt.Sprintf("setup: B's new customer not on B's stream within %v (%s)", eventWait, lv.w.holdback(ctx)))
		return p
	}
	sentinel := parsePosition(first.ID)
	inbox := map[string]bool{}
	for _, ev := range owned {
		inbox[ev.ID] = true
	}
	var inboxIDs []string
	for _, g := range lv.guarded {
		inboxIDs = append(inboxIDs, g.ids...)
	}
	inboxIDs = append(inboxIDs, lv.ws)
	for _, o := range streams {
		_, ok := o.s.waitFor(ctx, eventWait, func(ev sseEvent) bool { return ev.ID == first.ID })
		p.try(ok, fmt.Sprintf("control: B's new customer (event %s) not on the stream with %s", first.ID, o.label))
		for _, ev := range o.s.events() {
			bad := ""
			switch {
			case inbox[ev.ID]:
				bad = "the inbox's event"
			case parsePosition(ev.ID).before(sentinel):
				bad = "a replayed event"
			}
			for _, id := range inboxIDs {
				if bad == "" && strings.Contains(ev.Raw, id) {
					bad = "an event naming the inbox's " + id
				}
			}
			p.try(bad == "", fmt.Sprintf("%s: %s %s (%s)", o.label, bad, ev.ID, ev.Name))
		}
	}
	return p
}
