package sandbox_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

func TestMarshal(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		in   any
		want string
	}{
		{"ASCII", map[string]string{"a": "b"}, `{"a":"b"}`},
		{"Latin1", map[string]string{"name": "José"}, `{"name":"Jos\u00e9"}`},
		{"LowercaseHex", "Ünïcødé", `"\u00dcn\u00efc\u00f8d\u00e9"`},
		{"Devanagari", "नमस्ते", `"\u0928\u092e\u0938\u094d\u0924\u0947"`},
		{"AstralAsSurrogatePair", "👍😀", `"\ud83d\udc4d\ud83d\ude00"`},
		{"Slash", map[string]string{"url": "https://x.test/a/b"}, `{"url":"https:\/\/x.test\/a\/b"}`},
		{"HTMLNotEscaped", "<b>&</b>", `"<b>&<\/b>"`},
		{"Controls", "a\nb\"c\\/", `"a\nb\"c\\\/"`},
		{"LineSeparator", "a\u2028b", `"a\u2028b"`},
		{"InvalidUTF8", string([]byte{'a', 0xff, 'b'}), `"a\ufffdb"`},
		{"NumbersUntouched", map[string]any{"n": 1689556908129832, "f": 1.5}, `{"f":1.5,"n":1689556908129832}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sandbox.Marshal(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			for _, c := range got {
				require.Less(t, c, byte(utf8.RuneSelf), "output must be pure ASCII")
			}
		})
	}

	t.Run("RoundTrips", func(t *testing.T) {
		t.Parallel()
		in := map[string]any{"name": "Zoë 😀 / Ωmega", "nested": []any{"ä", map[string]any{"k": "ü/<>"}}}
		out, err := sandbox.Marshal(in)
		require.NoError(t, err)
		var back map[string]any
		require.NoError(t, json.Unmarshal(out, &back))
		require.Equal(t, in, back)
		plain, err := json.Marshal(back)
		require.NoError(t, err)
		require.NotEqual(t, string(plain), string(out), "re-serializing gives different bytes: never verify over them")
	})
}

func TestSign(t *testing.T) {
	t.Parallel()
	body := []byte(`{"name":"Jos\u00e9"}`)
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(body)
	require.Equal(t, "sha256="+hex.EncodeToString(m.Sum(nil)), sandbox.Sign("s3cret", body))
	require.NotEqual(t, sandbox.Sign("s3cret", body), sandbox.Sign("other", body))
}
