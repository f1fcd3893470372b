package hooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type bundle struct {
	mem     *memory
	clock   *clock
	check   *checker
	send    *sender
	metrics *metrics
	svc     *hooks.Service
	dl      *hooks.Deliverer
	ws      domain.ID
	owner   domain.Caller
	viewer  domain.Caller
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ws := domain.NewID()
	b := &bundle{mem: newMemory(), clock: &clock{t: time.Unix(1768000000, 0).UTC()}, check: &checker{bad: map[string]string{}},
		send: &sender{answer: hooks.Response{Status: 204}}, metrics: &metrics{}, ws: ws}
	grants := authztest.Grants{
		access.Owner:  {access.WebhooksRead, access.WebhooksManage},
		access.Viewer: {access.WebhooksRead},
	}
	b.svc = hooks.NewService(hooks.Deps{Tx: b.mem, Store: b.mem, Vault: vault{}, Checker: b.check, Authz: grants,
		Clock: b.clock.now})
	// The jitter's draw is the middle of its range: every delay is the schedule's own.
	b.dl = hooks.NewDeliverer(hooks.DeliverDeps{Tx: b.mem, Store: b.mem, Vault: vault{}, Sender: b.send, Metrics: b.metrics,
		Clock: b.clock.now, Random: func() float64 { return 0.5 }})
	b.owner = domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Owner}
	b.viewer = domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Viewer}
	return b
}

func ptr[T any](v T) *T { return &v }

// create registers an endpoint of the owner's workspace subscribed to events.
func (b *bundle) create(t *testing.T, url string, events ...string) hooks.Created {
	t.Helper()
	c, err := b.svc.Create(context.Background(), b.owner, hooks.EndpointInput{URL: &url, Events: events})
	require.NoError(t, err)
	return c
}

// run runs the endpoint's delivery job until nothing is due (the first claim that finds
// nothing ends it, instead of its linger).
func (b *bundle) run(t *testing.T, endpointID domain.ID) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.mem.onEmpty = cancel
	defer func() { b.mem.onEmpty = nil }()
	more, err := b.dl.Run(ctx, hooks.EndpointRef{WorkspaceID: b.ws, EndpointID: endpointID}, hooks.Holder{Job: 7, Attempt: 1})
	require.NoError(t, err)
	require.False(t, more)
}

// queue stores a delivery due now for the endpoint (as the test endpoint does).
func (b *bundle) queue(t *testing.T, endpointID domain.ID) domain.HookDelivery {
	t.Helper()
	d, err := b.svc.Test(context.Background(), b.owner, endpointID)
	require.NoError(t, err)
	return d
}

// verify checks one webhook-signature value against a secret, as a receiver does.
func verify(t *testing.T, secret string, r hooks.Request, signature string) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("webhook-id", r.Headers["webhook-id"])
	h.Set("webhook-timestamp", r.Headers["webhook-timestamp"])
	h.Set("webhook-signature", signature)
	return wh.VerifyIgnoringTimestamp(r.Body, h)
}

func fieldsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	require.True(t, domain.IsKind(err, domain.KindValidation), "a validation error (422), got %v", err)
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	out := map[string]string{}
	for _, f := range de.Fields {
		out[f.Field] = f.Message
	}
	return out
}

// --- the endpoint use cases ------------------------------------------------------------

func TestCreateRefusesAURLTheAddressPolicyRefuses(t *testing.T) {
	b := setup(t)
	b.check.bad["https://10.0.0.1/hook"] = "must not point at a private, loopback, link-local or metadata address"
	_, err := b.svc.Create(context.Background(), b.owner, hooks.EndpointInput{URL: ptr("  https://10.0.0.1/hook "),
		Events: []string{"*"}})
	require.Equal(t, map[string]string{"url": "must not point at a private, loopback, link-local or metadata address"}, fieldsOf(t, err))
	require.Equal(t, []string{"https://10.0.0.1/hook"}, b.check.calls, "the checker sees the trimmed URL")
	require.Empty(t, b.mem.endpoints, "nothing stored")
	require.Empty(t, b.mem.events, "nothing audited")

	// A missing URL is refused before anything is resolved.
	_, err = b.svc.Create(context.Background(), b.owner, hooks.EndpointInput{Events: []string{"*"}})
	require.Contains(t, fieldsOf(t, err), "url")
	require.Len(t, b.check.calls, 1)

	// Changing a URL checks the new one the same way.
	c := b.create(t, "https://hooks.example.com/in", "*")
	_, err = b.svc.Update(context.Background(), b.owner, c.Endpoint.ID, hooks.EndpointInput{URL: ptr("https://10.0.0.1/hook")})
	require.Contains(t, fieldsOf(t, err), "url")
	require.Equal(t, "https://hooks.example.com/in", b.mem.endpoint(c.Endpoint.ID).URL, "unchanged")
	// Changing only the events resolves nothing.
	calls := len(b.check.calls)
	_, err = b.svc.Update(context.Background(), b.owner, c.Endpoint.ID, hooks.EndpointInput{Events: []string{"message.read"}})
	require.NoError(t, err)
	require.Len(t, b.check.calls, calls)
}

