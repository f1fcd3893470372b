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

// TestSmoke runs every probe (not the fuzzers: `make test` runs those on its own) and
// requires that none was accepted.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, config{ResultsDir: t.TempDir(), Out: io.Discard})
	require.NoError(t, err)
	var buf strings.Builder
	rep.Print(&buf)
	t.Log(buf.String())
	for _, p := range lastProbes {
		require.Zero(t, p.accepted, "probe %q accepted: %v", p.name, p.all)
	}
}
