// Package bootstrap wires the application with fx: the only package that knows every
// concrete type. main and the end-to-end tests build the same graph through Options.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/domain"
)

// Role selects what a `waba serve` process runs.
type Role string

const (
	RoleAll    Role = "all"
	RoleAPI    Role = "api"
	RoleWorker Role = "worker"
)

// ParseRole validates a --role value.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAll, RoleAPI, RoleWorker:
		return r, nil
	}
	return "", fmt.Errorf("--role must be all, api or worker, not %q", s)
}

// RunsWorkers reports whether the process works River jobs.
func (r Role) RunsWorkers() bool { return r == RoleAll || r == RoleWorker }

// ServesAPI reports whether the process serves the REST API and the webhook endpoint.
// A worker-only process still serves /healthz, /readyz and /metrics.
func (r Role) ServesAPI() bool { return r == RoleAll || r == RoleAPI }

// Settings are the choices of one process beyond its configuration.
type Settings struct {
	Role    Role
	Migrate bool
	// PasswordHashing "fast" makes argon2 cheap for tests; empty is production cost.
	PasswordHashing PasswordHashing
	// Version is the build's version, for the start-up line.
	Version string
	// Clock is the time the rules read; nil is time.Now. Tests pass one they move.
	Clock domain.Clock
	// Heartbeat is how often an idle event stream gets a comment line (0: API.md's 15
	// seconds); StreamWriteTimeout how long one turn of a stream's writes may block (0: 10
	// seconds). Tests shorten them.
	Heartbeat, StreamWriteTimeout time.Duration
}

// Options returns the whole graph for cfg. Tests append fx.Populate, fx.Replace, etc.
func Options(cfg Config, s Settings, log *slog.Logger) []fx.Option {
	clock := s.Clock
	if clock == nil {
		clock = time.Now
	}
	opts := []fx.Option{
		fx.Supply(cfg, s, log, s.PasswordHashing, clock),
		fx.WithLogger(func() fxevent.Logger { return fxLogger(log) }),
		fx.StopTimeout(cfg.ShutdownTimeout + 5*time.Second),
		PostgresModule,
		MetricsModule,
		RiverModule,
		HTTPModule,
		AccessModule,
		IdentityModule,
		WhatsAppModule,
		InboundModule,
		MessagingModule,
		TemplatesModule,
		ConversationsModule,
		CampaignsModule,
		AutomationModule,
		BillingModule,
		HooksModule,
		LiveModule,
		EventsModule,
		AdminModule,
		MailModule,
		ErasureModule,
		MediaModule,
		ConsoleModule,
	}
	// Force construction of the roots; their lifecycle hooks run in this order (River
	// before HTTP, so HTTP stops first and in-flight requests finish before workers stop).
	opts = append(opts, fx.Invoke(func(*river.Client[pgx.Tx], *echo.Echo) {}))
	return opts
}

// fxLogger logs fx's own events (every constructor provided, hook run ...) at debug: a
// person starting the server reads what it does, not how it is wired. Failures stay at
// error level.
func fxLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
	l.UseLogLevel(slog.LevelDebug)
	l.UseErrorLevel(slog.LevelError)
	return l
}

// PostgresModule provides the connections: the DB that repositories and transactions
// run on, and River's pool (*pgxpool.Pool, its background pool).
var PostgresModule = fx.Module("postgres",
	fx.Provide(newDB, func(db *postgres.DB) *pgxpool.Pool { return db.Background() }, newAnnouncer),
)

// newAnnouncer runs the notifications that wake every instance's live streams after a
// transaction that appended events commits (in every role: workers process inbound
// messages too).
func newAnnouncer(lc fx.Lifecycle, pool *pgxpool.Pool, log *slog.Logger) *postgres.Announcer {
	a := postgres.NewAnnouncer(pool, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() { defer close(done); a.Run(ctx) }()
			return nil
		},
		OnStop: func(context.Context) error { cancel(); <-done; return nil },
	})
	return a
}

// newDB opens the pools and, when the process migrates at start, registers the migration
// right after it: everything that uses the database is constructed from them, so its
// start hooks (River's first) are registered later and run after the schema is in place.
//
// A process of the all role splits its DB_MAX_CONNS connections in two pools
// (postgres.SplitConns): one for the HTTP requests (their contexts are marked by the
// server) and one for River, its workers and the background loops, so a request never
// waits for a connection behind the jobs. An api or worker process has one pool of them all.
func newDB(lc fx.Lifecycle, cfg Config, s Settings, log *slog.Logger) (*postgres.DB, error) {
	ctx := context.Background()
	var db *postgres.DB
	if s.Role.ServesAPI() && s.Role.RunsWorkers() {
		reqConns, bgConns := postgres.SplitConns(cfg.DBMaxConns, runtime.GOMAXPROCS(0))
		requests, err := postgres.NewPool(ctx, cfg.DatabaseURL, reqConns, "waba-requests")
		if err != nil {
			return nil, err
		}
		background, err := postgres.NewPool(ctx, cfg.DatabaseURL, bgConns, "waba-background")
		if err != nil {
			requests.Close()
			return nil, err
		}
		db = postgres.NewDB(requests, background)
	} else {
		pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, cfg.DBMaxConns, "waba-"+string(s.Role))
		if err != nil {
			return nil, err
		}
		db = postgres.NewDB(pool, pool)
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			// Not fatal: /readyz reports 503 until the database answers.
			if err := db.Background().Ping(ctx); err != nil {
				log.Warn("database not reachable at start", "err", err)
			}
			return nil
		},
		OnStop: func(context.Context) error { db.Close(); return nil },
	})
	if s.Migrate {
		migrateOnStart(lc, db.Background(), log)
	}
	return db, nil
}