func TestCreateValidatesTheEventsList(t *testing.T) {
	b := setup(t)
	url := "https://hooks.example.com/in"
	for name, tc := range map[string]struct {
		events []string
		field  string
	}{
		"none":         {[]string{}, "events"},
		"unknown type": {[]string{"message.received", "message.exploded"}, "events"},
		"too many":     {slices.Repeat([]string{"*"}, len(domain.HookEventTypes)+2), "events"},
	} {
		_, err := b.svc.Create(context.Background(), b.owner, hooks.EndpointInput{URL: &url, Events: tc.events})
		require.Contains(t, fieldsOf(t, err), tc.field, name)
	}
	_, err := b.svc.Create(context.Background(), b.owner, hooks.EndpointInput{URL: &url, Events: []string{"*"},
		Description: ptr(strings.Repeat("é", 501))})
	require.Contains(t, fieldsOf(t, err), "description")
	require.Empty(t, b.check.calls, "a request with invalid fields resolves nothing")

	c := b.create(t, url, "message.read", "*", "message.read", "ping")
	require.Equal(t, []domain.HookEventType{domain.HookMessageRead, domain.HookAll, domain.HookPing}, c.Endpoint.Events,
		"duplicates collapse, the order kept")
	require.True(t, strings.HasPrefix(c.Secret, domain.HookSecretPrefix))
	require.Equal(t, domain.HookEndpointCreate, b.mem.events[0].Event.(domain.HookEndpointChanged).Action)

	_, err = b.svc.Update(context.Background(), b.owner, c.Endpoint.ID, hooks.EndpointInput{Events: []string{}})
	require.Contains(t, fieldsOf(t, err), "events", "an update may not empty the list")
	_, err = b.svc.Create(context.Background(), b.viewer, hooks.EndpointInput{URL: &url, Events: []string{"*"}})
	require.True(t, domain.IsKind(err, domain.KindForbidden))
}

// --- the fan-out ------------------------------------------------------------------------

func logged(id int64, ws domain.ID, kind domain.EventKind, payload map[string]any) events.Logged {
	raw, _ := json.Marshal(payload)
	return events.Logged{ID: id, WorkspaceID: ws, Kind: kind, ContactID: ptr(domain.NewID()), MessageID: ptr(domain.NewID()),
		Payload: raw, At: time.Unix(1768000000, 0).UTC()}
}

