package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// TestSmoke runs every probe (not the fuzzers: `make test` runs those on its own) and
// requires that none was accepted.
func TestSmoke(t *testing.T) {
	rep := harness.Smoke(t, 5*time.Minute, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, config{ResultsDir: t.TempDir(), Out: io.Discard, SkipExpiry: true})
	})
	require.NotEmpty(t, lastProbes)
	require.False(t, rep.Failed(), "a probe was accepted")
	for _, p := range lastProbes {
		require.Zero(t, p.accepted, "probe %q accepted: %v", p.name, p.all)
	}
}
