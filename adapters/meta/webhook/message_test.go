package webhook_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

func TestMessageTypeObject(t *testing.T) {
	t.Parallel()

	t.Run("Fixtures", func(t *testing.T) {
		t.Parallel()
		// The type object of every message of the corpus, exactly.
		want := map[string]string{
			"text.json":               `{"body":"Hola, \u00bftienen env\u00edo a Monterrey? \ud83c\udf89"}`,
			"image.json":              `{"caption":"Foto del paquete da\u00f1ado","mime_type":"image/jpeg","sha256":"HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=","id":"1479537139650973","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1479537139650973&ext=1768000200&hash=ATtMnG8Lq0yI5yKQ%3D%3D"}`,
			"button_quick_reply.json": `{"payload":"STOP_PROMOTIONS","text":"Stop promotions"}`,
			"unsupported.json":        `{"type":"edit"}`,
			"request_welcome.json":    `{}`,
			"reaction_removed.json":   `{"message_id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBBMDA1AA=="}`,
		}
		for name, raw := range readFixtures(t) {
			env, err := webhook.Parse(raw)
			require.NoError(t, err)
			msgs, _ := collect(env)
			for _, m := range msgs {
				got := m.TypeObject()
				require.True(t, json.Valid(got), name)
				if w, ok := want[name]; ok {
					require.JSONEq(t, w, string(got), name)
					continue
				}
				// Otherwise: the member named after the type, whatever Meta put in it.
				var members map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(m.Raw, &members))
				require.Contains(t, members, m.Type, "%s: a %s message without its object needs an entry above", name, m.Type)
				require.JSONEq(t, string(members[m.Type]), string(got), name)
				if m.Type == webhook.TypeContacts {
					require.Equal(t, byte('['), got[0], "contacts is the array of cards")
				}
			}
		}
	})

	t.Run("Edges", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ name, msg, want string }{
			{"UnknownTypeWithObject", `{"id":"wamid.1","type":"poll_response","poll_response":{"poll_id":"p"}}`, `{"poll_id":"p"}`},
			{"OlderUnknownWithErrorsOnly", `{"id":"wamid.1","type":"unknown","errors":[{"code":131051}]}`, `{}`},
			{"TypeNamesACommonField", `{"id":"wamid.1","type":"context","context":{"id":"wamid.0"}}`, `{}`},
			{"TypeObjectNotAnObject", `{"id":"wamid.1","type":"text","text":"hi"}`, `{}`},
			{"TypeObjectNull", `{"id":"wamid.1","type":"text","text":null}`, `{}`},
			{"NoType", `{"id":"wamid.1"}`, `{}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var m webhook.Message
				require.NoError(t, json.Unmarshal([]byte(tc.msg), &m))
				require.JSONEq(t, tc.want, string(m.TypeObject()))
			})
		}
		require.JSONEq(t, `{}`, string((&webhook.Message{Type: "text"}).TypeObject()), "no raw message")
	})
}
