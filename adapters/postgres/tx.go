package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what both *pgxpool.Pool and pgx.Tx offer, so a repository runs the same
// code in or out of a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	// SendBatch sends several statements in one round trip.
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	// Begin starts a transaction (a savepoint inside one), for pgx.BeginFunc.
	Begin(ctx context.Context) (pgx.Tx, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// TxRunner runs a function in one transaction with repositories bound to it. R is the
// bundle of ports a use-case package declares; build makes it from the transaction (and
// may add a River enqueuer bound to the same transaction: the outbox).
type TxRunner[R any] struct {
	pool        Beginner
	build       func(pgx.Tx) R
	asyncCommit bool
	announcer   *Announcer
}

// Beginner starts transactions: a *pgxpool.Pool, or a *DB (on the pool of the context).
type Beginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// NewTxRunner returns a runner that hands fn the bundle build makes for each transaction,
// begun on pool.
func NewTxRunner[R any](pool Beginner, build func(pgx.Tx) R) *TxRunner[R] {
	return &TxRunner[R]{pool: pool, build: build}
}

// WithAsyncCommit makes the runner's transactions commit without waiting for the WAL
// flush (synchronous_commit off). Only for work a River job redoes idempotently: the job's
// own completion commits synchronously afterwards, and that flush covers every earlier
// commit, so the job is never recorded done while its work could still be lost; a crash
// before it just runs the job again.
func (r *TxRunner[R]) WithAsyncCommit() *TxRunner[R] {
	r.asyncCommit = true
	return r
}

// Announcing makes the runner tell a (every instance's live streams) after each commit
// that the event log may have grown.
func (r *TxRunner[R]) Announcing(a *Announcer) *TxRunner[R] {
	r.announcer = a
	return r
}

// InTx runs fn in a transaction: committed when fn returns nil, rolled back otherwise.
// A serialization failure or deadlock is retried a few times.
func (r *TxRunner[R]) InTx(ctx context.Context, fn func(ctx context.Context, repos R) error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var opts pgx.TxOptions
		if r.asyncCommit {
			opts.BeginQuery = `BEGIN; SET LOCAL synchronous_commit = off` // one round trip
		}
		err = pgx.BeginTxFunc(ctx, r.pool, opts, func(tx pgx.Tx) error { return fn(ctx, r.build(tx)) })
		if err == nil && r.announcer != nil {
			r.announcer.Announce()
		}
		if !isRetryable(err) {
			return err
		}
	}
	return err
}

// isRetryable reports whether a transaction failed only because of concurrency (a
// serialization failure or a deadlock) and may simply be run again.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.SerializationFailure || pgErr.Code == pgerrcode.DeadlockDetected)
}

// uniqueViolation reports whether err is a unique violation of the named constraint (any
// constraint when name is empty).
func uniqueViolation(err error, name string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation &&
		(name == "" || pgErr.ConstraintName == name)
}
