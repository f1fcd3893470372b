package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestMessagingLimitOfEachTier(t *testing.T) {
	t.Parallel()
	for tier, want := range map[string]int{"TIER_50": 50, "TIER_250": 250, "TIER_1K": 1000, "TIER_2K": 2000, "TIER_10K": 10000,
		"TIER_100K": 100000, " tier_2k ": 2000} {
		got, ok := domain.MessagingLimit(tier)
		require.True(t, ok, tier)
		require.Equal(t, want, got, tier)
	}
	for _, tier := range []string{"TIER_UNLIMITED", "TIER_NOT_SET", "", "UNKNOWN", "TIER_", "TIER_0", "TIER_-5", "250"} {
		_, ok := domain.MessagingLimit(tier)
		require.False(t, ok, "%q has no limit", tier)
	}
}

func TestCapacityCheck(t *testing.T) {
	t.Parallel()
	c := domain.CapacityOf("TIER_250", 200)
	require.Equal(t, 50, c.Left())
	require.NoError(t, c.Check(50), "exactly what is left fits")
	err := c.Check(51)
	require.Equal(t, domain.KindCapacityExceeded, domain.KindOf(err))
	require.Contains(t, err.Error(), "50 fit now")

	over := domain.CapacityOf("TIER_250", 300) // other sends passed it
	require.Zero(t, over.Left())
	require.Error(t, over.Check(1))
	require.NoError(t, over.Check(0))

	free := domain.CapacityOf("TIER_UNLIMITED", 5_000_000)
	require.False(t, free.Limited)
	require.NoError(t, free.Check(10_000_000))
	require.NoError(t, domain.CapacityOf("", 0).Check(1_000_000), "a tier not synced yet stops nothing")
}

func TestFairShare(t *testing.T) {
	t.Parallel()
	require.Equal(t, 80, domain.FairShare(80, 1))
	require.Equal(t, 80, domain.FairShare(80, 0), "the campaign asking counts")
	require.Equal(t, 40, domain.FairShare(80, 2))
	require.Equal(t, 26, domain.FairShare(80, 3), "together never past the number's pace")
	require.Equal(t, 1, domain.FairShare(80, 200), "every campaign moves")
	require.Equal(t, 500, domain.FairShare(1000, 2))
}

func TestQualityLow(t *testing.T) {
	t.Parallel()
	require.True(t, domain.QualityLow("RED"))
	require.True(t, domain.QualityLow("red"))
	for _, q := range []string{"GREEN", "YELLOW", "UNKNOWN", ""} {
		require.False(t, domain.QualityLow(q), q)
	}
}
