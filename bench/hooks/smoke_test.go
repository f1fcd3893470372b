package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// TestSmoke runs the suite small (300 events held, 20 messages/s for 2 s): it keeps the
// program working and checks its invariants (every event delivered with a valid signature,
// the timing-out endpoint tried), never its timing targets.
func TestSmoke(t *testing.T) {
	rep := harness.Smoke(t, 3*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{Events: 300, Rate: 20, Duration: 2 * time.Second, DrainLimit: time.Minute,
			ResultsDir: t.TempDir(), Out: io.Discard})
	})
	o := lastOutcome
	require.Positive(t, o.throughputWanted)
	require.Equal(t, o.throughputWanted, o.throughputGot, "held events delivered")
	require.Positive(t, o.isolationWanted)
	require.Equal(t, o.isolationWanted, o.isolationGot, "healthy endpoint's events delivered")
	require.Zero(t, o.badSigs, "signatures that did not verify")
	require.Positive(t, o.slowRequests, "the timing-out endpoint was tried")
	require.False(t, rep.Failed())
}