func TestFanoutDeliversEachPublicEventToTheSubscribedEndpoints(t *testing.T) {
	b := setup(t)
	received := b.create(t, "https://a.example.com/", "message.received")
	all := b.create(t, "https://b.example.com/", "*")
	sentOnly := b.create(t, "https://c.example.com/", "message.sent")
	disabled := b.create(t, "https://d.example.com/", "*")
	_, err := b.svc.Update(context.Background(), b.owner, disabled.Endpoint.ID, hooks.EndpointInput{Enabled: ptr(false)})
	require.NoError(t, err)
	other := domain.NewID() // another workspace's endpoint
	require.NoError(t, b.mem.InsertEndpoint(context.Background(), domain.HookEndpoint{ID: domain.NewID(), WorkspaceID: other,
		URL: "https://e.example.com/", Events: []domain.HookEventType{domain.HookAll}, Enabled: true}))
	b.mem.woken = nil

	batch := []events.Logged{
		logged(101, b.ws, domain.EventMessageReceived, map[string]any{"wamid": "wamid.1", "type": "text"}),
		logged(102, b.ws, domain.EventMessageReceived, map[string]any{"wamid": "wamid.2", "type": "image"}),
		// Kinds that make no public event: an internal one, a status report that did not
		// move the message, an event outside any workspace, a payload the mapping cannot read.
		logged(103, b.ws, domain.EventContactCreated, map[string]any{}),
		logged(104, b.ws, domain.EventMessageStatusChanged, map[string]any{"status": "sent", "previous": "sent"}),
		logged(105, domain.ID{}, domain.EventMessageReceived, map[string]any{"wamid": "wamid.3"}),
		{ID: 106, WorkspaceID: b.ws, Kind: domain.EventMessageReceived, Payload: json.RawMessage(`"not an object"`)},
	}
	fan := b.svc.Fanout()
	require.NoError(t, fan.Handle(context.Background(), batch))

	for _, ep := range []hooks.Created{received, all} {
		ds := b.mem.deliveriesOf(ep.Endpoint.ID)
		require.Len(t, ds, 2, ep.Endpoint.URL)
		ids := []string{ds[0].EventID, ds[1].EventID}
		require.ElementsMatch(t, []string{domain.HookEventID(101), domain.HookEventID(102)}, ids)
		for _, d := range ds {
			require.Equal(t, domain.HookMessageReceived, d.EventType)
			require.Equal(t, domain.HookPending, d.Status)
			var body map[string]any
			require.NoError(t, json.Unmarshal(d.Body, &body))
			require.Equal(t, d.EventID, body["id"])
			require.Equal(t, "message.received", body["type"])
			require.Equal(t, b.ws.String(), body["workspace_id"])
		}
	}
	require.Empty(t, b.mem.deliveriesOf(sentOnly.Endpoint.ID), "not subscribed")
	require.Empty(t, b.mem.deliveriesOf(disabled.Endpoint.ID), "disabled")
	require.Len(t, b.mem.deliveries, 4, "nothing for the other workspace, nor for the kinds without a public type")
	require.ElementsMatch(t, []hooks.EndpointRef{{WorkspaceID: b.ws, EndpointID: received.Endpoint.ID},
		{WorkspaceID: b.ws, EndpointID: all.Endpoint.ID}}, b.mem.woken, "each endpoint's job woken once")

	// The log hands the batch over again: the event ids are the same, so nothing is added.
	before := b.mem.deliveriesOf(all.Endpoint.ID)
	require.NoError(t, fan.Handle(context.Background(), batch))
	require.Len(t, b.mem.deliveries, 4)
	require.Equal(t, before, b.mem.deliveriesOf(all.Endpoint.ID))

	// A batch with no public event touches nothing, not even a transaction.
	txs := b.mem.txs
	require.NoError(t, fan.Handle(context.Background(), batch[2:]))
	require.Equal(t, txs, b.mem.txs)
	require.Len(t, b.mem.deliveries, 4)
}

// --- the delivery -----------------------------------------------------------------------

func TestDeliverRecordsASuccess(t *testing.T) {
	b := setup(t)
	c := b.create(t, "https://hooks.example.com/in", "*")
	d := b.queue(t, c.Endpoint.ID)
	b.clock.advance(time.Second)
	b.run(t, c.Endpoint.ID)

	reqs := b.send.sent()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, "https://hooks.example.com/in", r.URL)
	require.Equal(t, d.Body, r.Body)
	require.Equal(t, d.EventID, r.Headers["webhook-id"])
	require.Equal(t, "1768000001", r.Headers["webhook-timestamp"], "the attempt's time, by the clock")
	require.NoError(t, verify(t, c.Secret, r, r.Headers["webhook-signature"]))
	require.NotContains(t, r.Headers["webhook-signature"], " ", "one secret, one signature")

	got := b.mem.delivery(d.ID)
	require.Equal(t, domain.HookSucceeded, got.Status)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, 204, *got.ResponseStatus)
	require.Empty(t, got.Error)
	require.Nil(t, got.NextAttemptAt)
	require.Equal(t, b.clock.now(), got.UpdatedAt)
	require.Nil(t, b.mem.endpoint(c.Endpoint.ID).FailingSince)
	require.Equal(t, map[domain.HookDeliveryStatus]int{domain.HookSucceeded: 1}, b.metrics.n)
	require.Equal(t, hooks.Holder{Job: 7, Attempt: 1}, b.mem.claims[0], "the job's run holds what it claims")
}

