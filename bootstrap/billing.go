package bootstrap

import (
	"github.com/jackc/pgx/v5"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/billing"
	"github.com/wabaplatform/waba/domain"
)

// BillingModule provides usage and billing: the wallet, the ledger's reports, estimates and
// the operator's routes. Charges reach the ledger in the transactions that apply Meta's
// status reports (InboundModule), through billingCharges.
var BillingModule = fx.Module("billing",
	fx.Provide(
		func(db *postgres.DB, cfg Config, a authz.Authorizer, now domain.Clock) *billing.Service {
			return billing.NewService(billing.Deps{
				Tx: postgres.NewTxRunner(db, func(tx pgx.Tx) billing.Repos {
					return billing.Repos{Ledger: postgres.NewBillingRepo(tx, cfg.BillingCurrency), Events: postgres.NewEventLog(tx)}
				}),
				Store: postgres.NewBillingRepo(db, cfg.BillingCurrency), Templates: postgres.NewTemplateRepo(db), Authz: a, Clock: now,
			})
		},
		fx.Annotate(func(api *httpapi.API, svc *billing.Service, cfg Config) RouteRegistration {
			return (&httpapi.Billing{API: api, Billing: svc, AdminToken: cfg.AdminToken}).Register
		}, fx.ResultTags(`group:"routes"`)),
	),
)

// billingCharges is the usage ledger bound to tx, for the processing of status reports.
func billingCharges(tx pgx.Tx, cfg Config, now domain.Clock) *billing.Charges {
	return billing.ChargesInTx(postgres.NewBillingRepo(tx, cfg.BillingCurrency), now)
}

// billingCosts prices campaigns in tx, for the transactions that start them.
func billingCosts(tx pgx.Tx, cfg Config) *billing.Costs {
	return billing.CostsInTx(postgres.NewBillingRepo(tx, cfg.BillingCurrency))
}
