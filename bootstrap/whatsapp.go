package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/onboarding"
)

// WhatsAppModule provides the vault, the Meta client and the onboarding use cases.
var WhatsAppModule = fx.Module("whatsapp",
	fx.Provide(
		NewVault,
		riveradapter.NewInserter,
		func(cfg Config) *meta.Client {
			return meta.NewClient(meta.ClientConfig{BaseURL: cfg.MetaGraphURL, Version: cfg.MetaGraphVersion,
				AppID: cfg.MetaAppID, AppSecret: cfg.MetaAppSecret, Timeout: 15 * time.Second,
				WebhookURL: cfg.WebhookURL(), VerifyToken: cfg.MetaVerifyToken})
		},
		fx.Annotate(meta.NewGraph, fx.As(new(onboarding.Graph))),
		func(db *postgres.DB, ins *riveradapter.Inserter, g onboarding.Graph, v *vault.Tokens, a authz.Authorizer) *onboarding.Service {
			tx := postgres.NewTxRunner(db, func(tx pgx.Tx) onboarding.Repos {
				return onboarding.Repos{Numbers: postgres.NewPhoneNumberRepo(tx), Events: postgres.NewEventLog(tx), Jobs: ins.Bind(tx)}
			})
			return onboarding.NewService(tx, postgres.NewPhoneNumberRepo(db), g, v, a)
		},
		fx.Annotate(func(api *httpapi.API, o *onboarding.Service) RouteRegistration {
			return (&httpapi.WhatsApp{API: api, Onboarding: o}).Register
		}, fx.ResultTags(`group:"routes"`)),
		fx.Annotate(func(o *onboarding.Service) WorkerRegistration {
			return func(w *river.Workers) {
				river.AddWorker(w, &riveradapter.OnboardingWorker{Onboarding: o})
				river.AddWorker(w, &riveradapter.PhoneSyncWorker{Onboarding: o})
			}
		}, fx.ResultTags(`group:"workers"`)),
		fx.Annotate(riveradapter.PhoneSyncPeriodic, fx.ResultTags(`group:"periodic"`)),
	),
)

// NewVault opens the key-encryption key of the configuration: TOKEN_MASTER_KEY or
// VAULT_KEY_URL.
func NewVault(lc fx.Lifecycle, cfg Config, reg *prometheus.Registry) (*vault.Tokens, error) {
	t, closeAll, err := openVault(cfg, reg)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(closeAll))
	return t, nil
}

// openVault builds the ring: the current key seals, previous keys (kept during a
// rotation) still open what they sealed.
func openVault(cfg Config, reg prometheus.Registerer) (*vault.Tokens, func() error, error) {
	ctx := context.Background()
	var opened []*vault.Vault
	closeAll := func() error {
		var first error
		for _, v := range opened {
			if err := v.Close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	open := func(o vault.Options) error {
		o.CacheTTL, o.Registerer = cfg.TokenCacheTTL, reg
		v, err := vault.New(ctx, o)
		if err == nil {
			opened = append(opened, v)
		}
		return err
	}
	if err := open(vault.Options{MasterKey: cfg.TokenMasterKey, KeyURL: cfg.VaultKeyURL}); err != nil {
		return nil, nil, err
	}
	for _, k := range cfg.PreviousMasterKeys {
		if err := open(vault.Options{MasterKey: k}); err != nil {
			_ = closeAll()
			return nil, nil, fmt.Errorf("TOKEN_MASTER_KEY_PREVIOUS: %w", err)
		}
	}
	for _, u := range cfg.PreviousKeyURLs {
		if err := open(vault.Options{KeyURL: u}); err != nil {
			_ = closeAll()
			return nil, nil, fmt.Errorf("VAULT_KEY_URL_PREVIOUS: %w", err)
		}
	}
	ring, err := vault.NewRing(opened[0], opened[1:]...)
	if err != nil {
		_ = closeAll()
		return nil, nil, err
	}
	return &vault.Tokens{Ring: ring}, closeAll, nil
}
