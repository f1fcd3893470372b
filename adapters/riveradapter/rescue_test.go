package riveradapter_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// blockArgs is a job whose worker runs until its release channel is closed.
type blockArgs struct {
	N int `json:"n"`
}

func (blockArgs) Kind() string { return "test.block" }

type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	started chan int64
	release chan struct{}
}

func (w *blockWorker) Work(ctx context.Context, job *river.Job[blockArgs]) error {
	if w.started != nil {
		w.started <- job.ID
	}
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newWorkers(w *blockWorker) *river.Workers {
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	return ws
}

// insert adds a job with an insert-only client and returns its id.
func insert(t *testing.T, pool *pgxpool.Pool, args river.JobArgs, opts *river.InsertOpts) int64 {
	t.Helper()
	c, err := riveradapter.NewClient(pool, riveradapter.ClientConfig{}, newWorkers(&blockWorker{}), nil, quiet)
	require.NoError(t, err)
	res, err := c.Insert(context.Background(), args, opts)
	require.NoError(t, err)
	return res.Job.ID
}

// fetchAs does what River's fetch does (JobGetAvailable): the job runs, its attempt
// counted, under client id.
func fetchAs(t *testing.T, pool *pgxpool.Pool, id int64, client string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = attempt + 1,
		attempted_at = now(), attempted_by = array_append(attempted_by, $2) WHERE id = $1`, id, client)
	require.NoError(t, err)
}

type jobRow struct {
	State       string
	Attempt     int
	AttemptedBy []string
	Errors      []string
	ScheduledAt time.Time
	FinalizedAt *time.Time
	Rescues     int
}

func readJob(t *testing.T, pool *pgxpool.Pool, id int64) jobRow {
	t.Helper()
	var j jobRow
	var errs [][]byte
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT state::text, attempt, coalesce(attempted_by, '{}'),
			coalesce(errors::text[]::bytea[], '{}'), scheduled_at, finalized_at, coalesce((metadata->>'river:rescue_count')::int, 0)
		FROM river_job WHERE id = $1`, id).
		Scan(&j.State, &j.Attempt, &j.AttemptedBy, &errs, &j.ScheduledAt, &j.FinalizedAt, &j.Rescues))
	for _, e := range errs {
		var ae struct {
			Error   string `json:"error"`
			Attempt int    `json:"attempt"`
			At      time.Time
		}
		require.NoError(t, json.Unmarshal(e, &ae), "River must be able to read the error it is given")
		j.Errors = append(j.Errors, ae.Error)
	}
	return j
}

// deadClient returns the id of a client whose process held its liveness lock and died:
// its session ended, as Postgres ends the session of a killed process.
func deadClient(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	l := riveradapter.NewLiveness(pool, quiet)
	require.NoError(t, l.Start(context.Background()))
	l.Stop()
	return l.ID()
}

func liveClient(t *testing.T, pool *pgxpool.Pool) *riveradapter.Liveness {
	t.Helper()
	l := riveradapter.NewLiveness(pool, quiet)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(l.Stop)
	return l
}

func TestClientIDCarriesTheLivenessKey(t *testing.T) {
	t.Parallel()
	id, key := riveradapter.NewClientID()
	require.LessOrEqual(t, len(id), 100, "River refuses longer ids")
	got, ok := riveradapter.LivenessKey(id)
	require.True(t, ok)
	require.Equal(t, key, got)
	id2, key2 := riveradapter.NewClientID()
	require.NotEqual(t, id, id2)
	require.NotEqual(t, key, key2)
	for _, other := range []string{"", "waba_", "myhost_2024_01_01T00_00_00_000000", "waba_h_1_zzzzzzzzzzzzzzzz", "waba_h_1-0123456789abcdef"} {
		_, ok := riveradapter.LivenessKey(other)
		require.False(t, ok, other)
	}
}

