package messagingtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// OutboxFixture is what the Outbox contract needs of the store behind an Outbox beyond
// the port itself: to put messages in and read what delivery recorded.
type OutboxFixture struct {
	// Seed stores a text message at status (queued, sent, failed or received: a received
	// one is inbound) to a contact with a phone, through a connected number of its own
	// workspace, and returns it as ToSend must read it.
	Seed func(t *testing.T, status domain.MessageStatus) messaging.MessageToSend
	// Message reads a message back as stored.
	Message func(t *testing.T, ws, id domain.ID) domain.Message
	// Report records a status webhook for wamid before any message has that wamid.
	Report func(t *testing.T, wamid string, s messaging.ReportedStatus)
	// Number reads a number's status and failure reason.
	Number func(t *testing.T, ws, id domain.ID) (domain.NumberStatus, string)
	// Events is the event log of ws, oldest first.
	Events func(t *testing.T, ws domain.ID) []eventstest.Row
}

// NewOutboxFixture returns a fixture over an in-memory Outbox.
func NewOutboxFixture(o *Outbox) OutboxFixture {
	return OutboxFixture{
		Seed: func(_ *testing.T, status domain.MessageStatus) messaging.MessageToSend {
			m := Queued()
			m.Status = status
			o.Put(m)
			return m
		},
		Message: func(t *testing.T, ws, id domain.ID) domain.Message {
			m, ok := o.Message(ws, id)
			require.True(t, ok, "message %s", id)
			return m
		},
		Report: func(_ *testing.T, wamid string, s messaging.ReportedStatus) { o.Report(wamid, s) },
		Number: func(_ *testing.T, ws, id domain.ID) (domain.NumberStatus, string) { return o.Number(ws, id) },
		Events: func(_ *testing.T, ws domain.ID) []eventstest.Row {
			var out []eventstest.Row
			for _, e := range o.Events() {
				if e.WorkspaceID() == ws {
					out = append(out, eventstest.RowOf(e))
				}
			}
			return out
		},
	}
}

// Queued is a queued text message of a workspace of its own, through a connected number.
func Queued() messaging.MessageToSend {
	ws := domain.NewID()
	return messaging.MessageToSend{ID: domain.NewID(), WorkspaceID: ws, ContactID: domain.NewID(), Type: "text", Content: json.RawMessage(`{"body":"hi"}`),
		Status: domain.StatusQueued, Purpose: domain.PurposeConversation, To: "14155550101",
		Number: domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "1001", WABAID: "2001",
			Status: domain.NumberConnected, Token: domain.Sealed{Ciphertext: []byte("tok"), Nonce: []byte{1}, WrappedKey: []byte{2}, KeyID: "k"}}}
}

