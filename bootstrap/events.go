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
		fx.Annotate(func(db *postgres.DB, reg *prometheus.Registry, subs []events.Subscriber) *events.Dispatcher {
			return events.NewDispatcher(postgres.NewTxRunner(db, func(tx pgx.Tx) events.Positions {
				return postgres.NewEventPositions(tx)
			}), timeSubscribers(reg, subs), time.Now)
		}, fx.ParamTags(``, ``, `group:"subscribers"`)),
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

// timeSubscribers counts each subscriber's batches handled, their events and the time spent
// in Handle (waba_event_subscriber_*{subscriber}): what a subscriber costs, apart from how
// long the log's other readers or the cluster's oldest transaction keep it waiting.
func timeSubscribers(reg *prometheus.Registry, subs []events.Subscriber) []events.Subscriber {
	secs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waba_event_subscriber_seconds_total",
		Help: "Time event-log subscribers spent handling batches, successful or not."}, []string{"subscriber"})
	evs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "waba_event_subscriber_events_total",
		Help: "Events handed to event-log subscribers (at least once: a failed batch is counted again when retried)."}, []string{"subscriber"})
	reg.MustRegister(secs, evs)
	out := make([]events.Subscriber, len(subs))
	for i, s := range subs {
		out[i] = timedSubscriber{Subscriber: s, secs: secs.WithLabelValues(s.Name()), evs: evs.WithLabelValues(s.Name())}
	}
	return out
}

type timedSubscriber struct {
	events.Subscriber
	secs, evs prometheus.Counter
}

func (t timedSubscriber) Handle(ctx context.Context, batch []events.Logged) error {
	t0 := time.Now()
	err := t.Subscriber.Handle(ctx, batch)
	t.secs.Add(time.Since(t0).Seconds())
	t.evs.Add(float64(len(batch)))
	return err
}
