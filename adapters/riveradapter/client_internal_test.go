package riveradapter

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRiverInfoIsDebug(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(infoAsDebug{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})}).With("component", "river")
	log.Info("producer job counts")
	require.Empty(t, buf.String(), "River's info is not shown at info")
	log.Warn("job failed")
	require.Contains(t, buf.String(), "job failed")
	require.Contains(t, buf.String(), "component=river")

	buf.Reset()
	debug := slog.New(infoAsDebug{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	debug.Info("producer job counts")
	require.Contains(t, buf.String(), "level=DEBUG")
}
