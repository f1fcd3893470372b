package riveradapter_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
)

// A nudge asks every subscriber to catch up with one job each, and nudges while a job waits
// add none (EventsArgs is unique while waiting).
func TestEventsNudgerAsksEachSubscriberOnce(t *testing.T) {
	pool := pgtest.NewPool(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, &riveradapter.EventsWorker{}) // registered, never run: the client does not work
	c, err := riveradapter.NewClient(pool, riveradapter.ClientConfig{}, workers, nil, quiet)
	require.NoError(t, err)
	n := riveradapter.NewEventsNudger(c, []string{"hooks", "automation"}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	defer func() { cancel(); <-done }()

	jobs := func() map[string]int {
		rows, err := pool.Query(context.Background(), `SELECT args->>'subscriber' FROM river_job WHERE kind = 'events.deliver'`)
		require.NoError(t, err)
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			got[s]++
		}
		require.NoError(t, rows.Err())
		return got
	}
	require.Empty(t, jobs(), "no nudge, no job")
	n.Wake()
	want := map[string]int{"hooks": 1, "automation": 1}
	require.Eventually(t, func() bool { return len(jobs()) == 2 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, want, jobs())
	for range 5 {
		n.Wake()
		time.Sleep(riveradapter.EventsNudgeEvery) // let the nudges through: they must add nothing
	}
	require.Equal(t, want, jobs(), "a subscriber with a job waiting gets no second one")
}
