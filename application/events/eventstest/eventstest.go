// Package eventstest holds what tests of the event log share: the comparable form of a
// logged event, and the contract every events.Log (the Postgres adapter's and the fakes')
// is held to. Only tests import it.
package eventstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Row is what the log keeps of an event, comparable between a fake and Postgres.
type Row struct {
	WorkspaceID domain.ID
	Kind        domain.EventKind
	ActorType   domain.ActorType
	ContactID   *domain.ID
	MessageID   *domain.ID
	Details     map[string]any // as JSON gives it back
}

// RowOf is the row the log keeps for o.
func RowOf(o domain.Occurrence) Row {
	s := o.Event.Subject()
	return Row{WorkspaceID: o.WorkspaceID(), Kind: o.Event.Kind(), ActorType: o.Actor.Type,
		ContactID: s.ContactID, MessageID: s.MessageID, Details: JSONDetails(s.Details)}
}

// JSONDetails is d as it reads back from JSON (never nil).
func JSONDetails(d map[string]any) map[string]any {
	out := map[string]any{}
	raw, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// Audit is the audit trail os leave, in order.
func Audit(os []domain.Occurrence) []domain.AuditEntry {
	var out []domain.AuditEntry
	for _, o := range os {
		if e, ok := o.AuditEntry(); ok {
			out = append(out, e)
		}
	}
	return out
}

// Subject is an events.Log under the contract, with what the contract reads back.
type Subject struct {
	Log events.Log
	// Workspace creates a workspace and returns its id.
	Workspace func(t *testing.T) domain.ID
	// Rows is the log of ws (NilID: outside any workspace), oldest first.
	Rows func(t *testing.T, ws domain.ID) []Row
	// Actions is the audit trail of ws as actions, oldest first.
	Actions func(t *testing.T, ws domain.ID) []string
}

// RunContract holds an events.Log to what the port promises: every occurrence kept in
// order under its workspace, and an audit entry for each kind the audit trail keeps.
func RunContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("AppendKeepsOrderAndAuditsActions", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws := s.Workspace(t)
		contact, msg := domain.NewID(), domain.NewID()
		customer := domain.Caller{Type: domain.ActorContact, ID: contact, WorkspaceID: ws}
		os := []domain.Occurrence{
			domain.Occurred(customer, at, domain.MessageReceived{MessageID: msg, ContactID: contact, WAMID: "wamid.1", Type: "text"}),
			domain.Occurred(customer, at, domain.ContactOptedOut{OptChange: domain.OptChange{ContactID: contact,
				Source: domain.OptOutKeyword, Trigger: &msg, WAMID: "wamid.1"}}),
			domain.Occurred(domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws}, at,
				domain.ContactUpdated{ContactID: contact, Fields: []string{"name", "tags"}}),
		}
		require.NoError(t, s.Log.Append(ctx, os[0]))
		require.NoError(t, s.Log.Append(ctx, os[1:]...))
		want := make([]Row, len(os))
		for i, o := range os {
			want[i] = RowOf(o)
		}
		require.Equal(t, want, s.Rows(t, ws))
		require.Equal(t, []string{"contact.opted_out", "contact.updated"}, s.Actions(t, ws), "a message received is not audited")
		require.Empty(t, s.Rows(t, s.Workspace(t)), "another workspace's log")
	})

	t.Run("AppendOutsideAnyWorkspace", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		email := "nobody-" + domain.NewID().String() + "@example.com"
		o := domain.Occurred(domain.Caller{Type: domain.ActorUser}, at, domain.LoginFailed{Email: email})
		require.NoError(t, s.Log.Append(ctx, o))
		require.Contains(t, s.Rows(t, domain.NilID), RowOf(o))
	})
}
