package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Main runs a suite within timeout (and until SIGINT/SIGTERM), prints its report, writes it
// to resultsDir ("" = bench/results) and exits non-zero when the run failed or a check did.
func Main(name string, timeout time.Duration, resultsDir string, run func(context.Context) (*Report, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rep, err := run(ctx)
	if rep != nil {
		rep.Print(os.Stdout)
		if path, werr := rep.Write(resultsDir); werr == nil {
			fmt.Println("  results:", path)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
	if rep.Failed() {
		os.Exit(1)
	}
}

// Smoke runs a suite small inside `go test` (skipped with -short: it starts server
// processes), fails the test on an error, logs the report and returns it for the suite's
// own assertions.
func Smoke(t *testing.T, timeout time.Duration, run func(context.Context) (*Report, error)) *Report {
	t.Helper()
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := run(ctx)
	if rep != nil {
		var buf strings.Builder
		rep.Print(&buf)
		t.Log(buf.String())
	}
	require.NoError(t, err)
	return rep
}
