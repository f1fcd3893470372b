package bootstrap

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/mediastore"
	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/domain"
)

// MediaModule provides the media store (MEDIA_BUCKET_URL), the media use cases, their
// routes and the download worker. The inbound processing hands its media messages to media
// in its own transaction (InboundModule); sends by our media id go through it
// (MessagingModule).
var MediaModule = fx.Module("media",
	fx.Provide(
		func(lc fx.Lifecycle, cfg Config) (*mediastore.Store, error) {
			s, err := mediastore.Open(context.Background(), cfg.MediaBucketURL)
			if err != nil {
				return nil, err
			}
			lc.Append(fx.StopHook(s.Close))
			return s, nil
		},
		func(pool *pgxpool.Pool, store *mediastore.Store, c *meta.Client, v *vault.Tokens, a authz.Authorizer, now domain.Clock,
			log *slog.Logger) *media.Service {
			return media.NewService(media.Deps{Repo: postgres.NewMediaRepo(pool), Store: store, Graph: meta.NewGraph(c),
				Numbers: postgres.NewPhoneNumberRepo(pool), Vault: v, Contacts: postgres.NewContactRepo(pool), Authz: a,
				Log: log.With("component", "media"), Now: now})
		},
		fx.Annotate(func(api *httpapi.API, svc *media.Service) RouteRegistration {
			return (&httpapi.Media{API: api, Media: svc}).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(svc *media.Service) WorkerRegistration {
			return func(w *river.Workers) { river.AddWorker(w, &riveradapter.MediaDownloadWorker{Media: svc}) }
		}, fx.ResultTags(`group:"workers"`)),
	),
)

// mediaArrivals binds the media of inbound messages to the processing transaction.
func mediaArrivals(tx pgx.Tx, jobs *riveradapter.TxJobs) *media.Arrivals {
	return media.InTx(media.TxRepos{Media: postgres.NewMediaRepo(tx), Jobs: jobs})
}