func migrateOnStart(lc fx.Lifecycle, pool *pgxpool.Pool, log *slog.Logger) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		res, err := postgres.Migrate(ctx, pool, riveradapter.MigrateSchema)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		log.Info("schema migrated", "app_from", res.AppFrom, "app_to", res.AppTo, "river_applied", res.OtherApplied)
		return nil
	}))
}

// MetricsModule provides the Prometheus registry with the Go, process and pool collectors
// (the pool label: "requests" and "background" when the process has both, else its one
// pool's name: "requests" in the api role, "background" in the worker role).
var MetricsModule = fx.Module("metrics",
	fx.Provide(func(db *postgres.DB, s Settings) *prometheus.Registry {
		pools := []postgres.NamedPool{{Name: "background", Pool: db.Background()}}
		switch {
		case len(db.Pools()) == 2:
			pools = append([]postgres.NamedPool{{Name: "requests", Pool: db.Requests()}}, pools...)
		case !s.Role.RunsWorkers():
			pools[0].Name = "requests"
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			postgres.NewPoolCollector(pools...),
		)
		return reg
	}),
)

// RiverModule provides the River client: working queues in the all and worker roles,
// insert-only in the api role.
var RiverModule = fx.Module("river",
	fx.Provide(
		fx.Annotate(newWorkers, fx.ParamTags(`group:"workers"`)),
		fx.Annotate(newPeriodicJobs, fx.ParamTags(`group:"periodic"`)),
		newRiverClient,
	),
)

// WorkerRegistration adds one worker to the bundle; feature modules provide them in the
// "workers" group.
type WorkerRegistration func(*river.Workers)

func newWorkers(regs []WorkerRegistration) *river.Workers {
	w := river.NewWorkers()
	for _, r := range regs {
		r(w)
	}
	return w
}

func newPeriodicJobs(jobs []*river.PeriodicJob) []*river.PeriodicJob { return jobs }

func newRiverClient(lc fx.Lifecycle, pool *pgxpool.Pool, cfg Config, s Settings, workers *river.Workers, periodic []*river.PeriodicJob, log *slog.Logger) (*river.Client[pgx.Tx], error) {
	ccfg := riveradapter.ClientConfig{
		Work:            s.Role.RunsWorkers(),
		WebhookWorkers:  cfg.WebhookWorkers,
		SoftStopTimeout: cfg.ShutdownTimeout,
	}
	var live *riveradapter.Liveness
	if s.Role.RunsWorkers() {
		// A working process is visibly alive while it holds its liveness lock; its client
		// id names the lock, and every working process rescues the jobs of dead ones.
		live = riveradapter.NewLiveness(pool, log.With("component", "river"))
		ccfg.ID = live.ID()
	}
	client, err := riveradapter.NewClient(pool, ccfg, workers, periodic, log)
	if err != nil {
		return nil, err
	}
	if s.Role.RunsWorkers() {
		rescuer := riveradapter.NewDeadClientRescuer(pool, riveradapter.RescuerConfig{Self: live.ID()},
			log.With("component", "river"))
		lc.Append(fx.Hook{
			// The lock before the first job (or another process would rescue it), River, then
			// the rescuer. fx cancels the start context when start-up ends; River treats it
			// as its lifetime.
			OnStart: func(ctx context.Context) error {
				if err := live.Start(ctx); err != nil {
					return err
				}
				if err := client.Start(context.WithoutCancel(ctx)); err != nil {
					live.Stop()
					return err
				}
				rescuer.Start()
				return nil
			},
			// Stop fetching and wait for running jobs (past SoftStopTimeout River cancels
			// them); only then release the lock, which would let others rescue them.
			OnStop: func(ctx context.Context) error {
				rescuer.Stop()
				err := client.Stop(ctx)
				live.Stop()
				return err
			},
		})
	}
	return client, nil
}

// HTTPModule provides the Echo server and runs it.
var HTTPModule = fx.Module("http",
	fx.Provide(
		fx.Annotate(newEcho, fx.ParamTags(``, ``, ``, ``, ``, ``, ``, `group:"routes"`)),
	),
)

// RouteRegistration registers one feature's routes; feature modules provide them in the
// "routes" group.
type RouteRegistration func(*echo.Echo)

func newEcho(lc fx.Lifecycle, sd fx.Shutdowner, cfg Config, s Settings, log *slog.Logger, db *postgres.DB, reg *prometheus.Registry, routes []RouteRegistration) *echo.Echo {
	e := httpapi.NewEcho(httpapi.ServerConfig{CORSAllowedOrigins: cfg.CORSAllowedOrigins}, log, reg,
		func(ctx context.Context) error {
			// On the request pool: a busy background pool does not make the instance unready.
			if err := postgres.Ready(ctx, db.Requests()); err != nil {
				return err
			}
			return riveradapter.Ready(ctx, db.Requests())
		})
	// Every request's database work runs on the request pool (postgres.DB), from the first
	// middleware on (sessions, API keys).
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			c.SetRequest(r.WithContext(postgres.ForRequest(r.Context())))
			return next(c)
		}
	})
	if s.Role.ServesAPI() {
		for _, r := range routes {
			r(e)
		}
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := net.Listen("tcp", cfg.HTTPAddr) // fail start-up now if the port is taken
			if err != nil {
				return err
			}
			e.Listener = ln
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", "err", err)
					_ = sd.Shutdown(fx.ExitCode(1))
				}
			}()
			log.Info("http server listening", "addr", ln.Addr().String(), "role", string(s.Role))
			return nil
		},
		// Stop accepting, then wait for in-flight requests up to the stop deadline.
		OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
	})
	return e
}
