package postgres_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/onboarding"
	"github.com/wabaplatform/waba/application/rotation"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

// The repositories implement the ports their use cases declare.
var (
	_ identity.Users      = (*postgres.WorkspaceRepo)(nil)
	_ events.Log          = (*postgres.EventLog)(nil)
	_ events.Positions    = (*postgres.EventPositions)(nil)
	_ workspaces.Store    = (*postgres.WorkspaceRepo)(nil)
	_ contacts.Store      = (*postgres.ContactRepo)(nil)
	_ audit.Store         = (*postgres.AuditRepo)(nil)
	_ workspaces.TxRunner = (*postgres.TxRunner[workspaces.Repos])(nil)
	_ contacts.TxRunner   = (*postgres.TxRunner[contacts.Repos])(nil)

	_ inbound.Directory    = (*postgres.InboundRepo)(nil)
	_ inbound.ContactStore = (*postgres.InboundRepo)(nil)
	_ inbound.MessageStore = (*postgres.InboundRepo)(nil)
	_ inbound.AccountStore = (*postgres.InboundRepo)(nil)
	_ inbound.Outbox       = (*postgres.MessageRepo)(nil)
	_ inbound.TxRunner     = (*postgres.TxRunner[inbound.Repos])(nil)

	_ onboarding.Store        = (*postgres.PhoneNumberRepo)(nil)
	_ onboarding.TxRunner     = (*postgres.TxRunner[onboarding.Repos])(nil)
	_ messaging.Contacts      = (*postgres.ContactRepo)(nil)
	_ messaging.ContactWriter = (*postgres.ContactRepo)(nil)
	_ messaging.Workspaces    = (*postgres.WorkspaceRepo)(nil)
	_ messaging.Numbers       = (*postgres.PhoneNumberRepo)(nil)
	_ messaging.MessageStore  = (*postgres.MessageRepo)(nil)
	_ messaging.MessageWriter = (*postgres.MessageRepo)(nil)
	_ messaging.TxRunner      = (*postgres.TxRunner[messaging.Repos])(nil)

	_ rotation.Store     = (*postgres.PhoneNumberRepo)(nil)
	_ rotation.HookStore = (*postgres.HookRepo)(nil)
	_ rotation.TxRunner  = (*postgres.TxRunner[rotation.Repos])(nil)
)

// now is a timestamp Postgres stores exactly: microseconds, UTC.
// received is the event of storing the inbound message m.
func received(m domain.Message) domain.Occurrence {
	return domain.Occurred(domain.Caller{Type: domain.ActorContact, ID: m.ContactID, WorkspaceID: m.WorkspaceID}, m.CreatedAt,
		domain.MessageReceived{MessageID: m.ID, ContactID: m.ContactID, WAMID: m.WAMID, Type: m.Type})
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// idAt returns a fresh UUIDv7 whose timestamp is at, so id order follows at.
func idAt(at time.Time) domain.ID {
	id := domain.NewID()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixMilli()))
	copy(id[0:6], ts[2:8])
	return id
}

func createUser(t *testing.T, repo *postgres.WorkspaceRepo, email string) domain.User {
	t.Helper()
	u := domain.User{ID: domain.NewID(), Email: email, Name: strings.Split(email, "@")[0], PasswordHash: "h", CreatedAt: now()}
	require.NoError(t, repo.CreateUser(context.Background(), u))
	return u
}

func createWorkspace(t *testing.T, repo *postgres.WorkspaceRepo, name string) domain.Workspace {
	t.Helper()
	w := domain.Workspace{ID: domain.NewID(), Name: name, Plan: domain.PlanFree, CreatedAt: now(), UpdatedAt: now()}
	require.NoError(t, repo.CreateWorkspace(context.Background(), w))
	return w
}

// walkIDs reads every page of 2 rows with read (from the zero cursor, then the last id of
// the previous page), runs check on each row, and returns the ids in order.
func walkIDs[T any](t *testing.T, read func(cursor domain.ID, limit int) ([]T, error), id func(T) domain.ID, check func(T)) []domain.ID {
	t.Helper()
	var seen []domain.ID
	cursor := domain.NilID
	for {
		page, err := read(cursor, 2)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		for _, row := range page {
			check(row)
			seen = append(seen, id(row))
		}
		if len(page) < 2 {
			return seen
		}
		cursor = id(page[len(page)-1])
	}
}

func requireKind(t *testing.T, want domain.Kind, err error) {
	t.Helper()
	require.Equal(t, want, domain.KindOf(err), "got %v", err)
}

// utcTime and utcContact put every time in UTC, so values read back compare
// equal with require.Equal (pgx returns timestamptz in the local zone).
func utcTime(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}

func utcContact(c domain.Contact) domain.Contact {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.OptedOutAt, c.LastInboundAt, c.ServiceWindowExpiresAt = utcTime(c.OptedOutAt), utcTime(c.LastInboundAt), utcTime(c.ServiceWindowExpiresAt)
	return c
}
