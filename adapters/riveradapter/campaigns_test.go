package riveradapter_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/domain"
)

// A campaign has one send job to run at a time: a launch, a resume and the leader's tick
// may each ask for one; once it ended (completed, cancelled, discarded) a new one goes in.
func TestCampaignSendJobIsOnePerCampaign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ins, err := riveradapter.NewInserter()
	require.NoError(t, err)
	ws, campaign, other := domain.NewID(), domain.NewID(), domain.NewID()
	enqueue := func(id domain.ID) {
		t.Helper()
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return ins.Bind(tx).EnqueueCampaignSend(ctx, ws, id) }))
	}
	count := func(id domain.ID) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'campaign.send' AND args->>'campaign_id' = $1`,
			id.String()).Scan(&n))
		return n
	}
	enqueue(campaign)
	enqueue(campaign)
	enqueue(other)
	require.Equal(t, 1, count(campaign))
	require.Equal(t, 1, count(other))
	for _, state := range []string{"running", "scheduled", "retryable"} {
		_, err = pool.Exec(ctx, `UPDATE river_job SET state = $2 WHERE kind = 'campaign.send' AND args->>'campaign_id' = $1`,
			campaign.String(), state)
		require.NoError(t, err)
		enqueue(campaign)
		require.Equal(t, 1, count(campaign), "a %s job blocks another", state)
	}
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE kind = 'campaign.send'
		AND args->>'campaign_id' = $1`, campaign.String())
	require.NoError(t, err)
	enqueue(campaign)
	require.Equal(t, 2, count(campaign), "an ended job does not")

	// A batch's send jobs, at the priority asked, in one statement.
	ids := []domain.ID{domain.NewID(), domain.NewID(), domain.NewID()}
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return ins.Bind(tx).EnqueueSends(ctx, ws, ids, 4) }))
	var n, priority int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), max(priority) FROM river_job WHERE kind = 'message.send' AND queue = 'outbound'`).
		Scan(&n, &priority))
	require.Equal(t, 3, n)
	require.Equal(t, 4, priority)
}
