package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/rotation"
)

// RotateKeys re-wraps every sealed secret (phone numbers', webhook endpoints') under the current key (TOKEN_MASTER_KEY or
// VAULT_KEY_URL); the old keys must be listed in TOKEN_MASTER_KEY_PREVIOUS /
// VAULT_KEY_URL_PREVIOUS, as on the running servers, which keep reading every token
// throughout.
func RotateKeys(ctx context.Context, cfg Config, batch int) (string, error) {
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, 4, "waba-keys")
	if err != nil {
		return "", err
	}
	defer pool.Close()
	tokens, closeVault, err := openVault(cfg, prometheus.NewRegistry())
	if err != nil {
		return "", err
	}
	defer closeVault()
	tx := postgres.NewTxRunner(pool, func(tx pgx.Tx) rotation.Repos {
		return rotation.Repos{Numbers: postgres.NewPhoneNumberRepo(tx), Hooks: postgres.NewHookRepo(tx), Events: postgres.NewEventLog(tx)}
	})
	res, err := rotation.Rotate(ctx, tx, tokens, batch, time.Now)
	if err != nil {
		return "", fmt.Errorf("after %d rotated: %w", res.Rotated, err)
	}
	return fmt.Sprintf("rotated %d phone numbers' and %d webhook endpoints' secrets to key %s in %d batches",
		res.Rotated, res.Endpoints, tokens.KeyID(), res.Batches), nil
}
