package main

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/adapters/riveradapter"
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

// webhookBodies is every queued webhook body with the job answering for it, as w: a drain
// counts webhooks, not jobs, since one job carries the bodies of one ingest transaction.
const webhookBodies = `(` + riveradapter.WebhookBodiesQuery + `) w`

// queuedAfter counts the webhook bodies queued after mark waiting for a worker.
func queuedAfter(ctx context.Context, db *harness.DB, mark int64) (int, error) {
	return db.Count(ctx, `SELECT count(*) FROM `+webhookBodies+` WHERE w.job_id > $1 AND w.state = 'available'`, mark)
}

// drainedAfter reads the webhook bodies queued after mark (whose job, their batch's or their
// own once split out of it, came after mark) once drained: how many were processed, the
// first job's attempt and the last one's end, and how many failed or are to retry.
func drainedAfter(ctx context.Context, db *harness.DB, mark int64) (processed int, first, last time.Time, failed int, err error) {
	if err = db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(min(j.attempted_at), now()), coalesce(max(w.finalized_at), now())
		FROM `+webhookBodies+` JOIN river_job j ON j.id = w.job_id
		WHERE w.job_id > $1 AND w.state = 'completed'`, mark).Scan(&processed, &first, &last); err != nil {
		return
	}
	failed, err = db.Count(ctx, `SELECT count(*) FROM `+webhookBodies+` WHERE w.job_id > $1 AND w.state IN `+webhookFailed, mark)
	return
}

// webhookFailed are the states of a body's job that failed: a body split out of its batch
// waits for its retry as scheduled, a job that failed whole as retryable.
const webhookFailed = `('scheduled', 'retryable', 'discarded', 'cancelled')`
