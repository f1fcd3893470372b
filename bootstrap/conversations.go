package bootstrap

import (
	"github.com/jackc/pgx/v5"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/domain"
)

// ConversationsModule provides the team inbox use cases and their routes. The inbound
// processing hands its messages to conversations in its own transaction (InboundModule).
var ConversationsModule = fx.Module("conversations",
	fx.Provide(
		func(db *postgres.DB, ins *riveradapter.Inserter, a authz.Authorizer, now domain.Clock, an *postgres.Announcer) *conversations.Service {
			repo := postgres.NewConversationRepo(db)
			return conversations.NewService(postgres.NewTxRunner(db, func(tx pgx.Tx) conversations.Repos {
				return conversationRepos(tx, ins.Bind(tx))
			}).Announcing(an), repo, repo, a, now)
		},
		fx.Annotate(func(api *httpapi.API, svc *conversations.Service) RouteRegistration {
			return (&httpapi.Inbox{API: api, Inbox: svc}).Register
		}, fx.ResultTags(`group:"routes"`)),
	),
)

// conversationRepos binds the inbox's repositories to a transaction and its jobs (the read
// receipt of a conversation marked read).
func conversationRepos(tx pgx.Tx, jobs *riveradapter.TxJobs) conversations.Repos {
	repo := postgres.NewConversationRepo(tx)
	return conversations.Repos{Conversations: repo, Settings: repo, Assigner: repo, Events: postgres.NewEventLog(tx), Receipts: jobs}
}
