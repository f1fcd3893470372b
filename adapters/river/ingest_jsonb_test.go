package riveradapter

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONBUnsafeBodiesAreStoredRaw(t *testing.T) {
	t.Parallel()
	a := NewWebhookArgs([]byte(`{"a":"\u0000"}`))
	require.Empty(t, a.Payload)
	require.Equal(t, `{"a":"\u0000"}`, string(a.Body()))
	b := NewWebhookArgs([]byte(`{"a":"ok"}`))
	require.Equal(t, `{"a":"ok"}`, string(b.Payload))
	require.Equal(t, `{"a":"ok"}`, string(b.asRaw().Raw))
}
