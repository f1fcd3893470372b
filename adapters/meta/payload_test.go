package meta_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/domain"
)

func TestMessagePayload(t *testing.T) {
	t.Parallel()

	t.Run("media", func(t *testing.T) {
		t.Parallel()
		id := domain.NewID()
		p := meta.MessagePayload(domain.OutboundMessage{ID: id, Type: "document", To: "14155550101",
			Content: json.RawMessage(`{"media_id":"42","filename":"a.pdf"}`)})
		require.Equal(t, "whatsapp", p["messaging_product"])
		require.Equal(t, "individual", p["recipient_type"])
		require.Equal(t, "14155550101", p["to"])
		require.Equal(t, id.String(), p["biz_opaque_callback_data"])
		require.JSONEq(t, `{"id":"42","filename":"a.pdf"}`, string(p["document"].(json.RawMessage)))
	})
	t.Run("media by link", func(t *testing.T) {
		t.Parallel()
		p := meta.MessagePayload(domain.OutboundMessage{ID: domain.NewID(), Type: "image", To: "1",
			Content: json.RawMessage(`{"link":"https://x.test/a.png","caption":"c"}`)})
		require.JSONEq(t, `{"link":"https://x.test/a.png","caption":"c"}`, string(p["image"].(json.RawMessage)))
	})
	t.Run("text to a BSUID", func(t *testing.T) {
		t.Parallel()
		p := meta.MessagePayload(domain.OutboundMessage{ID: domain.NewID(), Type: "text", BSUID: "US.1",
			Content: json.RawMessage(`{"body":"hi"}`)})
		require.Equal(t, "US.1", p["recipient"])
		require.NotContains(t, p, "to")
		require.Equal(t, "text", p["type"])
		require.JSONEq(t, `{"body":"hi"}`, string(p["text"].(json.RawMessage)))
	})
}
