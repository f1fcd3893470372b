package webhook

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTierOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"TIER_10K": "TIER_10K", "2000": "TIER_2K", "250": "TIER_250", "100000": "TIER_100K", "-1": "TIER_UNLIMITED",
		"": "", "abc": "", "0": "",
	} {
		require.Equal(t, want, tierOf(in), in)
	}
}
