package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSmoke runs the whole suite with tiny durations: it keeps the program working and
// checks its invariants (every acknowledged message stored once, nothing refused), never
// its timing targets.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, config{Duration: time.Second, Conc: 4, Rate: 200, Tenants: 2, DrainLimit: 30 * time.Second,
		Scaling: true, ResultsDir: t.TempDir(), Out: io.Discard})
	require.NoError(t, err)
	var buf strings.Builder
	rep.Print(&buf)
	t.Log(buf.String())
	o := lastOutcome
	require.Positive(t, o.closed.Acknowledged())
	require.Equal(t, o.closed.Requests, o.closed.Acknowledged(), "statuses %v", o.closed.Status)
	require.Equal(t, o.paced.Requests, o.paced.Acknowledged(), "statuses %v", o.paced.Status)
	require.Equal(t, o.twoServers.Requests, o.twoServers.Acknowledged(), "statuses %v", o.twoServers.Status)
	require.Positive(t, o.baselinePerS)
	require.Equal(t, o.queued, o.processed, "every queued webhook job is processed")
	require.Zero(t, o.lost, "acknowledged messages lost")
	require.Zero(t, o.doubled, "messages stored twice")
	require.False(t, rep.Failed())
}
