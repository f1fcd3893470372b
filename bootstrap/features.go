package bootstrap

import (
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/ulule/limiter/v3"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/casbinrbac"
	"github.com/wabaplatform/waba/adapters/credentials"
	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/ratelimit"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

// AccessModule provides authentication and authorization adapters.
var AccessModule = fx.Module("access",
	fx.Provide(
		fx.Annotate(casbinrbac.NewAuthorizer, fx.As(new(authz.Authorizer))),
		fx.Annotate(newPasswordHasher, fx.As(new(identity.PasswordHasher))),
		fx.Annotate(func(cfg Config, now domain.Clock) *credentials.JWT {
			return credentials.NewJWT(cfg.JWTSecret, cfg.AccessTokenTTL, now)
		},
			fx.As(new(identity.Tokens))),
		newLimiterStore,
		fx.Annotate(ratelimit.NewLoginThrottle, fx.As(new(identity.LoginThrottle))),
	),
)

// PasswordHashing lets tests swap the production argon2 cost for a cheap one.
type PasswordHashing string

func newPasswordHasher(p PasswordHashing) *credentials.Argon2 {
	if p == "fast" {
		return credentials.NewFastArgon2()
	}
	return credentials.NewArgon2()
}

func newLimiterStore(lc fx.Lifecycle, cfg Config) (limiter.Store, error) {
	store, closeFn, err := ratelimit.NewStore(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(closeFn))
	return store, nil
}

// IdentityModule provides users, workspaces, contacts and audit use cases and their routes.
var IdentityModule = fx.Module("identity",
	fx.Provide(
		func(db *postgres.DB) *postgres.WorkspaceRepo { return postgres.NewWorkspaceRepo(db) },
		func(db *postgres.DB) *postgres.AuditRepo { return postgres.NewAuditRepo(db) },
		func(db *postgres.DB) *postgres.ContactRepo { return postgres.NewContactRepo(db) },
		newIdentity,
		func(db *postgres.DB, repo *postgres.WorkspaceRepo, ins *riveradapter.Inserter, a authz.Authorizer, now domain.Clock,
			v *vault.Tokens, cfg Config) *workspaces.Service {
			tx := postgres.NewTxRunner(db, func(tx pgx.Tx) workspaces.Repos {
				return workspaces.Repos{Store: postgres.NewWorkspaceRepo(tx), Events: postgres.NewEventLog(tx), Erasure: ins.Bind(tx),
					Invitations: postgres.NewInvitationRepo(tx), Mail: riveradapter.NewMailOutbox(ins.Bind(tx), v),
					Settings: postgres.NewWorkspaceRepo(tx)}
			})
			return workspaces.NewService(workspaces.Deps{Tx: tx, Store: repo, Invitations: postgres.NewInvitationRepo(db),
				Settings: repo, Authz: a, Now: now, LinkBase: cfg.ConsoleURL()})
		},
		func(db *postgres.DB, repo *postgres.ContactRepo, a authz.Authorizer, an *postgres.Announcer) *contacts.Service {
			tx := postgres.NewTxRunner(db, func(tx pgx.Tx) contacts.Repos {
				return contacts.Repos{Contacts: postgres.NewContactRepo(tx), Events: postgres.NewEventLog(tx)}
			}).Announcing(an)
			return contacts.NewService(tx, repo, a)
		},
		func(repo *postgres.AuditRepo, a authz.Authorizer) *audit.Service { return audit.NewService(repo, a) },
		fx.Annotate(func(api *httpapi.API) RouteRegistration { return api.Register }, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(api *httpapi.API, cfg Config) RouteRegistration {
			return func(e *echo.Echo) { api.RegisterOperator(e, cfg.AdminToken) }
		}, fx.ResultTags(`group:"routes"`)),
		func(i *identity.Service, w *workspaces.Service, c *contacts.Service, a *audit.Service) *httpapi.API {
			return &httpapi.API{Identity: i, Workspaces: w, Contacts: c, Audit: a}
		},
		fx.Annotate(func(a *audit.Service) WorkerRegistration {
			return func(w *river.Workers) { river.AddWorker(w, &riveradapter.AuditPurgeWorker{Audit: a}) }
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.AuditPurgePeriodic, fx.ResultTags(`group:"periodic"`)),
		fx.Annotate(func(i *identity.Service) WorkerRegistration {
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.PasswordResetWorker{Identity: i})
				river.AddWorker(w, &riveradapter.SessionPurgeWorker{Identity: i})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.SessionPurgePeriodic, fx.ResultTags(`group:"periodic"`)),
	),
)

func newIdentity(db *postgres.DB, repo *postgres.WorkspaceRepo, h identity.PasswordHasher, t identity.Tokens, th identity.LoginThrottle,
	ins *riveradapter.Inserter, v *vault.Tokens, cfg Config, now domain.Clock) (*identity.Service, error) {
	tx := postgres.NewTxRunner(db, func(tx pgx.Tx) identity.Repos {
		jobs := ins.Bind(tx)
		return identity.Repos{Users: postgres.NewWorkspaceRepo(tx), Sessions: postgres.NewSessionRepo(tx),
			Events: postgres.NewEventLog(tx), Mail: riveradapter.NewMailOutbox(jobs, v), Jobs: jobs}
	})
	return identity.NewService(identity.Deps{Tx: tx, Users: repo, Sessions: postgres.NewSessionRepo(db), Hasher: h, Tokens: t,
		Throttle: th, Events: postgres.NewEventLog(db), BaseURL: cfg.ConsoleURL(), Now: now})
}
