// Command waba is the whole product in one binary: `waba serve`, `waba migrate`,
// `waba version` (and the tools later issues add).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/bootstrap"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: waba <command> [flags]

commands:
  serve     run the HTTP API and the workers (--role=all|api|worker, --no-migrate)
  migrate   apply the app and River schemas (idempotent)
  keys rotate  re-wrap every sealed token under TOKEN_MASTER_KEY / VAULT_KEY_URL
            (the old key in TOKEN_MASTER_KEY_PREVIOUS / VAULT_KEY_URL_PREVIOUS)
  sandbox   run the Meta Graph API simulator (SANDBOX_ADDR, default 127.0.0.1:8090)
  version   print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "serve":
		os.Exit(serve(args))
	case "migrate":
		os.Exit(migrate(args))
	case "keys":
		os.Exit(keys(args))
	case "sandbox":
		os.Exit(runSandbox(args))
	case "version", "--version", "-v":
		fmt.Println(versionString())
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "waba: unknown command %q\n%s", cmd, usage)
		os.Exit(2)
	}
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	role := fs.String("role", "all", "what this process runs: all, api or worker")
	noMigrate := fs.Bool("no-migrate", false, "do not apply migrations before starting")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r, err := bootstrap.ParseRole(*role)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waba:", err)
		return 2
	}
	cfg, err := bootstrap.LoadConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "waba: configuration:", err)
		return 2
	}
	log := bootstrap.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	return bootstrap.Serve(cfg, bootstrap.Settings{Role: r, Migrate: !*noMigrate, Version: strings.TrimPrefix(versionString(), "waba ")}, log)
}

func migrate(args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	url := strings.TrimSpace(os.Getenv("DATABASE_URL"))
	if url == "" {
		fmt.Fprintln(os.Stderr, "waba: configuration: DATABASE_URL: is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	msg, err := bootstrap.Migrate(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waba: migrate:", err)
		return 1
	}
	fmt.Println(msg)
	return 0
}

func keys(args []string) int {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(os.Stderr, "usage: waba keys rotate [--batch=N]")
		return 2
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	batch := fs.Int("batch", 100, "rows per transaction")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := bootstrap.LoadConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "waba: configuration:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	msg, err := bootstrap.RotateKeys(ctx, cfg, max(1, *batch))
	if err != nil {
		fmt.Fprintln(os.Stderr, "waba: keys rotate:", err, "(run it again to resume)")
		return 1
	}
	fmt.Println(msg)
	return 0
}

// runSandbox serves the Meta sandbox until SIGINT/SIGTERM. It signs webhooks with
// META_APP_SECRET and delivers them to SANDBOX_CALLBACK_URL when set.
func runSandbox(args []string) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", envOr("SANDBOX_ADDR", "127.0.0.1:8090"), "listen address")
	latency := fs.Duration("latency", 0, "latency added to every Graph call")
	failure := fs.Float64("failure-rate", 0, "fraction of sends that fail with 131000")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	secret := os.Getenv("META_APP_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "waba: configuration: META_APP_SECRET: is required")
		return 2
	}
	format, err := bootstrap.ParseLogFormat(os.Getenv("LOG_FORMAT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "waba: configuration: LOG_FORMAT:", err)
		return 2
	}
	log := bootstrap.NewLogger(os.Stderr, slog.LevelInfo, format).With("component", "sandbox")
	callback := os.Getenv("SANDBOX_CALLBACK_URL")
	sb := sandbox.New(sandbox.Config{AppID: envOr("META_APP_ID", "sandbox-app"), AppSecret: secret,
		CallbackURL: callback, VerifyToken: os.Getenv("META_VERIFY_TOKEN"),
		Latency: *latency, FailureRate: *failure, Logger: log})
	defer sb.Close()
	srv := &http.Server{Addr: *addr, Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if callback == "" {
		callback = "(none: webhooks are not delivered; set SANDBOX_CALLBACK_URL)"
	}
	log.Info("meta sandbox listening", "addr", *addr, "graph_url", "http://"+*addr, "callback_url", callback,
		"version", strings.TrimPrefix(versionString(), "waba "))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "waba: sandbox:", err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func versionString() string {
	s := "waba " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		s += " (" + bi.GoVersion
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += ", " + kv.Value[:12]
			}
		}
		s += ")"
	}
	return s
}
