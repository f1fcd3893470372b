package postgres

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONBSanitizing(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"a":"plain"}`:                  `{"a":"plain"}`,
		`{"a":"Jos\u00e9 \ud83d\udc4d"}`: `{"a":"Jos\u00e9 \ud83d\udc4d"}`, // a paired surrogate (emoji)
		`{"a":"back\\u0000slash"}`:       `{"a":"back\\u0000slash"}`,       // an escaped backslash, then text
		`{"a":"x\u0000y"}`:               `{"a":"x\ufffdy"}`,
		`{"a":"\ud83d"}`:                 `{"a":"\ufffd"}`,
		`{"a":"\udc4d!"}`:                `{"a":"\ufffd!"}`,
		`{"a":"\ud83d\u0041"}`:           `{"a":"\ufffd\u0041"}`,
		`{"a":"\\\u0000"}`:               `{"a":"\\\ufffd"}`,
	} {
		got := string(sanitizeJSONB([]byte(in)))
		require.Equal(t, want, got, in)
		require.True(t, json.Valid([]byte(got)), got)
		require.Equal(t, in == want, jsonbSafe([]byte(in)), in)
	}
	require.Equal(t, "a\uFFFDb\uFFFD", cleanText("a\x00b\xff"))
	require.Equal(t, "José", cleanText("José"))
}
