package test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/bootstrap"
)

// With PUBLIC_URL set, onboarding subscribes the WABA with PUBLIC_URL/webhooks/meta as its
// override callback (Meta's handshake against it passes with META_VERIFY_TOKEN), and Meta
// then delivers that WABA's webhooks there. The sandbox here has no app callback at all,
// so an inbound message arrives only through the override.
func TestPublicURLIsTheWebhookCallbackGivenToMeta(t *testing.T) {
	t.Parallel()
	// PUBLIC_URL is configuration, known before the app's port: a proxy stands in front.
	var target atomic.Pointer[url.URL]
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := target.Load()
		if u == nil {
			http.Error(w, "app not started", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(public.Close)
	sb := sandbox.New(sandbox.Config{AppID: "test-app", AppSecret: appSecret, StatusDelay: 10 * time.Millisecond})
	graph := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { graph.Close(); sb.Close() })

	a := startApp(t, func(c *bootstrap.Config) { c.MetaGraphURL, c.PublicURL = graph.URL, public.URL })
	u, err := url.Parse(a.URL)
	require.NoError(t, err)
	target.Store(u)

	tm := newTeam(t, a)
	acct, err := sb.CreateAccount(sandbox.AccountOptions{})
	require.NoError(t, err)
	num := a.Must(t, 202, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, map[string]string{
		"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})["phone_number"].(map[string]any)
	p := a.waitNumber(t, tm, num["id"].(string), "connected")
	require.Equal(t, true, p["webhook_subscribed"])

	// Meta (the sandbox) lists the subscription with our callback.
	req, err := http.NewRequest(http.MethodGet, graph.URL+"/v25.0/"+acct.WABAID+"/subscribed_apps", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+acct.AccessToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var subs struct {
		Data []struct {
			OverrideCallbackURI string `json:"override_callback_uri"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&subs))
	require.Len(t, subs.Data, 1)
	require.Equal(t, public.URL+"/webhooks/meta", subs.Data[0].OverrideCallbackURI)

	// And delivers the WABA's webhooks there.
	wamid, err := sb.InjectInbound(sandbox.Inbound{PhoneNumberID: acct.PhoneNumberID, From: "+14155550199", Name: "Lee", Text: "hi"})
	require.NoError(t, err)
	h := &hookEnv{a: a, owner: tm.Owner, ws: tm.WS}
	eventually(t, 20*time.Second, func() bool {
		return h.count(t, `SELECT count(*) FROM messages WHERE wamid = $1`, wamid) == 1
	}, "the inbound message arrives through the override callback")
}
