package bootstrap

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// fx's wiring events are debug lines: at info a successful start shows none of them, and
// a failure still shows as an error.
func TestFxEventsAreDebug(t *testing.T) {
	t.Parallel()
	build := func(level slog.Level, opts ...fx.Option) (string, error) {
		var b strings.Builder
		log := NewLogger(&b, level, LogJSON)
		app := fx.New(append([]fx.Option{fx.WithLogger(func() fxevent.Logger { return fxLogger(log) })}, opts...)...)
		return b.String(), app.Err()
	}
	ok := []fx.Option{fx.Provide(func() int { return 1 }), fx.Invoke(func(int) {})}

	out, err := build(slog.LevelInfo, ok...)
	require.NoError(t, err)
	require.Empty(t, out, "no fx line at info")

	out, err = build(slog.LevelDebug, ok...)
	require.NoError(t, err)
	require.Contains(t, out, `"component":"fx"`)

	out, err = build(slog.LevelInfo, fx.Provide(func() (int, error) { return 0, errors.New("no database") }), fx.Invoke(func(int) {}))
	require.Error(t, err)
	require.Contains(t, out, `"level":"ERROR"`)
	require.Contains(t, out, "no database")
}