func TestDeliverSchedulesTheNextAttemptThenGivesUp(t *testing.T) {
	b := setup(t)
	c := b.create(t, "https://hooks.example.com/in", "*")
	d := b.queue(t, c.Endpoint.ID)
	b.send.answer = hooks.Response{Status: 503, Body: "busy"}
	first := b.clock.now()
	b.run(t, c.Endpoint.ID)

	got := b.mem.delivery(d.ID)
	require.Equal(t, domain.HookFailed, got.Status)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, "HTTP 503", got.Error)
	require.Equal(t, "busy", got.ResponseBody)
	delay, dead := domain.HookRetry(1, 0.5)
	require.False(t, dead)
	require.Equal(t, first.Add(delay), *got.NextAttemptAt, "the domain's schedule")
	require.Equal(t, first, *b.mem.endpoint(c.Endpoint.ID).FailingSince, "a run of failures begins")

	// Not due before its time; due at it.
	b.clock.advance(delay - time.Millisecond)
	b.run(t, c.Endpoint.ID)
	require.Len(t, b.send.sent(), 1)
	b.clock.advance(time.Millisecond)
	b.send.answer = hooks.Response{Err: context.DeadlineExceeded}
	b.run(t, c.Endpoint.ID)
	got = b.mem.delivery(d.ID)
	require.Equal(t, 2, got.Attempts)
	require.Equal(t, "timed out", got.Error)
	require.Nil(t, got.ResponseStatus, "no answer")
	delay2, _ := domain.HookRetry(2, 0.5)
	require.Equal(t, b.clock.now().Add(delay2), *got.NextAttemptAt)
	require.Equal(t, first, *b.mem.endpoint(c.Endpoint.ID).FailingSince, "the run goes on from its first failure")

	// The last attempt fails: the delivery is dead, nothing more scheduled.
	b.mem.locked(func(tx inTx) {
		d := tx.m.deliveries[d.ID]
		d.Attempts = domain.HookMaxAttempts - 1
		tx.m.deliveries[d.ID] = d
	})
	b.clock.advance(delay2)
	b.run(t, c.Endpoint.ID)
	got = b.mem.delivery(d.ID)
	require.Equal(t, domain.HookDead, got.Status)
	require.Equal(t, domain.HookMaxAttempts, got.Attempts)
	require.Nil(t, got.NextAttemptAt)
	b.clock.advance(24 * time.Hour)
	b.run(t, c.Endpoint.ID)
	require.Len(t, b.send.sent(), 3, "a dead delivery is not tried again")
	require.Equal(t, map[domain.HookDeliveryStatus]int{domain.HookFailed: 2, domain.HookDead: 1}, b.metrics.n)

	// A success ends the run of failures.
	b.send.answer = hooks.Response{Status: 200}
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	require.Nil(t, b.mem.endpoint(c.Endpoint.ID).FailingSince)
}

