package test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An inbound message's content is its type object, the shape an outbound message of the
// type has, in the contact's message list and in GET .../messages/{id} alike: {body} for a
// text, {id, mime_type, sha256, caption} for an image. Meta's envelope fields (from,
// timestamp, context ...) are not part of it.
func TestInboundMessageContentIsTheTypeObject(t *testing.T) {
	t.Parallel()
	h := startHooks(t)
	from, now := "16505550142", time.Now().Unix()
	textID, imageID := newWAMID(), newWAMID()
	h.deliver(t, textEnvelope(textID, from, "Kim", "Is the blue one in stock?", now))
	h.deliver(t, envelopeOf(from, "Kim", map[string]any{
		"from": from, "id": imageID, "timestamp": fmt.Sprint(now + 1), "type": "image",
		"context": map[string]string{"from": "15550783881", "id": "wamid.earlier"},
		"image": map[string]string{"id": "1479537139650973", "mime_type": "image/jpeg",
			"sha256": "HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=", "caption": "This one"},
	}))

	want := map[string]struct{ typ, content string }{
		textID:  {"text", `{"body":"Is the blue one in stock?"}`},
		imageID: {"image", `{"id":"1479537139650973","mime_type":"image/jpeg","sha256":"HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=","caption":"This one"}`},
	}
	c := h.contactBy(t, "+"+from)
	list := h.a.Do(t, "GET", h.path("/contacts/"+c["id"].(string)+"/messages"), h.owner.Token, nil)
	require.Equal(t, 200, list.Status, "%s", list.Body)
	var page struct {
		Data []struct {
			ID        string          `json:"id"`
			WAMID     string          `json:"wamid"`
			Type      string          `json:"type"`
			Direction string          `json:"direction"`
			Content   json.RawMessage `json:"content"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(list.Body, &page))
	require.Len(t, page.Data, 2)
	for _, m := range page.Data {
		w, ok := want[m.WAMID]
		require.True(t, ok, m.WAMID)
		require.Equal(t, "inbound", m.Direction)
		require.Equal(t, w.typ, m.Type)
		require.JSONEq(t, w.content, string(m.Content), "list: %s", m.Type)

		one := h.a.Do(t, "GET", h.path("/messages/"+m.ID), h.owner.Token, nil)
		require.Equal(t, 200, one.Status, "%s", one.Body)
		var got struct {
			Content json.RawMessage `json:"content"`
		}
		require.NoError(t, json.Unmarshal(one.Body, &got))
		require.JSONEq(t, w.content, string(got.Content), "get: %s", m.Type)
	}
}
