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
	rep := harness.Smoke(t, 6*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{Duration: time.Second, Conc: 4, Rate: 200, Tenants: 2, DrainLimit: 30 * time.Second,
			Scaling: true, AllConc: 4, Ledger: 200, LedgerRounds: 2,
			Automation: 200, AutoRounds: 2, AutoRules: 50, ResultsDir: t.TempDir(), Out: io.Discard})
	})
	o := lastOutcome
	require.Positive(t, o.closed.Acknowledged())
	require.Equal(t, o.closed.Requests, o.closed.Acknowledged(), "statuses %v", o.closed.Status)
	require.Equal(t, o.paced.Requests, o.paced.Acknowledged(), "statuses %v", o.paced.Status)
	require.Equal(t, o.twoServers.Requests, o.twoServers.Acknowledged(), "statuses %v", o.twoServers.Status)
	require.Positive(t, o.baselinePerS)
	require.Equal(t, o.queued, o.processed, "every queued webhook is processed")
	require.Zero(t, o.lost, "acknowledged messages lost")
	require.Zero(t, o.doubled, "messages stored twice")
	require.Positive(t, o.advanced, "statuses found the seeded messages they report on")
	require.Positive(t, o.allClosed.Acknowledged())
	require.Equal(t, o.allClosed.Requests, o.allClosed.Acknowledged(), "statuses %v", o.allClosed.Status)
	require.Equal(t, o.allPaced.Requests, o.allPaced.Acknowledged(), "statuses %v", o.allPaced.Status)
	require.Zero(t, o.allLost, "acknowledged messages lost (role all)")
	require.Zero(t, o.allDoubled, "messages stored twice (role all)")
	require.Len(t, o.ledger, 2, "section 2b ran")
	for i, l := range o.ledger {
		require.Equal(t, 200, l.queued, "2b phase %d: every status queued", i)
		require.Equal(t, l.queued, l.processed, "2b phase %d: every status processed", i)
	}
	require.Zero(t, o.ledger[0].charges, "2b: statuses without pricing charge nothing")
	require.Equal(t, 200, o.ledger[1].charges, "2b: each priced status charged once")
	require.Equal(t, 400, o.ledgerAdvanced, "2b: every status advanced its message")
	require.Len(t, o.automation, 2, "section 2c ran")
	for i, a := range o.automation {
		require.Equal(t, 200, a.queued, "2c phase %d: every message queued", i)
		require.Equal(t, a.queued, a.processed, "2c phase %d: every message processed", i)
		require.True(t, a.caughtUp, "2c phase %d: the automation subscriber caught up", i)
	}
	require.Zero(t, o.automation[0].matched, "2c: no rules, nothing matched")
	require.Equal(t, 2*20, o.automation[1].matched, "2c: every fifth message matched the one matching rule, once")
	require.False(t, rep.Failed())
}
