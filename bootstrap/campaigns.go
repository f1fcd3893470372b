package bootstrap

import (
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/ulule/limiter/v3"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/ratelimit"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// CampaignsModule provides broadcast campaigns: the use cases and their routes, the send
// job and the leader's tick. What becomes of a campaign's messages reaches campaigns in
// the transactions that record it: the status webhooks' (InboundModule) and the send
// worker's (MessagingModule), through campaignResults.
var CampaignsModule = fx.Module("campaigns",
	fx.Provide(
		func(db *postgres.DB, ins *riveradapter.Inserter, a authz.Authorizer, cat *templates.Catalogue, store limiter.Store,
			now domain.Clock, an *postgres.Announcer, cs *contacts.Service, cfg Config) *campaigns.Service {
			return campaigns.NewService(campaigns.Deps{
				Tx: postgres.NewTxRunner(db, func(tx pgx.Tx) campaigns.Repos {
					repo := postgres.NewCampaignRepo(tx)
					return campaigns.Repos{Campaigns: repo, Contacts: postgres.NewContactRepo(tx), Batches: repo, Progress: repo,
						Outbox: postgres.NewMessageRepo(tx), Jobs: ins.Bind(tx), Events: postgres.NewEventLog(tx), Reach: repo,
						Wallet: postgres.NewBillingRepo(tx, cfg.BillingCurrency), Costs: billingCosts(tx, cfg)}
				}).Announcing(an), // a batch's messages are the inbox's live events
				Store: postgres.NewCampaignRepo(db), Numbers: postgres.NewPhoneNumberRepo(db), Templates: cat,
				// The quota counter the send API takes from (the same store and key).
				Workspaces: postgres.NewWorkspaceRepo(db), Quota: ratelimit.NewQuota(store), Authz: a, Clock: now,
				Imports: cs, // recipient uploads share the contact imports' slots
			})
		},
		fx.Annotate(func(api *httpapi.API, svc *campaigns.Service) RouteRegistration {
			return (&httpapi.Campaigns{API: api, Campaigns: svc}).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(svc *campaigns.Service, log *slog.Logger) WorkerRegistration {
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.CampaignSendWorker{Campaigns: svc, Log: log.With("component", "campaigns")})
				river.AddWorker(w, &riveradapter.CampaignTickWorker{Campaigns: svc})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.CampaignTickPeriodic, fx.ResultTags(`group:"periodic"`)),
		// The stop rules read template changes from the event log.
		fx.Annotate(func(svc *campaigns.Service) events.Subscriber { return svc.StopRules() }, fx.ResultTags(`group:"subscribers"`)),
	),
)

// campaignResults is the campaigns' results bound to tx, for the capabilities that record
// what became of a campaign's message.
func campaignResults(tx pgx.Tx, now domain.Clock) *campaigns.Results {
	return campaigns.ResultsInTx(postgres.NewCampaignRepo(tx), now)
}
