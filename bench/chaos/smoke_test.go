package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// TestSmoke runs every scenario small: the killed ingest process is an api-role one (the
// workers live in another process), the outage scenario accepts jobs still awaiting River's
// rescue, and the worker-kill scenario waits for the dead worker's send jobs (rescued within
// seconds) but not for its timing target, nor for a transient failure's retry backoff. The
// invariants are asserted: nothing acknowledged lost, nothing doubled, nothing sent twice,
// nothing left held by the dead worker, the plan limit exact, every campaign recipient sent
// once across the kills.
func TestSmoke(t *testing.T) {
	rep := harness.Smoke(t, 6*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{KillN: 600, Conc: 8, SplitRoles: true, Outage: 1500 * time.Millisecond, OutageRun: 4 * time.Second,
			SendN: 40, PlanN: 105, CampaignN: 300, HooksN: 300, RescueWait: 20 * time.Second, RedisURL: "redis://127.0.0.1:6379/12",
			ResultsDir: t.TempDir(), Out: io.Discard})
	})
	require.False(t, rep.Failed(), "a chaos check failed")
}
