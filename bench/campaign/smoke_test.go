package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// TestSmoke runs a campaign of 300 recipients: it keeps the program working and checks its
// invariants (every recipient taken, sent once, the campaign completed, the API's sends
// accepted), never its timing, memory or rate targets.
func TestSmoke(t *testing.T) {
	rep := harness.Smoke(t, 3*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{N: 300, Pace: 1000, Plan: "enterprise", APIRate: 10, MaxRun: time.Minute, Analyze: 20 * time.Second,
			Settle: 30 * time.Second, MaxConns: 10, ResultsDir: t.TempDir(), Out: io.Discard})
	})
	o := lastOutcome
	require.True(t, o.completed, "the campaign completed")
	require.Equal(t, 300, o.recipients)
	require.Equal(t, 300, o.sent, "every recipient got its message")
	require.Zero(t, o.twice, "nobody got it twice")
	require.Positive(t, o.apiSent)
	require.Zero(t, o.apiRefused)
	require.Positive(t, o.rowsPerRecipient)
	require.False(t, rep.Failed())
}
