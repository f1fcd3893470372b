package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// TestSmoke runs the whole suite with tiny durations: it keeps the program working and
// checks its invariants (every acknowledged message stored once, nothing refused), never
// its timing targets.
func TestSmoke(t *testing.T) {
	rep := harness.Smoke(t, 3*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{Duration: time.Second, Conc: 4, Rate: 200, Tenants: 2, DrainLimit: 30 * time.Second,
			Scaling: true, ResultsDir: t.TempDir(), Out: io.Discard})
	})
	o := lastOutcome
	require.Positive(t, o.closed.Acknowledged())
	require.Equal(t, o.closed.Requests, o.closed.Acknowledged(), "statuses %v", o.closed.Status)
	require.Equal(t, o.paced.Requests, o.paced.Acknowledged(), "statuses %v", o.paced.Status)
	require.Equal(t, o.twoServers.Requests, o.twoServers.Acknowledged(), "statuses %v", o.twoServers.Status)
	require.Positive(t, o.baselinePerS)
	require.Equal(t, o.queued, o.processed, "every queued webhook job is processed")
	require.Zero(t, o.lost, "acknowledged messages lost")
	require.Zero(t, o.doubled, "messages stored twice")
	require.Positive(t, o.advanced, "statuses found the seeded messages they report on")
	require.False(t, rep.Failed())
}
