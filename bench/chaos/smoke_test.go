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

// TestSmoke runs every scenario small: the killed ingest process is an api-role one (the
// workers live in another process, so nothing waits for River's one-minute rescue of jobs a
// dead process was running), and the worker-kill scenario accepts messages still awaiting
// that rescue. The invariants are asserted: nothing acknowledged lost, nothing doubled,
// nothing sent twice, the plan limit exact.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, config{KillN: 600, Conc: 8, SplitRoles: true, Outage: 1500 * time.Millisecond, OutageRun: 4 * time.Second,
		SendN: 40, PlanN: 105, RescueWait: 5 * time.Second, RedisURL: "redis://127.0.0.1:6379/12",
		ResultsDir: t.TempDir(), Out: io.Discard})
	if rep != nil {
		var buf strings.Builder
		rep.Print(&buf)
		t.Log(buf.String())
	}
	require.NoError(t, err)
	require.False(t, rep.Failed(), "a chaos check failed")
}
