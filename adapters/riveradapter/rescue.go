package riveradapter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DeadClientRescuer gives the jobs of a dead process back to the queue within a second or
// two: a running job whose last attempt belongs to a client whose liveness lock is free
// (see Liveness) is made available again. Every working process runs one; they never do a
// job twice, because each rescue is one UPDATE of rows still running under the dead
// client's id. Jobs of a live client are never touched, however long they run. River's
// own rescue (RescueStuckJobsAfter, the worker's Timeout) stays as the fallback for what
// liveness cannot see, such as a process cut off by a network partition.
//
// The attempt the dead process made counts, as River's rescue counts it: a job that kills
// its process (a fatal error, memory) is tried MaxAttempts times and then discarded, not
// retried until every instance has crashed on it for ever.
type DeadClientRescuer struct {
	pool *pgxpool.Pool
	cfg  RescuerConfig
	log  *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// RescuerConfig configures a DeadClientRescuer.
type RescuerConfig struct {
	// Self is this process's client id: it is alive, whatever its lock says (the lock may
	// be between connections).
	Self string
	// Interval between sweeps (default 1 s). A sweep is one indexed read of the running jobs
	// when every client is alive.
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RescueResult is what one sweep did.
type RescueResult struct {
	DeadClients []string
	Available   int // made available again
	Discarded   int // out of attempts
	Cancelled   int // a cancellation was asked for while it ran
}

// NewDeadClientRescuer returns a rescuer over pool; Start runs it.
func NewDeadClientRescuer(pool *pgxpool.Pool, cfg RescuerConfig, log *slog.Logger) *DeadClientRescuer {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &DeadClientRescuer{pool: pool, cfg: cfg, log: log}
}

// Start sweeps at once and then every Interval until Stop.
func (r *DeadClientRescuer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		for {
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			res, err := r.Sweep(sctx)
			scancel()
			switch {
			case err != nil && ctx.Err() == nil:
				r.log.WarnContext(ctx, "rescue of dead clients' jobs failed", "err", err)
			case len(res.DeadClients) > 0:
				r.log.InfoContext(ctx, "rescued the jobs of dead River clients", "clients", res.DeadClients,
					"available", res.Available, "discarded", res.Discarded, "cancelled", res.Cancelled)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the sweeps and waits for the one under way.
func (r *DeadClientRescuer) Stop() {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	})
}

// Sweep rescues the running jobs of the clients that are dead now.
//
// River has no API for this: JobRetry leaves running jobs alone and its rescuer works by
// age alone. So this is SQL on river_job, mirroring River's rescue (JobRescueMany in
// riverdriver/riverpgxv5, v0.51): the same columns (state, attempt, attempted_by, errors,
// scheduled_at, finalized_at, metadata's river:rescue_count and cancel_attempted_at), a
// job out of attempts discarded and one whose cancellation was asked for cancelled. One
// difference: the job goes straight to `available` (with scheduled_at now) rather
// than `retryable`, which only River's leader moves on, every few seconds, and the dead
// process may have been the leader, whose lease has to run out first.
func (r *DeadClientRescuer) Sweep(ctx context.Context) (RescueResult, error) {
	var res RescueResult
	rows, err := r.pool.Query(ctx, `SELECT DISTINCT attempted_by[cardinality(attempted_by)] FROM river_job
		WHERE state = 'running' AND cardinality(attempted_by) > 0`)
	if err != nil {
		return res, err
	}
	clients, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return res, err
	}
	var ids []string
	var keys []int64
	for _, c := range clients {
		if key, ok := LivenessKey(c); ok && c != r.cfg.Self {
			ids, keys = append(ids, c), append(keys, key)
		}
	}
	if len(ids) == 0 {
		return res, nil
	}
	now := r.cfg.Now().UTC()
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// A free lock is a dead client. Taking it for this transaction keeps the answer
		// true until the rescue commits (an id is never reused, so it stays dead after).
		rows, err := tx.Query(ctx, `SELECT id FROM unnest($1::text[], $2::int8[]) AS c(id, key)
			WHERE pg_try_advisory_xact_lock(key)`, ids, keys)
		if err != nil {
			return err
		}
		if res.DeadClients, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(res.DeadClients) == 0 {
			return err
		}
		rows, err = tx.Query(ctx, `
			WITH j AS (SELECT id, metadata ? 'cancel_attempted_at' AS cancel, attempt >= max_attempts AS spent
			           FROM river_job
			           WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = ANY($1::text[])
			           FOR UPDATE)
			UPDATE river_job SET
				state = CASE WHEN j.cancel THEN 'cancelled' WHEN j.spent THEN 'discarded' ELSE 'available' END::river_job_state,
				finalized_at = CASE WHEN j.cancel OR j.spent THEN $2::timestamptz END,
				scheduled_at = CASE WHEN j.cancel OR j.spent THEN river_job.scheduled_at ELSE $2::timestamptz END,
				errors = array_append(river_job.errors, jsonb_build_object(
					'at', $2::timestamptz, 'attempt', greatest(river_job.attempt, 0), 'trace', '',
					'error', 'Job rescued: the process running it (River client ' || river_job.attempted_by[cardinality(river_job.attempted_by)] || ') died')),
				metadata = river_job.metadata || jsonb_build_object('river:rescue_count',
					coalesce(CASE WHEN jsonb_typeof(river_job.metadata -> 'river:rescue_count') = 'number'
						THEN (river_job.metadata ->> 'river:rescue_count')::int END, 0) + 1)
			FROM j
			WHERE river_job.id = j.id
			RETURNING river_job.state::text`, res.DeadClients, now)
		if err != nil {
			return err
		}
		states, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, s := range states {
			switch s {
			case "available":
				res.Available++
			case "discarded":
				res.Discarded++
			case "cancelled":
				res.Cancelled++
			}
		}
		return nil
	})
	if err != nil {
		return RescueResult{}, fmt.Errorf("rescue jobs of dead clients: %w", err)
	}
	return res, nil
}
