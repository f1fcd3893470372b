// Package postgres holds the pgx repositories, the transaction runner and the schema
// migrations runner. Nothing above this package sees pgx or pgconn.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewPool opens a pool without waiting for the server: start-up checks reachability
// separately so a server that comes up later is picked up by itself.
func NewPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	// pgxpool defaults to max(4, NumCPU) connections: River alone needs several.
	cfg.MaxConns = maxConns
	cfg.MinIdleConns = 2
	cfg.MaxConnLifetime = time.Hour
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	return pgxpool.NewWithConfig(ctx, cfg)
}
