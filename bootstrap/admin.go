package bootstrap

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"go.uber.org/fx"
	"riverqueue.com/riverui"

	"github.com/wabaplatform/waba/adapters/httpapi"
)

// AdminModule mounts the River UI under /admin/river when ADMIN_TOKEN is set.
var AdminModule = fx.Module("admin",
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, e *echo.Echo, client *river.Client[pgx.Tx], log *slog.Logger) error {
		if cfg.AdminToken == "" {
			return nil
		}
		h, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(client, nil),
			Logger:    log.With("component", "riverui"),
			Prefix:    "/admin/river",
			// Job args carry customer payloads: shown only on request.
			JobListHideArgsByDefault: true,
		})
		if err != nil {
			return err
		}
		lc.Append(fx.StartHook(func(ctx context.Context) error { return h.Start(context.WithoutCancel(ctx)) }))
		httpapi.MountAdmin(e, cfg.AdminToken, h)
		return nil
	}),
)
