package bootstrap

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// InboundModule provides the Meta webhook endpoint and the inbound processing.
var InboundModule = fx.Module("inbound",
	fx.Provide(
		newIngester,
		func(reg *prometheus.Registry) *riveradapter.InboundMetrics {
			return riveradapter.NewInboundMetrics(reg)
		},
		func(db *postgres.DB, ins *riveradapter.Inserter, m *riveradapter.InboundMetrics, tpl *templates.Service,
			cat *templates.Catalogue, an *postgres.Announcer, now domain.Clock, cfg Config) *inbound.Service {
			tx := postgres.NewTxRunner(db, func(tx pgx.Tx) inbound.Repos {
				repo := postgres.NewInboundRepo(tx)
				jobs, events := ins.Bind(tx), postgres.NewEventLog(tx)
				// Template events go to the templates capability, in this transaction.
				reports := tpl.InTx(templates.Repos{Templates: postgres.NewTemplateRepo(tx), Events: events, Jobs: jobs})
				// Inbound messages open and count their conversations, in this transaction.
				convs := conversations.InTx(conversationRepos(tx, jobs))
				// A campaign message's status moves its recipient, Meta's pricing goes to the
				// usage ledger, and a media message queues its file's download, in this transaction.
				return inbound.Repos{Directory: repo, Contacts: repo, Messages: repo, Accounts: repo, Templates: reports,
					Outbox: postgres.NewMessageRepo(tx), Jobs: jobs, Events: events, Conversations: convs,
					Campaigns: campaignResults(tx, now), Billing: billingCharges(tx, cfg, now), Media: mediaArrivals(tx, jobs)}
			}).WithAsyncCommit().Announcing(an) // the webhook job redoes its work idempotently if a crash loses it
			return inbound.NewService(tx, m).WithTemplateCache(cat)
		},
		fx.Annotate(func(cfg Config, g *riveradapter.Ingester, reg *prometheus.Registry) RouteRegistration {
			return (&httpapi.Webhooks{AppSecret: []byte(cfg.MetaAppSecret), VerifyToken: cfg.MetaVerifyToken,
				Queue: g, Metrics: httpapi.NewWebhookMetrics(reg)}).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(lc fx.Lifecycle, s Settings, svc *inbound.Service, m *riveradapter.InboundMetrics,
			pool *pgxpool.Pool, now domain.Clock) WorkerRegistration {
			transactions := 0 // the worker's default
			if s.Role == RoleAll {
				// Processing shares the CPUs with the webhook endpoint: leave them to ingest.
				transactions = riveradapter.WebhookTransactionsShared
			}
			ww := riveradapter.NewWebhookWorker(svc, m, transactions)
			lc.Append(fx.StopHook(ww.Close)) // appended before the River client's hooks: stops after it
			return func(w *river.Workers) {
				river.AddWorker(w, ww)
				river.AddWorker(w, ww.Batches())
				river.AddWorker(w, &riveradapter.WebhookReceiptPurgeWorker{Pool: pool, Now: now})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.WebhookReceiptPurgePeriodic, fx.ResultTags(`group:"periodic"`)),
	),
	fx.Invoke(func(reg *prometheus.Registry, pool *pgxpool.Pool) {
		reg.MustRegister(riveradapter.NewQueueDepthCollector(pool))
	}),
)

// newIngester runs the group-commit ingester of the webhook endpoint; it stops after the
// HTTP server (constructed later, stopped earlier), committing what was accepted.
func newIngester(lc fx.Lifecycle, pool *pgxpool.Pool, reg *prometheus.Registry) *riveradapter.Ingester {
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "webhook_ingest_batch_size", Help: "Webhook deliveries committed per ingest transaction (group commit).",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200}})
	commit := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "webhook_ingest_commit_seconds", Help: "Duration of one ingest transaction.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}})
	reg.MustRegister(batch, commit)
	g := riveradapter.NewIngester(pool, riveradapter.IngestConfig{
		OnBatch: func(size int, elapsed time.Duration, _ error) {
			batch.Observe(float64(size))
			commit.Observe(elapsed.Seconds())
		},
	})
	lc.Append(fx.StopHook(g.Close))
	return g
}