// RunOutboxContract holds an Outbox to what messaging.Outbox promises. newOutbox returns a
// fresh, empty outbox and its fixture for each sub-test.
func RunOutboxContract(t *testing.T, newOutbox func(t *testing.T) (messaging.Outbox, OutboxFixture)) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	failed := func(m messaging.MessageToSend) domain.Occurrence {
		return domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: m.WorkspaceID}, at, domain.MessageStatusChanged{
			MessageID: m.ID, ContactID: m.ContactID, Status: domain.StatusFailed, Previous: m.Status})
	}

	t.Run("ToSendReadsTheMessageOfItsWorkspace", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		got, err := o.ToSend(ctx, m.WorkspaceID, m.ID)
		require.NoError(t, err)
		require.JSONEq(t, string(m.Content), string(got.Content), "the content as JSON (a store may reformat it)")
		got.Content = m.Content
		require.Equal(t, m, got)
		_, err = o.ToSend(ctx, m.WorkspaceID, domain.NewID())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "an unknown message: %v", err)
		other := fx.Seed(t, domain.StatusQueued)
		_, err = o.ToSend(ctx, other.WorkspaceID, m.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "another workspace's message: %v", err)
	})

	t.Run("StatusIsScopedByWorkspace", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		st, err := o.Status(ctx, m.WorkspaceID, m.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusQueued, st)
		other := fx.Seed(t, domain.StatusQueued)
		_, err = o.Status(ctx, other.WorkspaceID, m.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%v", err)
	})

	t.Run("AttemptIsRecordedOverTheOneRead", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		attempted := func() *time.Time {
			got, err := o.ToSend(ctx, m.WorkspaceID, m.ID)
			require.NoError(t, err)
			return got.AttemptedAt
		}
		attempt := func(m messaging.MessageToSend, prev *time.Time, at time.Time) bool {
			ok, err := o.Attempt(ctx, m.WorkspaceID, m.ID, prev, at)
			require.NoError(t, err)
			return ok
		}
		later := at.Add(time.Minute)
		require.Nil(t, attempted())
		require.True(t, attempt(m, nil, at))
		requireTime(t, at, attempted())
		require.False(t, attempt(m, nil, later), "another run recorded one since the read")
		require.False(t, attempt(m, &later, later), "not the one recorded")
		require.True(t, attempt(m, &at, later), "the one read, replaced")
		requireTime(t, later, attempted())

		require.NoError(t, o.ClearAttempt(ctx, m.WorkspaceID, m.ID))
		require.Nil(t, attempted())
		require.True(t, attempt(m, nil, at), "once cleared, another attempt")

		sent := fx.Seed(t, domain.StatusSent)
		require.False(t, attempt(sent, nil, at), "a message no longer queued")
		withWAMID := fx.Seed(t, domain.StatusQueued)
		ok, _, err := o.MarkSent(ctx, withWAMID.WorkspaceID, withWAMID.ID, "wamid.Q", at, domain.StatusQueued, domain.StatusQueued)
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, attempt(withWAMID, nil, at), "a queued message with a wamid")
		other := fx.Seed(t, domain.StatusQueued)
		theirs := m
		theirs.WorkspaceID = other.WorkspaceID
		require.False(t, attempt(theirs, &at, later), "another workspace's message")
		require.NoError(t, o.ClearAttempt(ctx, other.WorkspaceID, m.ID))
		requireTime(t, at, attempted())
	})

	t.Run("MarkSentOnlyFromTheStatusRead", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		ok, early, err := o.MarkSent(ctx, m.WorkspaceID, m.ID, "wamid.A", at, domain.StatusQueued, domain.StatusSent)
		require.NoError(t, err)
		require.True(t, ok)
		require.Empty(t, early)
		got := fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, domain.StatusSent, got.Status)
		require.Equal(t, "wamid.A", got.WAMID)
		requireTime(t, at, got.SentAt)

		// The status is no longer queued: nothing changes, and that is not an error.
		ok, _, err = o.MarkSent(ctx, m.WorkspaceID, m.ID, "wamid.B", at.Add(time.Hour), domain.StatusQueued, domain.StatusSent)
		require.NoError(t, err)
		require.False(t, ok)
		got = fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, "wamid.A", got.WAMID)
		requireTime(t, at, got.SentAt)

		// Another workspace's id moves nothing.
		other := fx.Seed(t, domain.StatusQueued)
		ok, _, err = o.MarkSent(ctx, other.WorkspaceID, m.ID, "wamid.C", at, domain.StatusSent, domain.StatusSent)
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("MarkSentReturnsTheEarlyStatuses", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		undeliverable := &domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "Message Undeliverable."}
		fx.Report(t, "wamid.E", messaging.ReportedStatus{Status: "delivered", At: at.Add(time.Second)})
		fx.Report(t, "wamid.E", messaging.ReportedStatus{Status: "failed", At: at.Add(2 * time.Second), Error: undeliverable})
		fx.Report(t, "wamid.other", messaging.ReportedStatus{Status: "read", At: at})
		ok, early, err := o.MarkSent(ctx, m.WorkspaceID, m.ID, "wamid.E", at, domain.StatusQueued, domain.StatusSent)
		require.NoError(t, err)
		require.True(t, ok)
		require.Len(t, early, 2, "the statuses of that wamid only")
		byStatus := map[string]messaging.ReportedStatus{}
		for _, s := range early {
			byStatus[s.Status] = s
		}
		require.True(t, at.Add(time.Second).Equal(byStatus["delivered"].At))
		require.True(t, at.Add(2*time.Second).Equal(byStatus["failed"].At))
		require.Equal(t, undeliverable, byStatus["failed"].Error, "Meta's first error")
		require.Nil(t, byStatus["delivered"].Error)
	})

	t.Run("ApplyReportedOnlyFromTheStatusRead", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		_, _, err := o.MarkSent(ctx, m.WorkspaceID, m.ID, "wamid.R", at, domain.StatusQueued, domain.StatusSent)
		require.NoError(t, err)
		d := at.Add(time.Second)
		require.NoError(t, o.ApplyReported(ctx, m.WorkspaceID, m.ID, domain.StatusQueued,
			messaging.DeliveryUpdate{Status: domain.StatusDelivered, DeliveredAt: &d}))
		got := fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, domain.StatusSent, got.Status, "the status is no longer queued")
		require.Nil(t, got.DeliveredAt)

		require.NoError(t, o.ApplyReported(ctx, m.WorkspaceID, m.ID, domain.StatusSent,
			messaging.DeliveryUpdate{Status: domain.StatusDelivered, DeliveredAt: &d}))
		got = fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, domain.StatusDelivered, got.Status)
		requireTime(t, d, got.DeliveredAt)

		// A time already recorded stays; the new ones are written.
		later, r := d.Add(time.Minute), d.Add(2*time.Second)
		require.NoError(t, o.ApplyReported(ctx, m.WorkspaceID, m.ID, domain.StatusDelivered,
			messaging.DeliveryUpdate{Status: domain.StatusRead, DeliveredAt: &later, ReadAt: &r}))
		got = fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, domain.StatusRead, got.Status)
		requireTime(t, d, got.DeliveredAt)
		requireTime(t, r, got.ReadAt)
	})

	t.Run("ApplyReportedRecordsAFailure", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusSent)
		f := at.Add(time.Second)
		e := domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "d"}
		require.NoError(t, o.ApplyReported(ctx, m.WorkspaceID, m.ID, domain.StatusSent,
			messaging.DeliveryUpdate{Status: domain.StatusFailed, FailedAt: &f, Error: &e}))
		got := fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, domain.StatusFailed, got.Status)
		requireTime(t, f, got.FailedAt)
		require.Equal(t, &e, got.Error)
	})

	t.Run("MarkFailedRecordsTheReason", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		for _, from := range []domain.MessageStatus{domain.StatusQueued, domain.StatusSent} {
			m := fx.Seed(t, from)
			e := domain.MessageError{Code: 131026, Title: "Message undeliverable", Detail: "Message Undeliverable."}
			ev := failed(m)
			require.NoError(t, o.MarkFailed(ctx, m.WorkspaceID, m.ID, e, at, ev, time.Time{}))
			got := fx.Message(t, m.WorkspaceID, m.ID)
			require.Equal(t, domain.StatusFailed, got.Status, "from %s", from)
			require.Equal(t, &e, got.Error)
			requireTime(t, at, got.FailedAt)
			require.Equal(t, []eventstest.Row{eventstest.RowOf(ev)}, fx.Events(t, m.WorkspaceID), "its event appended")
		}
		// Without Meta's code.
		m := fx.Seed(t, domain.StatusQueued)
		e := domain.MessageError{Title: "Contact opted out", Detail: "not sent"}
		require.NoError(t, o.MarkFailed(ctx, m.WorkspaceID, m.ID, e, at, failed(m), time.Time{}))
		require.Equal(t, &e, fx.Message(t, m.WorkspaceID, m.ID).Error)
	})

	t.Run("MarkFailedKeepsAFailureOrAReceivedMessage", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		first := domain.MessageError{Code: 131026, Title: "first", Detail: "first"}
		require.NoError(t, o.MarkFailed(ctx, m.WorkspaceID, m.ID, first, at, failed(m), time.Time{}))
		require.NoError(t, o.MarkFailed(ctx, m.WorkspaceID, m.ID, domain.MessageError{Code: 1, Title: "second"}, at.Add(time.Hour), failed(m), time.Time{}))
		got := fx.Message(t, m.WorkspaceID, m.ID)
		require.Equal(t, &first, got.Error, "the first reason stays")
		requireTime(t, at, got.FailedAt)
		require.Len(t, fx.Events(t, m.WorkspaceID), 1, "no second event")

		in := fx.Seed(t, domain.StatusReceived)
		require.NoError(t, o.MarkFailed(ctx, in.WorkspaceID, in.ID, first, at, failed(in), time.Time{}))
		require.Empty(t, fx.Events(t, in.WorkspaceID))
		got = fx.Message(t, in.WorkspaceID, in.ID)
		require.Equal(t, domain.StatusReceived, got.Status, "a received message never fails")
		require.Nil(t, got.Error)
		require.Nil(t, got.FailedAt)

		// Another workspace's id fails nothing.
		other := fx.Seed(t, domain.StatusQueued)
		require.NoError(t, o.MarkFailed(ctx, m.WorkspaceID, other.ID, first, at, failed(other), time.Time{}))
		require.Equal(t, domain.StatusQueued, fx.Message(t, other.WorkspaceID, other.ID).Status)
	})

	t.Run("FlagReconnectOnlyAConnectedNumber", func(t *testing.T) {
		t.Parallel()
		o, fx := newOutbox(t)
		m := fx.Seed(t, domain.StatusQueued)
		require.NoError(t, o.FlagReconnect(ctx, m.WorkspaceID, m.Number.ID, "code 190"))
		st, reason := fx.Number(t, m.WorkspaceID, m.Number.ID)
		require.Equal(t, domain.NumberNeedsReconnect, st)
		require.Equal(t, "code 190", reason)
		require.NoError(t, o.FlagReconnect(ctx, m.WorkspaceID, m.Number.ID, "later"))
		_, reason = fx.Number(t, m.WorkspaceID, m.Number.ID)
		require.Equal(t, "code 190", reason, "a number no longer connected keeps its reason")
		got, err := o.ToSend(ctx, m.WorkspaceID, m.ID)
		require.NoError(t, err)
		require.Equal(t, domain.NumberNeedsReconnect, got.Number.Status, "ToSend reads the number as it is now")

		other := fx.Seed(t, domain.StatusQueued)
		require.NoError(t, o.FlagReconnect(ctx, m.WorkspaceID, other.Number.ID, "x"))
		st, _ = fx.Number(t, other.WorkspaceID, other.Number.ID)
		require.Equal(t, domain.NumberConnected, st, "another workspace's number is not touched")
	})
}

// requireTime checks that got is want (stores may return another zone or location).
func requireTime(t *testing.T, want time.Time, got *time.Time) {
	t.Helper()
	require.NotNil(t, got)
	require.True(t, want.Equal(*got), "want %v, got %v", want, *got)
}
