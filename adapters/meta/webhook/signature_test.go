package webhook_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

func TestSign(t *testing.T) {
	t.Parallel()

	// HMAC-SHA256("The quick brown fox jumps over the lazy dog", key "key"), a published
	// test vector.
	got := webhook.Sign([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"))
	require.Equal(t, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", got)
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()

	secret := []byte("app-secret")
	// Meta signs its escaped serialization: the same text unescaped is different bytes.
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"contacts":[{"profile":{"name":"Jos\u00e9"}}]}}]}]}`)
	good := webhook.Sign(secret, body)
	hexPart := strings.TrimPrefix(good, "sha256=")

	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{name: "valid", secret: secret, body: body, header: good, want: true},
		{name: "uppercase hex", secret: secret, body: body, header: "sha256=" + strings.ToUpper(hexPart), want: true},
		{name: "re-encoded body", secret: secret, body: []byte(strings.Replace(string(body), `\u00e9`, "é", 1)), header: good},
		{name: "other secret", secret: []byte("other"), body: body, header: good},
		{name: "empty secret", secret: nil, body: body, header: webhook.Sign(nil, body)},
		{name: "missing header", secret: secret, body: body, header: ""},
		{name: "no prefix", secret: secret, body: body, header: hexPart},
		{name: "sha1 prefix", secret: secret, body: body, header: "sha1=" + hexPart},
		{name: "prefix case", secret: secret, body: body, header: "SHA256=" + hexPart},
		{name: "prefix only", secret: secret, body: body, header: "sha256="},
		{name: "bad hex", secret: secret, body: body, header: "sha256=" + strings.Repeat("zz", 32)},
		{name: "short", secret: secret, body: body, header: good[:len(good)-2]},
		{name: "long", secret: secret, body: body, header: good + "00"},
		{name: "trailing space", secret: secret, body: body, header: good + " "},
		{name: "tampered body", secret: secret, body: append([]byte(nil), append(body, ' ')...), header: good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, webhook.VerifySignature(tt.secret, tt.body, tt.header))
		})
	}
}
