package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/templates/templatestest"
	"github.com/wabaplatform/waba/domain"
)

func TestTemplateRepoContract(t *testing.T) {
	t.Parallel()
	templatestest.RunStoreContract(t, func(t *testing.T) templatestest.Subject {
		pool := pgtest.NewPool(t)
		wr := postgres.NewWorkspaceRepo(pool)
		repo := postgres.NewTemplateRepo(pool)
		return templatestest.Subject{
			Store: repo, Numbers: repo,
			Workspace: func(t *testing.T) domain.ID { return createWorkspace(t, wr, "Acme").ID },
			Number: func(t *testing.T, ws domain.ID, wabaID string, status domain.NumberStatus) domain.PhoneNumber {
				p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: templatestest.Unique("pn"), WABAID: wabaID,
					Status: status, Token: domain.Sealed{Ciphertext: []byte{1}, Nonce: []byte{1}, WrappedKey: []byte{1}, KeyID: "k"},
					CreatedAt: now(), UpdatedAt: now()}
				require.NoError(t, postgres.NewPhoneNumberRepo(pool).Create(context.Background(), p))
				return p
			},
		}
	})
}
