package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
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
