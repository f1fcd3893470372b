package riveradapter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// receipter answers each message's receipts from a script, one answer per attempt (the
// last one repeats), and counts the attempts.
type receipter struct {
	mu       sync.Mutex
	script   map[domain.ID][]receiptAnswer
	attempts map[domain.ID]int
}

type receiptAnswer struct {
	out messaging.Outcome
	err error
}

func (r *receipter) SendReadReceipt(_ context.Context, _, id domain.ID) (messaging.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.attempts[id]
	r.attempts[id]++
	s := r.script[id]
	a := s[min(n, len(s)-1)]
	return a.out, a.err
}

func (r *receipter) count(id domain.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[id]
}

func receiptJobs(t *testing.T, pool *pgxpool.Pool, id domain.ID) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id FROM river_job WHERE kind = 'message.read_receipt'
		AND args->>'message_id' = $1 ORDER BY id`, id.String())
	require.NoError(t, err)
	var ids []int64
	for rows.Next() {
		var j int64
		require.NoError(t, rows.Scan(&j))
		ids = append(ids, j)
	}
	require.NoError(t, rows.Err())
	return ids
}

// enqueue inserts the read-receipt job of id in a transaction, committed or rolled back.
func enqueue(t *testing.T, pool *pgxpool.Pool, ins *riveradapter.Inserter, ws, id domain.ID, commit bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, ins.Bind(tx).EnqueueReadReceipt(ctx, ws, id))
	if commit {
		require.NoError(t, tx.Commit(ctx))
	} else {
		require.NoError(t, tx.Rollback(ctx))
	}
}

func TestReadReceiptJob(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	ins, err := riveradapter.NewInserter()
	require.NoError(t, err)

	ws := domain.NewID()
	sent, refused, flaky, gone, throttled, rolledBack := domain.NewID(), domain.NewID(), domain.NewID(), domain.NewID(), domain.NewID(), domain.NewID()
	r := &receipter{attempts: map[domain.ID]int{}, script: map[domain.ID][]receiptAnswer{
		sent:    {{out: messaging.Outcome{Result: messaging.ResultSent}}},
		refused: {{out: messaging.Outcome{Result: messaging.ResultFailed, Code: 131009, Reason: "Parameter value is not valid"}}},
		flaky: {{err: &domain.MetaError{Class: domain.MetaRetry, Code: 131000, Title: "Something went wrong"}},
			{out: messaging.Outcome{Result: messaging.ResultSent}}},
		gone:       {{out: messaging.Outcome{Result: messaging.ResultSkipped, Reason: "message gone"}}},
		throttled:  {{out: messaging.Outcome{Result: messaging.ResultSnoozed, Wait: time.Hour}}},
		rolledBack: {{out: messaging.Outcome{Result: messaging.ResultSent}}},
	}}

	for _, id := range []domain.ID{sent, refused, flaky, gone, throttled} {
		enqueue(t, pool, ins, ws, id, true)
	}
	enqueue(t, pool, ins, ws, sent, true) // marked read twice before the job ran: one job
	enqueue(t, pool, ins, ws, rolledBack, false)
	require.Len(t, receiptJobs(t, pool, sent), 1, "one receipt job per message")
	require.Empty(t, receiptJobs(t, pool, rolledBack), "the job exists only if the transaction commits")

	workers := river.NewWorkers()
	river.AddWorker(workers, &riveradapter.ReadReceiptWorker{Receipts: r})
	c, err := riveradapter.NewClient(pool, riveradapter.ClientConfig{Work: true}, workers, nil, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(stop)
	})

	state := func(id domain.ID) jobRow {
		jobs := receiptJobs(t, pool, id)
		require.Len(t, jobs, 1)
		return readJob(t, pool, jobs[0])
	}
	waitState := func(id domain.ID, want string) jobRow {
		t.Helper()
		var j jobRow
		require.Eventually(t, func() bool { j = state(id); return j.State == want }, 20*time.Second, 20*time.Millisecond,
			"job should be %s", want)
		return j
	}

	j := waitState(sent, "completed")
	require.Equal(t, 1, j.Attempt)
	require.Equal(t, 1, r.count(sent))

	j = waitState(refused, "cancelled")
	require.Equal(t, 1, j.Attempt, "a permanent refusal is not retried")
	require.Len(t, j.Errors, 1)
	require.Contains(t, j.Errors[0], "131009")

	j = waitState(gone, "completed")
	require.Equal(t, 1, j.Attempt, "a message that is gone ends the job")

	j = waitState(flaky, "completed")
	require.Equal(t, 2, j.Attempt, "a transient failure is retried on our schedule")
	require.Len(t, j.Errors, 1)
	require.Equal(t, 2, r.count(flaky))

	j = waitState(throttled, "scheduled")
	require.WithinDuration(t, time.Now().Add(time.Hour), j.ScheduledAt, 5*time.Minute, "a throttle snoozes the job")

	// Once sent, marking the same message read again inserts nothing.
	enqueue(t, pool, ins, ws, sent, true)
	require.Len(t, receiptJobs(t, pool, sent), 1)
}
