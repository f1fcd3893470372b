package bootstrap

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/hookhttp"
	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

// HooksModule provides the customer webhooks: the endpoint routes, the fan-out that reads
// the event log, the per-endpoint delivery jobs on their own queue and the leader's
// wake-up of due retries.
var HooksModule = fx.Module("hooks",
	fx.Provide(
		func(cfg Config) *hookhttp.Client {
			return hookhttp.New(hookhttp.Config{Policy: domain.HookAddressPolicy{AllowHTTP: cfg.WebhooksAllowHTTP,
				Allowed: cfg.WebhooksAllowedCIDRs}, Resolver: cfg.WebhooksResolver, Timeout: cfg.WebhooksTimeout})
		},
		func(pool *pgxpool.Pool, ins *riveradapter.Inserter) hooks.TxRunner {
			return postgres.NewTxRunner(pool, func(tx pgx.Tx) hooks.Repos {
				return hooks.Repos{Hooks: postgres.NewHookRepo(tx), Events: postgres.NewEventLog(tx), Jobs: ins.Bind(tx)}
			})
		},
		func(pool *pgxpool.Pool, tx hooks.TxRunner, c *hookhttp.Client, v *vault.Tokens, a authz.Authorizer, now domain.Clock) *hooks.Service {
			return hooks.NewService(hooks.Deps{Tx: tx, Store: postgres.NewHookRepo(pool), Vault: v, Checker: c, Authz: a, Clock: now})
		},
		func(pool *pgxpool.Pool, tx hooks.TxRunner, c *hookhttp.Client, v *vault.Tokens, reg *prometheus.Registry, now domain.Clock) *hooks.Deliverer {
			return hooks.NewDeliverer(hooks.DeliverDeps{Tx: tx, Store: postgres.NewHookRepo(pool), Vault: v, Sender: c,
				Metrics: newHookMetrics(reg), Clock: now})
		},
		fx.Annotate(func(api *httpapi.API, svc *hooks.Service) RouteRegistration {
			return (&httpapi.Hooks{API: api, Hooks: svc}).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(d *hooks.Deliverer) WorkerRegistration {
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.HookDeliverWorker{Deliverer: d})
				river.AddWorker(w, &riveradapter.HookWakeWorker{Deliverer: d})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.HookWakePeriodic, fx.ResultTags(`group:"periodic"`)),
		fx.Annotate(func(svc *hooks.Service) events.Subscriber { return svc.Fanout() }, fx.ResultTags(`group:"subscribers"`)),
	),
)

// hookMetrics counts delivery attempts by outcome and times them.
type hookMetrics struct {
	outcomes *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newHookMetrics(reg *prometheus.Registry) *hookMetrics {
	m := &hookMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waba_hook_deliveries_total",
			Help: "Customer webhook delivery attempts by outcome (succeeded, failed: to be retried, dead: none left)."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "waba_hook_delivery_seconds",
			Help:    "Time of a customer webhook delivery attempt, answer included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}}),
	}
	reg.MustRegister(m.outcomes, m.latency)
	return m
}

func (m *hookMetrics) Attempt(outcome domain.HookDeliveryStatus, d time.Duration) {
	m.outcomes.WithLabelValues(string(outcome)).Inc()
	m.latency.Observe(d.Seconds())
}
