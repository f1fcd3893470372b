package bootstrap

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/live"
)

// LiveModule provides the live event streams of the team inbox. In a process that serves
// the API, one connection listens for the log's notifications and the hub reads the log
// when woken; the streams end before the HTTP server waits for its requests to finish.
var LiveModule = fx.Module("live",
	fx.Provide(
		func(db *postgres.DB) live.Feed { return postgres.NewLiveFeed(db) },
		live.NewHub,
		live.NewService,
		fx.Annotate(func(api *httpapi.API, svc *live.Service, s Settings) RouteRegistration {
			heartbeat, write := s.Heartbeat, s.StreamWriteTimeout
			if heartbeat <= 0 {
				heartbeat = 15 * time.Second
			}
			if write <= 0 {
				write = 10 * time.Second
			}
			return (&httpapi.Live{API: api, Streams: svc, Heartbeat: heartbeat, Recheck: time.Minute, WriteTimeout: write}).Register
		}, fx.ResultTags(`group:"routes"`)),
	),
	fx.Invoke(func(lc fx.Lifecycle, s Settings, pool *pgxpool.Pool, hub *live.Hub, log *slog.Logger, reg *prometheus.Registry,
		_ *echo.Echo) {
		if !s.Role.ServesAPI() {
			return
		}
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "waba_live_streams",
			Help: "Live event streams open on this instance."}, func() float64 { return float64(hub.Subscribers()) }))
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		// Appended after the HTTP server's hook (this invoke needs the server), so it runs
		// before it on stop: streams end, then the server finds its requests done.
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				wg.Add(2)
				go func() { defer wg.Done(); hub.Run(ctx) }()
				go func() { defer wg.Done(); postgres.Listen(ctx, pool, log, hub.Wake) }()
				return nil
			},
			OnStop: func(context.Context) error {
				hub.Close()
				cancel()
				wg.Wait()
				return nil
			},
		})
	}),
)
