package bootstrap

import (
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// TemplatesModule provides the template use cases, their routes and sync jobs, and the
// catalogue the send path reads templates from.
var TemplatesModule = fx.Module("templates",
	fx.Provide(
		func(db *postgres.DB, now domain.Clock) *templates.Catalogue {
			return templates.NewCatalogue(postgres.NewTemplateRepo(db), now)
		},
		func(db *postgres.DB, ins *riveradapter.Inserter, c *meta.Client, v *vault.Tokens, a authz.Authorizer,
			cat *templates.Catalogue, now domain.Clock) *templates.Service {
			repo := postgres.NewTemplateRepo(db)
			return templates.NewService(templates.Deps{
				Tx: postgres.NewTxRunner(db, func(tx pgx.Tx) templates.Repos {
					return templates.Repos{Templates: postgres.NewTemplateRepo(tx), Events: postgres.NewEventLog(tx), Jobs: ins.Bind(tx)}
				}),
				Store: repo, Numbers: repo, Graph: meta.NewGraph(c), Vault: v, Authz: a, Catalogue: cat, Clock: now,
			})
		},
		fx.Annotate(func(api *httpapi.API, svc *templates.Service) RouteRegistration {
			return (&httpapi.Templates{API: api, Templates: svc}).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(svc *templates.Service) WorkerRegistration {
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.TemplateSyncWorker{Templates: svc})
				river.AddWorker(w, &riveradapter.TemplateSyncAllWorker{Templates: svc})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.TemplateSyncPeriodic, fx.ResultTags(`group:"periodic"`)),
	),
)
