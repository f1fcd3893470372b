package test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/hookhttp/dnstest"
	"github.com/wabaplatform/waba/bootstrap"
)

// Outbound webhooks (API.md "Outbound webhooks"): end to end, with receivers on 127.0.0.1.

// received is one request a test receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a local endpoint that answers status (200 unless a test changes it).
type receiver struct {
	*httptest.Server
	status atomic.Int32
	delay  atomic.Int64 // nanoseconds to wait before answering
	mu     sync.Mutex
	got    []received
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.status.Store(200)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Header: req.Header.Clone(), Body: body, At: time.Now()})
		r.mu.Unlock()
		if d := time.Duration(r.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(int(r.status.Load()))
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) count() int { return len(r.all()) }

// withLocalHooks lets endpoints use http and loopback (what `make run` sets).
func withLocalHooks(c *bootstrap.Config) {
	c.WebhooksAllowHTTP = true
	c.WebhooksAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// endpoint creates an endpoint and returns its id and secret.
func (h *hookEnv) endpoint(t *testing.T, url string, events ...string) (id, secret string) {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	body := h.a.Must(t, 201, "POST", h.path("/webhook-endpoints"), h.owner.Token, map[string]any{"url": url, "events": events})
	return body["id"].(string), body["secret"].(string)
}

// advance moves the app's clock, and logs the owner in again (access tokens expire).
func (h *hookEnv) advance(t *testing.T, d time.Duration) {
	t.Helper()
	h.a.Clock.Advance(d)
	login := h.a.Must(t, 200, "POST", "/v1/auth/login", "", map[string]string{"email": h.owner.Email, "password": "correct horse battery"})
	h.owner.Token = login["access_token"].(string)
}

func (h *hookEnv) deliveries(t *testing.T, endpointID, query string) []map[string]any {
	t.Helper()
	body := h.a.Must(t, 200, "GET", h.path("/webhook-endpoints/"+endpointID+"/deliveries"+query), h.owner.Token, nil)
	var out []map[string]any
	for _, d := range body["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func (h *hookEnv) ping(t *testing.T, endpointID string) string {
	t.Helper()
	return h.a.Must(t, 202, "POST", h.path("/webhook-endpoints/"+endpointID+"/test"), h.owner.Token, nil)["id"].(string)
}

func (h *hookEnv) waitDelivery(t *testing.T, endpointID, deliveryID string, cond func(d map[string]any) bool, what string) map[string]any {
	t.Helper()
	var got map[string]any
	eventually(t, 20*time.Second, func() bool {
		for _, d := range h.deliveries(t, endpointID, "?limit=200") {
			if d["id"] == deliveryID {
				got = d
				return cond(d)
			}
		}
		return false
	}, what)
	return got
}

func status(s string) func(map[string]any) bool {
	return func(d map[string]any) bool { return d["status"] == s }
}

func TestHookReceivedMessageIsSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	rcv := newReceiver(t)
	id, secret := h.endpoint(t, rcv.URL+"/hooks", "message.received")
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	got := h.a.Must(t, 200, "GET", h.path("/webhook-endpoints/"+id), h.owner.Token, nil)
	require.NotContains(t, got, "secret", "the secret is shown once")
	require.Equal(t, []any{"message.received"}, got["events"])
	requireNotInDatabase(t, h.a, secret)

	ts := time.Now().Unix() - 60
	h.customer(t, "16505551234", "Ana", &ts)("hola")
	eventually(t, 20*time.Second, func() bool { return rcv.count() == 1 }, "the message reaches the receiver")
	r := rcv.all()[0]
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(r.Body, r.Header), "a Standard Webhooks verifier accepts it")
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.NotEmpty(t, r.Header.Get("User-Agent"))
	var ev struct {
		ID          string         `json:"id"`
		Type        string         `json:"type"`
		CreatedAt   string         `json:"created_at"`
		WorkspaceID string         `json:"workspace_id"`
		Data        map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &ev))
	require.Equal(t, r.Header.Get("webhook-id"), ev.ID)
	require.Equal(t, "message.received", ev.Type)
	require.Equal(t, h.ws, ev.WorkspaceID)
	require.Equal(t, "text", ev.Data["type"])
	require.NotEmpty(t, ev.Data["message_id"])
	require.NotEmpty(t, ev.Data["contact_id"])
	require.True(t, strings.HasPrefix(ev.Data["wamid"].(string), "wamid."))

	// The receiver has the request before the deliverer records its answer.
	ds := h.deliveries(t, id, "")
	require.Len(t, ds, 1)
	d := h.waitDelivery(t, id, ds[0]["id"].(string), status("succeeded"), "the delivery is recorded as succeeded")
	require.Equal(t, ev.ID, d["event_id"])
	require.EqualValues(t, 200, d["response_status"])
	require.EqualValues(t, 1, d["attempts"])

	// An event type the endpoint did not subscribe to is not sent.
	h.a.Must(t, 200, "PATCH", h.path("/webhook-endpoints/"+id), h.owner.Token, map[string]any{"events": []string{"message.read"}})
	h.customer(t, "16505551234", "Ana", &ts)("¿hay pan?")
	// Once the fan-out has read past the second message's event, it has decided about it.
	eventually(t, 30*time.Second, func() bool {
		return h.count(t, `SELECT count(*) FROM events e JOIN event_subscriptions s ON s.name = 'hooks'
			WHERE e.workspace_id = $1 AND e.kind = 'message.received' AND (e.tx, e.id) <= (s.tx, s.event_id)`, h.ws) == 2
	}, "the fan-out reads the second message's event")
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM webhook_deliveries WHERE workspace_id = $1`, h.ws),
		"no delivery of an event type the endpoint does not take")
	require.Equal(t, 1, rcv.count())

	require.Equal(t, 2, h.count(t, `SELECT count(*) FROM audit_logs WHERE workspace_id = $1
		AND resource_type = 'webhook_endpoint' AND action IN ('webhook_endpoint.created', 'webhook_endpoint.updated')
		AND details::text NOT LIKE '%whsec_%'`, h.ws))
}

func TestHookReceiverDownThenUpGetsEveryEventWithTheSameID(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	rcv := newReceiver(t)
	rcv.status.Store(500)
	id, _ := h.endpoint(t, rcv.URL, "message.received")
	ts := time.Now().Unix() - 60
	for _, text := range []string{"uno", "dos", "tres"} {
		h.customer(t, "16505550001", "Ana", &ts)(text)
	}
	eventually(t, 20*time.Second, func() bool {
		ds := h.deliveries(t, id, "?status=failed")
		return len(ds) == 3
	}, "three failed deliveries")
	firstIDs := map[string]bool{}
	for _, r := range rcv.all() {
		firstIDs[r.Header.Get("webhook-id")] = true
	}
	require.Len(t, firstIDs, 3)

	rcv.status.Store(200)
	h.advance(t, 10*time.Second) // past the first retry's delay, with its jitter
	eventually(t, 20*time.Second, func() bool { return len(h.deliveries(t, id, "?status=succeeded")) == 3 }, "all delivered")
	seen := map[string]int{}
	for _, r := range rcv.all() {
		seen[r.Header.Get("webhook-id")]++
	}
	require.Len(t, seen, 3, "no new id on a retry")
	for wid, n := range seen {
		require.True(t, firstIDs[wid])
		require.Equal(t, 2, n, "one failed and one successful attempt of %s", wid)
	}
	for _, d := range h.deliveries(t, id, "") {
		require.EqualValues(t, 2, d["attempts"])
	}
}

func TestHookRotationSignsWithBothSecretsFor24Hours(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	rcv := newReceiver(t)
	id, oldSecret := h.endpoint(t, rcv.URL)
	newSecret := h.a.Must(t, 200, "POST", h.path("/webhook-endpoints/"+id+"/rotate-secret"), h.owner.Token, nil)["secret"].(string)
	require.NotEqual(t, oldSecret, newSecret)

	verify := func(r received, secret string, ignoreTime bool) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		if ignoreTime {
			return wh.VerifyIgnoringTimestamp(r.Body, r.Header)
		}
		return wh.Verify(r.Body, r.Header)
	}
	d := h.ping(t, id)
	h.waitDelivery(t, id, d, status("succeeded"), "the ping is delivered")
	r := rcv.all()[0]
	require.Len(t, strings.Split(r.Header.Get("webhook-signature"), " "), 2, "two signatures during the rotation")
	require.NoError(t, verify(r, newSecret, false))
	require.NoError(t, verify(r, oldSecret, false))
	for _, sig := range strings.Split(r.Header.Get("webhook-signature"), " ") {
		one := received{Header: r.Header.Clone(), Body: r.Body}
		one.Header.Set("webhook-signature", sig)
		require.True(t, verify(one, newSecret, false) == nil || verify(one, oldSecret, false) == nil,
			"each signature verifies with its own secret")
	}
	var ping map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &ping))
	require.Equal(t, "ping", ping["type"])

	h.advance(t, 24*time.Hour+time.Minute)
	d = h.ping(t, id)
	h.waitDelivery(t, id, d, status("succeeded"), "the second ping is delivered")
	r = rcv.all()[1]
	require.Len(t, strings.Split(r.Header.Get("webhook-signature"), " "), 1, "after 24 hours the old secret no longer signs")
	require.NoError(t, verify(r, newSecret, true))
	require.Error(t, verify(r, oldSecret, true))
}

// newDNSServer starts the tiny DNS server webhook probes use, closed when the test ends.
func newDNSServer(t *testing.T, names map[string]string) *dnstest.Server {
	t.Helper()
	s, err := dnstest.Start(names)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestHookSSRFRefusedAtSaveAndAtDial(t *testing.T) {
	t.Parallel()
	dns := newDNSServer(t, map[string]string{"private.hooks.test": "10.0.0.1", "rebind.hooks.test": "93.184.216.34",
		"public.hooks.test": "93.184.216.34"})
	loopback := newReceiver(t) // nothing may ever reach it
	h := startHooks(t, func(c *bootstrap.Config) {
		c.WebhooksAllowHTTP = true // http is allowed here: the addresses are what is refused
		c.WebhooksResolver = dns.Addr
	})
	_, port, _ := net.SplitHostPort(loopback.Listener.Addr().String())
	for _, url := range []string{
		"http://127.0.0.1:" + port + "/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:" + port + "/",
		"http://private.hooks.test/", "http://[::ffff:127.0.0.1]:" + port + "/", "http://100.64.0.1/", "http://[fd00:ec2::254]/",
		"http://localhost:" + port + "/", "http://nowhere.hooks.test/", "https://user:pw@public.hooks.test/",
	} {
		res := h.a.Do(t, "POST", h.path("/webhook-endpoints"), h.owner.Token, map[string]any{"url": url, "events": []string{"*"}})
		require.Equal(t, 422, res.Status, "%s: %s", url, res.Body)
		require.Equal(t, "validation_failed", res.Code(t), url)
		require.Contains(t, string(res.Body), `"field":"url"`, url)
	}
	id, _ := h.endpoint(t, "http://public.hooks.test/")
	res := h.a.Do(t, "PATCH", h.path("/webhook-endpoints/"+id), h.owner.Token, map[string]any{"url": "http://private.hooks.test/"})
	require.Equal(t, 422, res.Status, "a patch is checked too: %s", res.Body)

	// DNS rebinding: public when saved, loopback when dialled.
	rebound, _ := h.endpoint(t, "http://rebind.hooks.test:"+port+"/")
	dns.Set("rebind.hooks.test", "127.0.0.1")
	d := h.ping(t, rebound)
	got := h.waitDelivery(t, rebound, d, status("failed"), "the rebound delivery fails")
	require.Contains(t, got["error"], "address not allowed")
	require.Nil(t, got["response_status"])
	require.Zero(t, loopback.count(), "nothing reaches the loopback listener")

	// Without WEBHOOKS_ALLOW_HTTP plain http is refused.
	strict := startHooks(t, func(c *bootstrap.Config) { c.WebhooksResolver = dns.Addr })
	res = strict.a.Do(t, "POST", strict.path("/webhook-endpoints"), strict.owner.Token,
		map[string]any{"url": "http://public.hooks.test/", "events": []string{"*"}})
	require.Equal(t, 422, res.Status, "%s", res.Body)
	require.Contains(t, string(res.Body), "https")
	strict.endpoint(t, "https://public.hooks.test/")
}

func TestHookRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	target := newReceiver(t)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/stolen", http.StatusFound))
	t.Cleanup(redirector.Close)
	id, _ := h.endpoint(t, redirector.URL)
	d := h.waitDelivery(t, id, h.ping(t, id), status("failed"), "a redirect is a failure")
	require.EqualValues(t, 302, d["response_status"])
	require.Zero(t, target.count(), "the redirect's target is never reached")
}

func TestHookSlowEndpointDoesNotDelayAnother(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	h := startHooks(t, withLocalHooks, func(c *bootstrap.Config) { c.WebhooksTimeout = timeout })
	slow, healthy := newReceiver(t), newReceiver(t)
	slow.delay.Store(int64(time.Minute)) // every request times out
	slowID, _ := h.endpoint(t, slow.URL, "message.received")
	fastID, _ := h.endpoint(t, healthy.URL, "message.received")
	ts := time.Now().Unix() - 60
	const n = 40
	for i := range n {
		h.customer(t, "16505550002", "Ana", &ts)("mensaje " + string(rune('a'+i%26)))
	}
	eventually(t, 30*time.Second, func() bool { return len(h.deliveries(t, fastID, "?status=succeeded&limit=200")) == n },
		"the healthy endpoint gets every event")
	require.Equal(t, n, healthy.count())
	var worst time.Duration
	for _, d := range h.deliveries(t, fastID, "?limit=200") {
		require.Equal(t, "succeeded", d["status"])
		created, _ := time.Parse(time.RFC3339Nano, d["created_at"].(string))
		updated, _ := time.Parse(time.RFC3339Nano, d["updated_at"].(string))
		worst = max(worst, updated.Sub(created))
	}
	// Not a speed target (bench/hooks measures that): a healthy delivery queued behind the
	// slow endpoint's requests would have waited at least one of their timeouts.
	require.Less(t, worst, timeout, "no healthy delivery waited out the slow endpoint's timeout")
	require.Positive(t, slow.count(), "the slow endpoint is being tried meanwhile")
	for _, d := range h.deliveries(t, slowID, "?status=succeeded") {
		t.Fatalf("a timed-out attempt counts as failed: %v", d)
	}
}

func TestHookDeadAfterThreeDaysAndEndpointDisabledAfterFive(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	rcv := newReceiver(t)
	rcv.status.Store(503)
	id, _ := h.endpoint(t, rcv.URL)
	d := h.ping(t, id)
	attempts := 0
	var got map[string]any
	for got == nil || got["status"] != "dead" {
		got = h.waitDelivery(t, id, d, func(m map[string]any) bool { return int(m["attempts"].(float64)) > attempts },
			"another attempt")
		attempts = int(got["attempts"].(float64))
		if got["status"] == "failed" {
			next, _ := time.Parse(time.RFC3339Nano, got["next_attempt_at"].(string))
			h.advance(t, next.Sub(h.a.Clock.Now())+time.Second)
		}
		require.LessOrEqual(t, attempts, 17)
	}
	require.Equal(t, 17, attempts)
	require.Nil(t, got["next_attempt_at"])
	created, _ := time.Parse(time.RFC3339Nano, got["created_at"].(string))
	died, _ := time.Parse(time.RFC3339Nano, got["updated_at"].(string))
	require.GreaterOrEqual(t, died.Sub(created), 72*time.Hour, "retried for at least 3 days")
	require.Equal(t, 17, rcv.count())

	ep := h.a.Must(t, 200, "GET", h.path("/webhook-endpoints/"+id), h.owner.Token, nil)
	require.True(t, ep["enabled"].(bool), "not 5 days yet")
	since, _ := time.Parse(time.RFC3339Nano, ep["failing_since"].(string))
	h.advance(t, since.Add(5*24*time.Hour+time.Minute).Sub(h.a.Clock.Now()))
	h.waitDelivery(t, id, h.ping(t, id), status("failed"), "one more failure")
	ep = h.a.Must(t, 200, "GET", h.path("/webhook-endpoints/"+id), h.owner.Token, nil)
	require.False(t, ep["enabled"].(bool), "failing for 5 days: disabled")
	require.NotNil(t, ep["disabled_at"])
	require.Equal(t, 1, h.count(t, `SELECT count(*) FROM audit_logs WHERE workspace_id = $1
		AND action = 'webhook_endpoint.disabled' AND actor_type = 'system' AND resource_id = $2`, h.ws, id))

	// A disabled endpoint gets nothing; enabling it again delivers what waits.
	rcv.status.Store(200)
	before := rcv.count()
	pending := h.ping(t, id)
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, before, rcv.count())
	h.a.Must(t, 200, "PATCH", h.path("/webhook-endpoints/"+id), h.owner.Token, map[string]any{"enabled": true})
	h.waitDelivery(t, id, pending, status("succeeded"), "delivered once enabled")
}

func TestHookManualRetry(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	rcv := newReceiver(t)
	rcv.status.Store(500)
	id, _ := h.endpoint(t, rcv.URL)
	d := h.ping(t, id)
	h.waitDelivery(t, id, d, status("failed"), "the first attempt fails")
	rcv.status.Store(204)
	h.a.Must(t, 202, "POST", h.path("/webhook-deliveries/"+d+"/retry"), h.owner.Token, nil)
	got := h.waitDelivery(t, id, d, status("succeeded"), "retried by hand, at once")
	require.EqualValues(t, 2, got["attempts"])
	all := rcv.all()
	require.Len(t, all, 2)
	require.Equal(t, all[0].Header.Get("webhook-id"), all[1].Header.Get("webhook-id"))
	require.Equal(t, all[0].Body, all[1].Body, "every attempt sends the same body")

	require.Equal(t, 404, h.a.Do(t, "POST", h.path("/webhook-deliveries/"+h.ws+"/retry"), h.owner.Token, nil).Status)
	other := startHooksOn(t, h.a)
	require.Equal(t, 404, h.a.Do(t, "POST", other.path("/webhook-deliveries/"+d+"/retry"), other.owner.Token, nil).Status,
		"another workspace's delivery does not exist for it")
}

func startHooksOn(t *testing.T, a *App) *hookEnv {
	t.Helper()
	h := &hookEnv{a: a, owner: a.signup(t, "owner")}
	h.ws = a.createWorkspace(t, h.owner, "Otra")
	return h
}

func TestHookDeliveriesListAndAccess(t *testing.T) {
	t.Parallel()
	h := startHooks(t, withLocalHooks)
	rcv := newReceiver(t)
	id, _ := h.endpoint(t, rcv.URL)
	var ids []string
	for range 5 {
		ids = append(ids, h.ping(t, id))
	}
	eventually(t, 20*time.Second, func() bool { return len(h.deliveries(t, id, "?status=succeeded")) == 5 }, "all delivered")
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3)
		body := h.a.Must(t, 200, "GET", h.path("/webhook-endpoints/"+id+"/deliveries?limit=2"+cursor), h.owner.Token, nil)
		for _, d := range body["data"].([]any) {
			paged = append(paged, d.(map[string]any)["id"].(string))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	require.Equal(t, ids, paged, "newest first, each once")
	require.Empty(t, h.deliveries(t, id, "?status=dead"))
	res := h.a.Do(t, "GET", h.path("/webhook-endpoints/"+id+"/deliveries?status=lost"), h.owner.Token, nil)
	require.Equal(t, 422, res.Status)

	viewer := h.a.addMember(t, h.ws, h.owner, "viewer")
	agent := h.a.addMember(t, h.ws, h.owner, "agent")
	manager := h.a.addMember(t, h.ws, h.owner, "manager")
	h.a.Must(t, 200, "GET", h.path("/webhook-endpoints"), viewer.Token, nil)
	h.a.Must(t, 200, "GET", h.path("/webhook-endpoints/"+id+"/deliveries"), viewer.Token, nil)
	require.Equal(t, 403, h.a.Do(t, "POST", h.path("/webhook-endpoints/"+id+"/test"), viewer.Token, nil).Status)
	require.Equal(t, 403, h.a.Do(t, "POST", h.path("/webhook-endpoints/"+id+"/rotate-secret"), viewer.Token, nil).Status)
	require.Equal(t, 403, h.a.Do(t, "GET", h.path("/webhook-endpoints"), agent.Token, nil).Status)
	require.Equal(t, 403, h.a.Do(t, "POST", h.path("/webhook-endpoints"), agent.Token,
		map[string]any{"url": rcv.URL, "events": []string{"*"}}).Status)
	h.a.Must(t, 200, "PATCH", h.path("/webhook-endpoints/"+id), manager.Token, map[string]any{"description": "CRM"})
	list := h.a.Must(t, 200, "GET", h.path("/webhook-endpoints"), viewer.Token, nil)["data"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "CRM", list[0].(map[string]any)["description"])
	res = h.a.Do(t, "POST", h.path("/webhook-endpoints"), h.owner.Token, map[string]any{"url": rcv.URL, "events": []string{"message.bogus"}})
	require.Equal(t, 422, res.Status)
	h.a.Must(t, 204, "DELETE", h.path("/webhook-endpoints/"+id), manager.Token, nil)
	require.Equal(t, 404, h.a.Do(t, "GET", h.path("/webhook-endpoints/"+id), h.owner.Token, nil).Status)
}
