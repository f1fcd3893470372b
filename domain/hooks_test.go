package domain_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

// The Standard Webhooks specification's own example.
func TestSignHookSpecificationVector(t *testing.T) {
	t.Parallel()
	key, err := domain.HookSecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	got := domain.SignHook([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)

	other, err := domain.HookSecretKey(domain.NewHookSecret(make([]byte, 32)))
	require.NoError(t, err)
	two := domain.SignHook([][]byte{other, key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`))
	parts := strings.Split(two, " ")
	require.Len(t, parts, 2, "a rotation signs with both secrets")
	require.Equal(t, got, parts[1])

	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!"} {
		_, err := domain.HookSecretKey(bad)
		require.ErrorIs(t, err, domain.ErrHookSecret, bad)
	}
}

func TestHookRetryLastsAtLeastThreeDays(t *testing.T) {
	t.Parallel()
	for _, random := range []float64{0, 0.5, 0.999999} {
		var total time.Duration
		attempts := 1
		prev := time.Duration(0)
		for {
			d, dead := domain.HookRetry(attempts, random)
			if dead {
				break
			}
			require.Positive(t, d)
			if attempts > 1 && random == 0 {
				require.GreaterOrEqual(t, d, prev, "delays grow")
			}
			prev = d
			total += d
			attempts++
		}
		require.Equal(t, domain.HookMaxAttempts, attempts)
		require.GreaterOrEqual(t, total, domain.HookMinRetryPeriod, "random %v", random)
		require.Less(t, total, 8*24*time.Hour, "random %v", random)
	}
	first, _ := domain.HookRetry(1, 0)
	require.Equal(t, 4*time.Second, first, "5s less the jitter")
	firstMax, _ := domain.HookRetry(1, 0.999999)
	require.InDelta(t, float64(6*time.Second), float64(firstMax), float64(time.Millisecond))
}

func TestHookShouldDisable(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	require.False(t, domain.HookShouldDisable(nil, now))
	since := now.Add(-domain.HookDisableAfter + time.Second)
	require.False(t, domain.HookShouldDisable(&since, now))
	since = now.Add(-domain.HookDisableAfter)
	require.True(t, domain.HookShouldDisable(&since, now))
}

func TestHookAddressPolicy(t *testing.T) {
	t.Parallel()
	strict := domain.HookAddressPolicy{}
	dev := domain.HookAddressPolicy{AllowHTTP: true, Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128")}}
	cases := []struct {
		url       string
		strictOK  bool
		devOK     bool
		wantHost  string
		wantPort  string
		reasonHas string
	}{
		{"https://hooks.example.com/x", true, true, "hooks.example.com", "443", ""},
		{"https://hooks.example.com:8443/x?y=1", true, true, "hooks.example.com", "8443", ""},
		{"http://hooks.example.com/x", false, true, "hooks.example.com", "80", "https"},
		{"ftp://hooks.example.com/x", false, false, "", "", "https"},
		{"https://user:pw@hooks.example.com/", false, false, "", "", "user name"},
		{"https://8.8.8.8/", true, true, "8.8.8.8", "443", ""},
		{"https://[2606:4700::1111]/", true, true, "2606:4700::1111", "443", ""},
		{"http://127.0.0.1:9000/", false, true, "127.0.0.1", "9000", ""},
		{"https://127.0.0.1/", false, true, "", "", "private"},
		{"https://[::1]/", false, true, "", "", "private"},
		{"https://10.0.0.1/", false, false, "", "", "private"},
		{"https://172.16.5.4/", false, false, "", "", "private"},
		{"https://192.168.1.1/", false, false, "", "", "private"},
		{"https://169.254.169.254/latest/meta-data", false, false, "", "", "metadata"},
		{"https://169.254.10.10/", false, false, "", "", "private"},
		{"https://100.64.0.1/", false, false, "", "", "private"},
		{"https://100.127.255.254/", false, false, "", "", "private"},
		{"https://0.0.0.0/", false, false, "", "", "private"},
		{"https://0.1.2.3/", false, false, "", "", "private"},
		{"https://224.0.0.1/", false, false, "", "", "private"},
		{"https://[fd00:ec2::254]/", false, false, "", "", "private"},
		{"https://[fc00::1]/", false, false, "", "", "private"},
		{"https://[fe80::1]/", false, false, "", "", "private"},
		{"https://[fe80::1%25eth0]/", false, false, "", "", "valid host"},
		{"https://[::]/", false, false, "", "", "private"},
		{"https://[ff02::1]/", false, false, "", "", "private"},
		{"https://[::ffff:127.0.0.1]/", false, true, "", "", "private"},
		{"https://[::ffff:169.254.169.254]/", false, false, "", "", "private"},
		{"https://[::ffff:10.0.0.1]/", false, false, "", "", "private"},
		{"https://[::ffff:8.8.8.8]/", true, true, "::ffff:8.8.8.8", "443", ""},
		{"https://[64:ff9b::a00:1]/", false, false, "", "", "private"},
		{"https://2130706433/", false, false, "", "", "valid host"},
		{"https://0x7f000001/", false, false, "", "", "valid host"},
		{"https://127.1/", false, false, "", "", "valid host"},
		{"https://hooks.example.com:0/", false, false, "", "", "port"},
		{"https://hooks.example.com:99999/", false, false, "", "", "port"},
		{"/relative", false, false, "", "", "absolute"},
		{"https:///nohost", false, false, "", "", "absolute"},
	}
	for _, c := range cases {
		for _, p := range []struct {
			policy domain.HookAddressPolicy
			ok     bool
		}{{strict, c.strictOK}, {dev, c.devOK}} {
			target, why := p.policy.CheckURL(c.url)
			if !p.ok {
				require.NotEmpty(t, why, "%s with %+v", c.url, p.policy)
				if p.policy.AllowHTTP == strict.AllowHTTP && c.reasonHas != "" {
					require.Contains(t, why, c.reasonHas, c.url)
				}
				continue
			}
			require.Empty(t, why, "%s with %+v", c.url, p.policy)
			if c.wantHost != "" {
				require.Equal(t, domain.HookTarget{Host: c.wantHost, Port: c.wantPort}, target, c.url)
			}
		}
	}
	// Resolved addresses, as the dialer checks them.
	for _, a := range []string{"127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254", "100.64.1.1", "::ffff:127.0.0.1",
		"0.0.0.0", "::"} {
		require.NotEmpty(t, strict.CheckAddr(netip.MustParseAddr(a)), a)
	}
	require.Empty(t, dev.CheckAddr(netip.MustParseAddr("::ffff:127.0.0.1")), "a mapped address is judged as IPv4")
	require.Empty(t, strict.CheckAddr(netip.MustParseAddr("93.184.216.34")))
	require.NotEmpty(t, strict.CheckAddr(netip.Addr{}))
}

func FuzzHookURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://127.0.0.1:9000/", "https://[::ffff:10.0.0.1]/",
		"https://u:p@h/", "https://0x7f.1/", "https://[fe80::1%25eth0]/", "https://169.254.169.254/"} {
		f.Add(s)
	}
	policy := domain.HookAddressPolicy{AllowHTTP: true}
	f.Fuzz(func(t *testing.T, raw string) {
		target, why := policy.CheckURL(raw)
		if why != "" {
			return
		}
		// Whatever passes names a host that is a public address or a plain DNS name.
		if a, err := netip.ParseAddr(target.Host); err == nil {
			if policy.CheckAddr(a) != "" {
				t.Fatalf("%q passed with a non-public address %s", raw, a)
			}
		} else if strings.ContainsAny(target.Host, "@/?#%[]: ") {
			t.Fatalf("%q passed with host %q", raw, target.Host)
		}
		if target.Port == "" {
			t.Fatalf("%q passed without a port", raw)
		}
	})
}

func TestPublicHookEvent(t *testing.T) {
	t.Parallel()
	msg, contact := domain.NewID(), domain.NewID()
	typ, data, ok := domain.PublicHookEvent(domain.HookSource{Kind: domain.EventMessageStatusChanged, MessageID: &msg,
		ContactID: &contact, Details: domain.MessageStatusChanged{MessageID: msg, ContactID: contact, WAMID: "wamid.X",
			Status: domain.StatusFailed, Previous: domain.StatusSent, Type: "text",
			Error: &domain.MessageError{Code: 131026, Title: "undeliverable"}}.Subject().Details})
	require.True(t, ok)
	require.Equal(t, domain.HookMessageFailed, typ)
	require.Equal(t, msg.String(), data["message_id"])
	require.Equal(t, contact.String(), data["contact_id"])
	require.Equal(t, "wamid.X", data["wamid"])
	require.Equal(t, "text", data["type"])
	require.Equal(t, 131026, data["error"].(map[string]any)["code"])

	_, _, ok = domain.PublicHookEvent(domain.HookSource{Kind: domain.EventMessageStatusChanged,
		Details: map[string]any{"status": "read", "previous": "read"}})
	require.False(t, ok, "a report that did not move the message")
	typ, _, ok = domain.PublicHookEvent(domain.HookSource{Kind: domain.EventConversationStatus, ResourceID: "c",
		Details: map[string]any{"status": "resolved", "previous": "open"}})
	require.True(t, ok)
	require.Equal(t, domain.HookConversationResolved, typ)
	_, _, ok = domain.PublicHookEvent(domain.HookSource{Kind: domain.EventConversationStatus,
		Details: map[string]any{"status": "pending", "previous": "open"}})
	require.False(t, ok)
	_, _, ok = domain.PublicHookEvent(domain.HookSource{Kind: domain.EventContactCreated})
	require.False(t, ok)

	require.True(t, domain.HookSubscribed([]domain.HookEventType{domain.HookAll}, domain.HookMessageRead))
	require.False(t, domain.HookSubscribed([]domain.HookEventType{domain.HookMessageSent}, domain.HookMessageRead))
	require.Equal(t, domain.HookEventID(42), domain.HookEventID(42))
	require.NotEqual(t, domain.HookEventID(42), domain.HookEventID(43))
}