func TestLivenessLockIsExclusiveAndComesBack(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	l := liveClient(t, pool)
	key, _ := riveradapter.LivenessKey(l.ID())

	// A second process with the same id cannot start.
	twin := riveradapter.NewLivenessFor(pool.Config().ConnConfig, l.ID(), key, quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	require.Error(t, twin.Start(ctx))

	// Its session ended by someone else (an administrator, a Postgres restart): it takes
	// the lock again on a new connection.
	holder := func() int {
		var pid int
		err := pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::int8 = ($1::int8 >> 32) & 4294967295 AND objid::int8 = $1::int8 & 4294967295 AND objsubid = 1`, key).Scan(&pid)
		if err == pgx.ErrNoRows {
			return 0
		}
		require.NoError(t, err)
		return pid
	}
	pid := holder()
	require.NotZero(t, pid)
	_, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	require.Eventually(t, func() bool { p := holder(); return p != 0 && p != pid }, 15*time.Second, 50*time.Millisecond)
}

func TestRescuerReturnsTheJobsOfADeadClientAtOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	dead := deadClient(t, pool)
	live := liveClient(t, pool)
	self := deadClient(t, pool) // this process, between two liveness connections

	plain := insert(t, pool, blockArgs{1}, nil)
	spent := insert(t, pool, blockArgs{3}, &river.InsertOpts{MaxAttempts: 1})
	cancelAsked := insert(t, pool, blockArgs{4}, nil)
	ofLive := insert(t, pool, blockArgs{5}, nil)
	ofOther := insert(t, pool, blockArgs{6}, nil)
	ofSelf := insert(t, pool, blockArgs{7}, nil)
	for _, id := range []int64{plain, spent, cancelAsked} {
		fetchAs(t, pool, id, dead)
	}
	_, err := pool.Exec(ctx, `UPDATE river_job SET metadata = metadata || jsonb_build_object('cancel_attempted_at', now()) WHERE id = $1`, cancelAsked)
	require.NoError(t, err)
	fetchAs(t, pool, ofLive, live.ID())
	fetchAs(t, pool, ofOther, "otherhost_2025_01_01T00_00_00_000000") // not ours: River's rescue only
	fetchAs(t, pool, ofSelf, self)

	now := time.Now().UTC().Truncate(time.Microsecond)
	r := riveradapter.NewDeadClientRescuer(pool, riveradapter.RescuerConfig{
		Self: self, Now: func() time.Time { return now }}, quiet)
	res, err := r.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{dead}, res.DeadClients)
	require.Equal(t, riveradapter.RescueResult{DeadClients: []string{dead}, Available: 1, Discarded: 1, Cancelled: 1}, res)

	j := readJob(t, pool, plain)
	require.Equal(t, "available", j.State)
	require.Equal(t, 1, j.Attempt, "the dead attempt counts")
	require.Equal(t, []string{dead}, j.AttemptedBy)
	require.True(t, now.Equal(j.ScheduledAt), "%s", j.ScheduledAt)
	require.Nil(t, j.FinalizedAt)
	require.Len(t, j.Errors, 1)
	require.Contains(t, j.Errors[0], dead)
	require.Equal(t, 1, j.Rescues)

	j = readJob(t, pool, spent)
	require.Equal(t, "discarded", j.State)
	require.NotNil(t, j.FinalizedAt)
	require.Equal(t, "cancelled", readJob(t, pool, cancelAsked).State)

	for _, id := range []int64{ofLive, ofOther, ofSelf} {
		j := readJob(t, pool, id)
		require.Equal(t, "running", j.State, "job %d", id)
		require.Empty(t, j.Errors)
	}

	// A second sweep (or another instance's) finds nothing left to do.
	res, err = r.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Available+res.Discarded+res.Cancelled)
}

// The whole path with real River clients: a job left running by a dead process is worked
// to completion by a live one within moments, by a rescuer sweeping on its own.
func TestDeadClientsJobIsWorkedByALiveOne(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	dead := deadClient(t, pool)
	id := insert(t, pool, blockArgs{1}, nil)
	fetchAs(t, pool, id, dead)

	live := liveClient(t, pool)
	w := &blockWorker{release: make(chan struct{})}
	close(w.release)
	c, err := riveradapter.NewClient(pool, riveradapter.ClientConfig{ID: live.ID(), Work: true, WebhookWorkers: 1}, newWorkers(w), nil, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	r := riveradapter.NewDeadClientRescuer(pool, riveradapter.RescuerConfig{Self: live.ID(), Interval: 20 * time.Millisecond}, quiet)
	r.Start()
	t.Cleanup(r.Stop)

	require.Eventually(t, func() bool { return readJob(t, pool, id).State == "completed" }, 10*time.Second, 20*time.Millisecond)
	j := readJob(t, pool, id)
	require.Equal(t, 2, j.Attempt)
	require.Equal(t, []string{dead, live.ID()}, j.AttemptedBy)
}

// A live client's job is never rescued, however long it has run: River records the
// client's id, the client holds its lock, and the rescuer's clock can be a day ahead.
func TestLiveClientsLongJobIsNeverTouched(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	live := liveClient(t, pool)
	w := &blockWorker{started: make(chan int64, 1), release: make(chan struct{})}
	c, err := riveradapter.NewClient(pool, riveradapter.ClientConfig{ID: live.ID(), Work: true, WebhookWorkers: 1}, newWorkers(w), nil, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	id := insert(t, pool, blockArgs{1}, nil)
	select {
	case got := <-w.started:
		require.Equal(t, id, got)
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	require.Equal(t, []string{live.ID()}, readJob(t, pool, id).AttemptedBy, "River records our client id")

	later := time.Now().Add(24 * time.Hour)
	other := riveradapter.NewDeadClientRescuer(pool, riveradapter.RescuerConfig{Self: "another-process", Now: func() time.Time { return later }}, quiet)
	for range 3 {
		res, err := other.Sweep(context.Background())
		require.NoError(t, err)
		require.Empty(t, res.DeadClients)
	}
	j := readJob(t, pool, id)
	require.Equal(t, "running", j.State)
	require.Equal(t, 1, j.Attempt)
	require.Empty(t, j.Errors)

	close(w.release)
	require.Eventually(t, func() bool { return readJob(t, pool, id).State == "completed" }, 10*time.Second, 20*time.Millisecond)
}
