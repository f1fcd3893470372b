package bootstrap

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/eventstats"
	"github.com/wabaplatform/waba/domain"
)

// EventsModule hands the event log to its subscribers, each through River at its own
// position. A new subscriber is one provider in the "subscribers" group.
var EventsModule = fx.Module("events",
	fx.Provide(
		fx.Annotate(newEventStats, fx.ResultTags(`group:"subscribers"`)),
		fx.Annotate(func(db *postgres.DB, subs []events.Subscriber) *events.Dispatcher {
			return events.NewDispatcher(postgres.NewTxRunner(db, func(tx pgx.Tx) events.Positions {
				return postgres.NewEventPositions(tx)
			}), subs, time.Now)
		}, fx.ParamTags(``, `group:"subscribers"`)),
		fx.Annotate(func(d *events.Dispatcher) WorkerRegistration {
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.EventsWorker{Dispatcher: d})
				river.AddWorker(w, &riveradapter.EventsPurgeWorker{Dispatcher: d})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.EventsPurgePeriodic, fx.ResultTags(`group:"periodic"`)),
		fx.Annotate(func(d *events.Dispatcher) []*river.PeriodicJob {
			return riveradapter.EventsPeriodic(d.Names())
		}, fx.ResultTags(`group:"periodic,flatten"`)),
	),
	// A working process nudges the subscribers when a commit announces new events.
	fx.Invoke(func(lc fx.Lifecycle, s Settings, pool *pgxpool.Pool, client *river.Client[pgx.Tx], d *events.Dispatcher, log *slog.Logger) {
		if !s.Role.RunsWorkers() {
			return
		}
		nudger := riveradapter.NewEventsNudger(client, d.Names(), log)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				wg.Add(2)
				go func() { defer wg.Done(); nudger.Run(ctx) }()
				go func() { defer wg.Done(); postgres.Listen(ctx, pool, log, nudger.Wake) }()
				return nil
			},
			OnStop: func(context.Context) error {
				cancel()
				wg.Wait()
				return nil
			},
		})
	}),
)

func newEventStats(reg *prometheus.Registry) events.Subscriber {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waba_events_total",
		Help: "Events of the event log by kind, as its stats subscriber reads them (at least once)."}, []string{"kind"})
	reg.MustRegister(vec)
	return eventstats.New(eventCounter{vec})
}

type eventCounter struct{ vec *prometheus.CounterVec }

func (c eventCounter) Add(kind domain.EventKind, n int) {
	c.vec.WithLabelValues(string(kind)).Add(float64(n))
}
