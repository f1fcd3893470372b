package main

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// What the A/B drains of 2b and 2c share.

// abOrder is the order of the phases in round r: A, B, then B, A, and so on, so that a
// drift through the run falls on both.
func abOrder(r int) []int {
	if r%2 == 1 {
		return []int{1, 0}
	}
	return []int{0, 1}
}

// jobMark is the id of the last River job: the drain's jobs are the ones after it.
func jobMark(ctx context.Context, db *harness.DB) (int64, error) {
	var mark int64
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM river_job`).Scan(&mark)
	return mark, err
}

// settleQueue prepares a drain as in 2: the queue analyzed; and a checkpoint, so that no
// drain inherits the previous one's dirty pages.
func settleQueue(ctx context.Context, db *harness.DB, logf func(string, ...any)) error {
	if _, err := db.Pool.Exec(ctx, `ANALYZE river_job`); err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `CHECKPOINT`); err != nil {
		logf("checkpoint: %v", err) // needs superuser or pg_checkpoint; the figures stand without
	}
	return nil
}

// queuedAfter counts the webhook jobs after mark waiting for a worker.
func queuedAfter(ctx context.Context, db *harness.DB, mark int64) (int, error) {
	return db.Count(ctx, `SELECT count(*) FROM river_job WHERE id > $1 AND kind = 'webhook.meta' AND state = 'available'`, mark)
}

// drainedAfter reads the webhook jobs after mark once drained: how many completed, the
// first one's attempt and the last one's end, and how many failed or are to retry.
func drainedAfter(ctx context.Context, db *harness.DB, mark int64) (processed int, first, last time.Time, failed int, err error) {
	if err = db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(min(attempted_at), now()), coalesce(max(finalized_at), now())
		FROM river_job WHERE id > $1 AND kind = 'webhook.meta' AND state = 'completed'`, mark).Scan(&processed, &first, &last); err != nil {
		return
	}
	failed, err = db.Count(ctx, `SELECT count(*) FROM river_job WHERE id > $1 AND kind = 'webhook.meta'
		AND state IN ('retryable', 'discarded', 'cancelled')`, mark)
	return
}
