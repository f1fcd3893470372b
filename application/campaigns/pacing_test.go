package campaigns_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/campaigns"
)

// A batch takes the number's throughput of the time since the job's previous batch: at
// least one interval's worth, at most MaxBatchSpan's, so the pauses, the batches' own time
// and the job's pick-up do not slow the campaign below the number's pace.
func TestSendBatchAfterMakesUpForTheTimeSinceTheLastBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for i := range 1000 {
		b.contact(fmt.Sprintf("Kim %d", i), "all")
	}
	c := b.launched(t, "hello", "all")
	b.w.grant = -1

	step, err := b.svc.SendBatchAfter(ctx, b.ws, c.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 80, step.Queued, "no batch before: one second of a default number")
	for _, tc := range []struct {
		since time.Duration
		want  int
	}{
		{2 * time.Second, 160},
		{1500 * time.Millisecond, 120},
		{500 * time.Millisecond, 40},
		{100 * time.Millisecond, 20},                   // never less than one interval's worth
		{10 * time.Minute, 80 * 3},                     // after a long wait, MaxBatchSpan's
		{campaigns.MaxBatchSpan + time.Second, 80 * 3}, // the same bound
	} {
		step, err = b.svc.SendBatchAfter(ctx, b.ws, c.ID, tc.since)
		require.NoError(t, err)
		require.Equal(t, tc.want, step.Queued, "%s after the batch before", tc.since)
	}
}

// A wait the job chose (a spent quota's, the messages in flight) is not made up when it
// ends: the next batch takes the time since the batch before less that wait, so a campaign
// whose quota ran out does not take MaxBatchSpan's worth at once when the window resets.
func TestBehindLeavesOutTheChosenWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		since, waited, want time.Duration
	}{
		{0, 0, 0}, // no batch before
		{400 * time.Millisecond, campaigns.BatchInterval, 400 * time.Millisecond}, // the pause, the batch and the pick-up
		{4300 * time.Millisecond, 4 * time.Second, 550 * time.Millisecond},        // a quota wait of 4 s
		{61 * time.Second, campaigns.BlockedWait, time.Second + campaigns.BatchInterval},
		{2 * time.Second, 5 * time.Second, campaigns.BatchInterval}, // woken early: at least an interval's worth
	} {
		require.Equal(t, tc.want, campaigns.Behind(tc.since, tc.waited), "%s since, %s waited", tc.since, tc.waited)
	}
}
