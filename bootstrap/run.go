package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
)

// Serve runs the service until SIGINT or SIGTERM, then stops it gracefully: the HTTP
// server stops accepting and drains in-flight requests, River finishes running jobs, all
// within cfg.ShutdownTimeout. It returns the exit code.
func Serve(cfg Config, s Settings, log *slog.Logger) int {
	log.Info("starting waba", StartupAttrs(cfg, s)...)
	app := fx.New(Options(cfg, s, log)...)
	if err := app.Err(); err != nil {
		log.Error("cannot build the application", "err", err)
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	sig := <-app.Wait()
	log.Info("shutting down", "signal", sig.Signal.String())
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownTimeout+5*time.Second)
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		log.Error("stop failed", "err", err)
		return 1
	}
	log.Info("stopped")
	return sig.ExitCode
}

// StartupAttrs are what a person starting the server needs to know, secrets left out:
// the version, the role, the database (its password redacted), where Meta's Graph API is
// (the sandbox's address under `make run`) and the public address.
func StartupAttrs(cfg Config, s Settings) []any {
	version := s.Version
	if version == "" {
		version = "dev"
	}
	attrs := []any{"version", version, "role", string(s.Role), "database", RedactURL(cfg.DatabaseURL),
		"meta_graph_url", cfg.MetaGraphURL}
	if cfg.PublicURL != "" {
		attrs = append(attrs, "public_url", cfg.PublicURL)
	}
	return attrs
}

// Migrate applies the app and River schemas to the database at url and reports what it did.
func Migrate(ctx context.Context, url string) (string, error) {
	pool, err := postgres.NewPool(ctx, url, 4, "waba-migrate")
	if err != nil {
		return "", err
	}
	defer pool.Close()
	res, err := postgres.Migrate(ctx, pool, riveradapter.MigrateSchema)
	if err != nil {
		return "", err
	}
	if res.NoChange() {
		return fmt.Sprintf("schema up to date (app version %d); nothing to do", res.AppTo), nil
	}
	return fmt.Sprintf("migrated app schema %d -> %d, applied %d river migrations", res.AppFrom, res.AppTo, res.OtherApplied), nil
}
