package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/messaging/messagingtest"
	"github.com/wabaplatform/waba/domain"
)

var (
	_ messaging.IdempotencyKeys  = (*postgres.IdempotencyRepo)(nil)
	_ messaging.IdempotencySaver = (*postgres.IdempotencyRepo)(nil)
)

func TestIdempotencyRepoContract(t *testing.T) {
	t.Parallel()
	messagingtest.RunIdempotencyContract(t, func(t *testing.T) messagingtest.IdempotencySubject {
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		return messagingtest.IdempotencySubject{
			Keys: postgres.NewIdempotencyRepo(pool),
			Save: func(ctx context.Context, r messaging.IdempotencyRecord) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return postgres.NewIdempotencyRepo(tx).Save(ctx, r) })
			},
			Workspace: func(t *testing.T) domain.ID { return createWorkspace(t, wr, "Acme").ID },
		}
	})
}
