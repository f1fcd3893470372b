package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/bootstrap"
)

// DB is a scratch database: created empty, migrated, dropped by Drop.
type DB struct {
	URL  string
	Name string
	Pool *pgxpool.Pool // a small pool for the suite's own queries
	base string
}

// KeepEnv names the environment variable that, set to 1, keeps a bench's database when it
// ends (Drop only closes the pool), to look at its plans and data afterwards; the bench
// prints its name. Drop such a database by hand.
const KeepEnv = "WABA_BENCH_KEEP_DB"

// NewDB creates a database named waba_<prefix>_<random> on the server of base, applies
// the app and River schemas, and opens a pool of at most maxConns to it.
func NewDB(ctx context.Context, base, prefix string, maxConns int32) (*DB, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "waba_" + prefix + "_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	_ = conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	db := &DB{URL: u.String(), Name: name, base: base}
	if _, err := bootstrap.Migrate(ctx, db.URL); err != nil {
		db.Drop()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		db.Drop()
		return nil, err
	}
	cfg.MaxConns = maxConns
	if db.Pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		db.Drop()
		return nil, err
	}
	return db, nil
}

// Drop closes the pool and drops the database, disconnecting whatever is left.
func (db *DB) Drop() {
	if db.Pool != nil {
		db.Pool.Close()
	}
	if os.Getenv(KeepEnv) == "1" {
		fmt.Fprintf(os.Stderr, "%s=1: database %s kept\n", KeepEnv, db.Name)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.base)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db.Name+" WITH (FORCE)")
}

// Count runs a count query.
func (db *DB) Count(ctx context.Context, sql string, args ...any) (int, error) {
	var n int
	err := db.Pool.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

// webhookOpen are the job states of a webhook body not yet done with.
const webhookOpen = `('available', 'pending', 'scheduled', 'running', 'retryable')`

// OpenWebhooks counts the queued Meta webhook bodies not yet processed: those whose job
// (their batch's, or their own once split out of it: riveradapter.WebhookBodiesQuery) is
// available, pending, scheduled, running or retryable.
func (db *DB) OpenWebhooks(ctx context.Context) (int, error) {
	return db.Count(ctx, `SELECT count(*) FROM (`+riveradapter.WebhookBodiesQuery+`) w WHERE w.state IN `+webhookOpen)
}

// WaitWebhooks waits until every queued Meta webhook body is processed, polling every
// 250 ms up to timeout. It returns the bodies still open (OpenWebhooks). The poll is an
// EXISTS on River's fetch index, not a count: counting a large queue every few
// milliseconds took most of a core from the Postgres it measures. It looks for an open
// job of either webhook kind, which is the same: a body is open when the job answering for
// it is, and a batch job is open only while bodies of it are (or, for the moment between
// splitting out its failed bodies and completing, while their own jobs are open).
func (db *DB) WaitWebhooks(ctx context.Context, timeout time.Duration) (open int, err error) {
	deadline := time.Now().Add(timeout)
	for {
		var any bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job
			WHERE kind IN ('webhook.meta', 'webhook.meta_batch') AND state IN `+webhookOpen+`)`).Scan(&any); err != nil || !any {
			return 0, err
		}
		if time.Now().After(deadline) {
			return db.OpenWebhooks(ctx)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
