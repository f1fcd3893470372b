package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// TestSmoke runs the suite small (5 streams, 50 messages/s for 2 s): it keeps the program
// working and checks its invariants (every stream open, every acknowledged message on every
// stream of its workspace once, no stream ended), never its timing or memory targets.
func TestSmoke(t *testing.T) {
	rep := harness.Smoke(t, 3*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{Subscribers: 5, Workspaces: 1, Users: 2, Rate: 50, Duration: 2 * time.Second,
			Settle: 200 * time.Millisecond, DrainLimit: 20 * time.Second, History: 1000, ResultsDir: t.TempDir(), Out: io.Discard})
	})
	o := lastOutcome
	require.Equal(t, 5, o.opened)
	require.Positive(t, o.load.Acknowledged())
	require.Equal(t, o.load.Requests, o.load.Acknowledged(), "statuses %v", o.load.Status)
	require.Equal(t, 5*o.load.Acknowledged(), o.expected)
	require.Equal(t, o.expected, o.received)
	require.Zero(t, o.missing, "deliveries missing")
	require.Zero(t, o.doubled, "deliveries doubled")
	require.Zero(t, o.ended, "streams ended by the server")
	require.False(t, rep.Failed())
}
