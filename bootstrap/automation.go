package bootstrap

import (
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/automation"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// AutomationModule provides working hours, the away and welcome messages and keyword
// rules: their routes, and their evaluation, an event-log subscriber of the inbound
// messages that sends through the send use case and acts through the inbox's and the
// contacts' use cases.
var AutomationModule = fx.Module("automation",
	fx.Provide(
		func(pool *pgxpool.Pool, a authz.Authorizer, now domain.Clock, an *postgres.Announcer, send *messaging.Service,
			inbox *conversations.Service, cs *contacts.Service, log *slog.Logger) *automation.Service {
			return automation.NewService(automation.Deps{
				Tx: postgres.NewTxRunner(pool, func(tx pgx.Tx) automation.Repos {
					repo := postgres.NewAutomationRepo(tx)
					return automation.Repos{Settings: repo, Rules: repo, Events: postgres.NewEventLog(tx)}
				}).Announcing(an),
				Store: postgres.NewAutomationRepo(pool), Sender: send, Assigner: inbox, Contacts: cs, Authz: a, Clock: now,
				Log: log.With("component", "automation"),
			})
		},
		fx.Annotate(func(api *httpapi.API, svc *automation.Service) RouteRegistration {
			return (&httpapi.Automation{API: api, Automation: svc}).Register
		}, fx.ResultTags(`group:"routes"`)),
		// The evaluation reads the inbound messages from the event log.
		fx.Annotate(func(svc *automation.Service) events.Subscriber { return svc.Evaluator() }, fx.ResultTags(`group:"subscribers"`)),
	),
)
