// Package postgres holds the pgx repositories, the transaction runner and the schema
// migrations runner. Nothing above this package sees pgx or pgconn.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NewPool opens a pool without waiting for the server: start-up checks reachability
// separately so a server that comes up later is picked up by itself. Its connections carry
// name as their application_name (unless the URL sets one), so pg_stat_activity tells a
// request's backend from a worker's.
func NewPool(ctx context.Context, url string, maxConns int32, name string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	// pgxpool defaults to max(4, NumCPU) connections: River alone needs several.
	cfg.MaxConns = maxConns
	cfg.MinIdleConns = min(2, maxConns)
	cfg.MaxConnLifetime = time.Hour
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	return pgxpool.NewWithConfig(ctx, cfg)
}

// DB is what repositories and transaction runners run on: a process's two pools, one for
// handling requests and one for everything else (River and its workers, the background
// loops), chosen by the context of each call. A request's context is marked ForRequest
// (the HTTP server does it for every request); any other context uses the background
// pool. So a request never waits for a connection behind a campaign's send jobs, whatever
// use case it runs: the same use cases run in requests and in jobs.
//
// A process that only serves requests, or only works jobs, has one pool: both are the same.
type DB struct {
	requests, background *pgxpool.Pool
}

// NewDB returns the DB over the two pools (the same pool twice for one shared pool).
func NewDB(requests, background *pgxpool.Pool) *DB {
	return &DB{requests: requests, background: background}
}

// SplitConns divides a process's connections (DB_MAX_CONNS) between the request pool and
// the background pool: a third to requests (2 at the least), the rest to River, its
// workers and the background loops, but at most BackgroundConnsPerCPU per CPU of the
// process (cpus).
func SplitConns(total int32, cpus int) (requests, background int32) {
	requests = max(2, total/3)
	return requests, max(2, min(total-requests, int32(cpus)*BackgroundConnsPerCPU))
}

// BackgroundConnsPerCPU bounds the background pool of a process that also serves requests.
// Background work (a campaign's sends, their status webhooks) comes in bursts that would
// use every connection; more backends and workers at once than the CPUs can run only take
// turns on them, and each turn delays the requests' queries and goroutines too. On 2 CPUs,
// during bench/campaign, the API's p99 was 80-100 ms with 17 background connections, 57 ms
// with 8 and 50-55 ms with 6 (20,000-recipient runs); whole 100,000-recipient runs gave
// 58-67 ms with 6 and 52-56 ms with 4, the campaign's pace unchanged. 2 a CPU rather than
// 1: with 2 in all, 87% of the background pool's acquires waited, 26 ms on average, and a
// whole run fell behind the campaign's pace.
const BackgroundConnsPerCPU = 2

type requestKey struct{}

// ForRequest marks ctx as a request's: DB runs its queries and transactions on the request pool.
func ForRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, true)
}

// IsRequest reports whether ctx was marked ForRequest.
func IsRequest(ctx context.Context) bool {
	v, _ := ctx.Value(requestKey{}).(bool)
	return v
}

// Pool is the pool for ctx.
func (db *DB) Pool(ctx context.Context) *pgxpool.Pool {
	if IsRequest(ctx) {
		return db.requests
	}
	return db.background
}

// Requests is the request pool; Background the other (River's). The same pool when the
// process has one.
func (db *DB) Requests() *pgxpool.Pool   { return db.requests }
func (db *DB) Background() *pgxpool.Pool { return db.background }

// Pools are the distinct pools, the request pool first.
func (db *DB) Pools() []*pgxpool.Pool {
	if db.requests == db.background {
		return []*pgxpool.Pool{db.requests}
	}
	return []*pgxpool.Pool{db.requests, db.background}
}

// Close closes the pools.
func (db *DB) Close() {
	for _, p := range db.Pools() {
		p.Close()
	}
}

// Querier, and BeginTx for TxRunner, on the pool of each call's context.

func (db *DB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return db.Pool(ctx).Exec(ctx, sql, args...)
}

func (db *DB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return db.Pool(ctx).Query(ctx, sql, args...)
}

func (db *DB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return db.Pool(ctx).QueryRow(ctx, sql, args...)
}

func (db *DB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return db.Pool(ctx).SendBatch(ctx, b)
}

func (db *DB) Begin(ctx context.Context) (pgx.Tx, error) { return db.Pool(ctx).Begin(ctx) }

func (db *DB) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	return db.Pool(ctx).BeginTx(ctx, opts)
}

func (db *DB) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return db.Pool(ctx).CopyFrom(ctx, table, columns, src)
}
