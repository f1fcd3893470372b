package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmoke runs the benchmark on a short list, so that it keeps working.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole app")
	}
	require.NoError(t, run("2000"))
}
