package bootstrap

import (
	"log/slog"

	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/mediastore"
	"github.com/wabaplatform/waba/adapters/meta"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/workspaces"
)

// erasureBatch is how many rows one statement of an erasure deletes: short transactions
// that never hold many locks or a long snapshot.
const erasureBatch = 5000

// ErasureModule erases deleted workspaces in the background.
var ErasureModule = fx.Module("erasure",
	fx.Provide(
		func(db *postgres.DB, c *meta.Client, v *vault.Tokens, files *mediastore.Store, log *slog.Logger) *workspaces.Eraser {
			return workspaces.NewEraser(postgres.NewErasure(db, erasureBatch), v, meta.NewGraph(c), log.With("component", "erasure")).
				WithFiles(files)
		},
		fx.Annotate(func(e *workspaces.Eraser) WorkerRegistration {
			return func(w *river.Workers) { river.AddWorker(w, &riveradapter.WorkspaceEraseWorker{Eraser: e}) }
		}, fx.ResultTags(`group:"workers"`)),
	),
)
