package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestMessagePreview(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ñ", 150)
	cases := []struct {
		typ, content, want string
	}{
		{"text", `{"body":"Hola,\n  ¿qué tal?"}`, "Hola, ¿qué tal?"},
		{"text", `{"body":"` + long + `"}`, strings.Repeat("ñ", 100)},
		{"image", `{"id":"1","mime_type":"image/jpeg"}`, "[image]"},
		{"image", `{"id":"1","caption":"my receipt"}`, "[image] my receipt"},
		{"audio", `{}`, "[audio]"},
		{"template", `{"name":"order_update","language":{"code":"en"}}`, "[template]"},
		{"sticker", `not json`, "[sticker]"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, domain.MessagePreview(c.typ, json.RawMessage(c.content)), c.typ+" "+c.content)
	}
}

func TestConversationWindowAndParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	until := now.Add(time.Minute)
	c := domain.Conversation{ServiceWindowExpiresAt: &until}
	require.True(t, c.CanSendFreeform(now))
	require.False(t, c.CanSendFreeform(until))
	require.False(t, domain.Conversation{}.CanSendFreeform(now), "no inbound message, no window")

	for _, s := range []string{"open", "pending", "resolved"} {
		_, ok := domain.ParseConversationStatus(s)
		require.True(t, ok, s)
	}
	_, ok := domain.ParseConversationStatus("closed")
	require.False(t, ok)
	for _, s := range []string{"off", "round_robin", "least_busy"} {
		_, ok := domain.ParseAutoAssign(s)
		require.True(t, ok, s)
	}
	_, ok = domain.ParseAutoAssign("random")
	require.False(t, ok)

	note := domain.NoteCreated{NoteID: domain.NewID(), ConversationID: domain.NewID(), ContactID: domain.NewID()}
	require.NotContains(t, note.Subject().Details, "body")
}