func TestDeliverDisablesAnEndpointFailingForFiveDays(t *testing.T) {
	b := setup(t)
	c := b.create(t, "https://hooks.example.com/in", "*")
	b.send.answer = hooks.Response{Status: 500}
	start := b.clock.now()
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	require.Equal(t, start, *b.mem.endpoint(c.Endpoint.ID).FailingSince)

	// Just short of five days: still enabled (the first ping's retry goes with the second).
	b.clock.advance(domain.HookDisableAfter - time.Second)
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	require.Len(t, b.send.sent(), 3)
	e := b.mem.endpoint(c.Endpoint.ID)
	require.True(t, e.Enabled)
	require.Nil(t, e.DisabledAt)

	audited := len(b.mem.events)
	b.clock.advance(time.Second) // nothing retried yet: the next retries are 5 s and 30 s away
	b.queue(t, c.Endpoint.ID)
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	require.Len(t, b.send.sent(), 5, "both new pings sent in one batch")
	e = b.mem.endpoint(c.Endpoint.ID)
	require.False(t, e.Enabled, "five days of failures")
	require.Equal(t, b.clock.now(), *e.DisabledAt)
	require.Equal(t, start, *e.FailingSince)
	require.Len(t, b.mem.events, audited+1, "the disable audited")
	last := b.mem.events[len(b.mem.events)-1]
	require.Equal(t, domain.SystemIn(b.ws), last.Actor, "by the system")
	require.Equal(t, b.clock.now(), last.At)
	ch := last.Event.(domain.HookEndpointChanged)
	require.Equal(t, domain.HookEndpointDisable, ch.Action)
	require.Equal(t, c.Endpoint.ID, ch.EndpointID)

	// Nothing more goes to a disabled endpoint, whatever is due.
	b.clock.advance(time.Hour)
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	require.Len(t, b.send.sent(), 5)
	due, err := b.mem.DueEndpoints(context.Background(), b.clock.now(), 10)
	require.NoError(t, err)
	require.Empty(t, due, "the leader wakes no disabled endpoint")

	// Enabled again, it starts afresh, its job is woken and everything due goes.
	b.send.answer = hooks.Response{Status: 200}
	b.mem.woken = nil
	_, err = b.svc.Update(context.Background(), b.owner, c.Endpoint.ID, hooks.EndpointInput{Enabled: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, []hooks.EndpointRef{{WorkspaceID: b.ws, EndpointID: c.Endpoint.ID}}, b.mem.woken)
	e = b.mem.endpoint(c.Endpoint.ID)
	require.Nil(t, e.FailingSince)
	require.Nil(t, e.DisabledAt)
	b.run(t, c.Endpoint.ID)
	for _, d := range b.mem.deliveriesOf(c.Endpoint.ID) {
		require.Equal(t, domain.HookSucceeded, d.Status)
	}
	require.Len(t, b.send.sent(), 10, "the five pings, once more each")
}

func TestDeliverSignsWithBothSecretsForADayAfterARotation(t *testing.T) {
	b := setup(t)
	c := b.create(t, "https://hooks.example.com/in", "*")
	b.clock.advance(time.Minute)
	newSecret, err := b.svc.RotateSecret(context.Background(), b.owner, c.Endpoint.ID)
	require.NoError(t, err)
	require.NotEqual(t, c.Secret, newSecret)
	rotated := b.clock.now()

	sigs := func() []string {
		reqs := b.send.sent()
		return strings.Split(reqs[len(reqs)-1].Headers["webhook-signature"], " ")
	}
	last := func() hooks.Request { reqs := b.send.sent(); return reqs[len(reqs)-1] }

	b.clock.advance(domain.HookRotationOverlap - time.Second)
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	s := sigs()
	require.Len(t, s, 2, "both secrets sign during the overlap")
	require.NoError(t, verify(t, newSecret, last(), s[0]), "the new secret's first")
	require.NoError(t, verify(t, c.Secret, last(), s[1]))
	require.Error(t, verify(t, c.Secret, last(), s[0]))

	b.clock.advance(time.Second) // rotated + 24 h
	require.Equal(t, rotated.Add(domain.HookRotationOverlap), b.clock.now())
	b.queue(t, c.Endpoint.ID)
	b.run(t, c.Endpoint.ID)
	s = sigs()
	require.Len(t, s, 1, "the old secret no longer signs")
	require.NoError(t, verify(t, newSecret, last(), s[0]))
}

func TestDeliverTakesBackWhatAnEarlierRunOfItsJobClaimed(t *testing.T) {
	b := setup(t)
	c := b.create(t, "https://hooks.example.com/in", "*")
	d := b.queue(t, c.Endpoint.ID)
	ref := hooks.EndpointRef{WorkspaceID: b.ws, EndpointID: c.Endpoint.ID}
	// Run 1 of job 7 claimed it and its process died before recording anything.
	_, err := b.mem.Claim(context.Background(), ref, hooks.Holder{Job: 7, Attempt: 1}, b.clock.now(), b.clock.now().Add(hooks.Lease), 10)
	require.NoError(t, err)
	b.clock.advance(2 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	b.mem.onEmpty = cancel
	_, err = b.dl.Run(ctx, ref, hooks.Holder{Job: 8, Attempt: 1})
	require.NoError(t, err)
	require.Empty(t, b.send.sent(), "another job waits for the lease")

	ctx, cancel = context.WithCancel(context.Background())
	b.mem.onEmpty = cancel
	_, err = b.dl.Run(ctx, ref, hooks.Holder{Job: 7, Attempt: 2})
	require.NoError(t, err)
	require.Len(t, b.send.sent(), 1, "the rescued job sends it at once")
	require.Equal(t, domain.HookSucceeded, b.mem.delivery(d.ID).Status)
}
