package bootstrap

import (
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/ulule/limiter/v3"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/ratelimit"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// MessagingModule provides the send API, plan rate limits, the send worker and the
// read-receipt worker.
var MessagingModule = fx.Module("messaging",
	fx.Provide(
		func(db *postgres.DB, ins *riveradapter.Inserter, store limiter.Store, a authz.Authorizer, cat *templates.Catalogue, now domain.Clock,
			an *postgres.Announcer, cfg Config, files *media.Service) *messaging.Service {
			tx := postgres.NewTxRunner(db, func(tx pgx.Tx) messaging.Repos {
				return messaging.Repos{Contacts: postgres.NewContactRepo(tx), Messages: postgres.NewMessageRepo(tx),
					Events: postgres.NewEventLog(tx), Jobs: ins.Bind(tx), Idempotency: postgres.NewIdempotencyRepo(tx),
					Marketing: postgres.NewMessageRepo(tx), Wallet: postgres.NewBillingRepo(tx, cfg.BillingCurrency),
					Automatic: postgres.NewAutomationRepo(tx)}
			}).Announcing(an)
			return messaging.NewService(messaging.Deps{
				Tx: tx, Contacts: postgres.NewContactRepo(db), Workspaces: postgres.NewWorkspaceRepo(db),
				Numbers: postgres.NewPhoneNumberRepo(db), Messages: postgres.NewMessageRepo(db),
				Templates: cat,
				Quota:     ratelimit.NewQuota(store), Idempotency: postgres.NewIdempotencyRepo(db), Authz: a, Now: now,
				Media: files,
			})
		},
		func(db *postgres.DB, c *meta.Client, v *vault.Tokens, store limiter.Store, log *slog.Logger, now domain.Clock, cfg Config,
			files *media.Service) *messaging.Dispatcher {
			// A campaign message's outcome moves its recipient, and a failed template releases
			// its held price, in the transaction that records it.
			results := postgres.NewTxRunner(db, func(tx pgx.Tx) messaging.ResultRepos {
				return messaging.ResultRepos{Outbox: postgres.NewMessageRepo(tx), Campaigns: campaignResults(tx, now),
					Billing: billingCharges(tx, cfg, now)}
			})
			return messaging.NewDispatcher(postgres.NewMessageRepo(db), meta.NewGraph(c), v, ratelimit.NewPacer(store),
				log.With("component", "send")).WithClock(now).WithResults(results).WithMedia(files)
		},
		func(db *postgres.DB, c *meta.Client, v *vault.Tokens, log *slog.Logger) *messaging.Receipts {
			return messaging.NewReceipts(postgres.NewMessageRepo(db), postgres.NewPhoneNumberRepo(db), meta.NewGraph(c), v,
				log.With("component", "read_receipt"))
		},
		fx.Annotate(func(api *httpapi.API, svc *messaging.Service, reg *prometheus.Registry) RouteRegistration {
			return httpapi.NewMessages(api, svc, reg).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(svc *messaging.Service, d *messaging.Dispatcher, rr *messaging.Receipts, reg *prometheus.Registry) WorkerRegistration {
			m := riveradapter.NewSendMetrics(reg)
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.SendWorker{Dispatcher: d, Metrics: m})
				river.AddWorker(w, &riveradapter.ReadReceiptWorker{Receipts: rr})
				river.AddWorker(w, &riveradapter.IdempotencyPurgeWorker{Messaging: svc})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.IdempotencyPurgePeriodic, fx.ResultTags(`group:"periodic"`)),
	),
)
