package messaging_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// receiptStore holds messages and numbers for the read-receipt use case.
type receiptStore struct {
	messages map[domain.ID]domain.Message
	numbers  map[string]domain.PhoneNumber
	err      error // returned by GetMessage when set
}

func (s *receiptStore) GetMessage(_ context.Context, ws, id domain.ID) (domain.Message, error) {
	if s.err != nil {
		return domain.Message{}, s.err
	}
	m, ok := s.messages[id]
	if !ok || m.WorkspaceID != ws {
		return domain.Message{}, domain.NotFound("message")
	}
	return m, nil
}

func (s *receiptStore) ListByContact(context.Context, domain.ID, domain.ID, domain.ID, int) ([]domain.Message, error) {
	return nil, nil
}

func (s *receiptStore) ByPhoneNumberID(_ context.Context, id string) (domain.PhoneNumber, error) {
	n, ok := s.numbers[id]
	if !ok {
		return n, domain.NotFound("phone number")
	}
	return n, nil
}

type markCall struct{ token, phoneNumberID, wamid string }

type receiptGraph struct {
	calls []markCall
	err   error
}

func (g *receiptGraph) MarkRead(_ context.Context, token, phoneNumberID, wamid string) error {
	g.calls = append(g.calls, markCall{token, phoneNumberID, wamid})
	return g.err
}

type receiptFixture struct {
	ws      domain.ID
	inbound domain.ID
	store   *receiptStore
	graph   *receiptGraph
	r       *messaging.Receipts
}

func newReceiptFixture() *receiptFixture {
	ws := domain.NewID()
	in := domain.Message{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "1001", Direction: domain.Inbound,
		Type: "text", WAMID: "wamid.IN1"}
	out := domain.Message{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "1001", Direction: domain.Outbound,
		Type: "text", WAMID: "wamid.OUT1"}
	st := &receiptStore{
		messages: map[domain.ID]domain.Message{in.ID: in, out.ID: out},
		numbers: map[string]domain.PhoneNumber{"1001": {ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "1001",
			Status: domain.NumberConnected, Token: domain.Sealed{Ciphertext: []byte("tok-1001")}}},
	}
	g := &receiptGraph{}
	return &receiptFixture{ws: ws, inbound: in.ID, store: st, graph: g,
		r: messaging.NewReceipts(st, st, g, fakeVault{}, slog.New(slog.DiscardHandler))}
}

func TestReadReceiptSent(t *testing.T) {
	t.Parallel()
	f := newReceiptFixture()
	out, err := f.r.SendReadReceipt(context.Background(), f.ws, f.inbound)
	require.NoError(t, err)
	require.Equal(t, messaging.ResultSent, out.Result)
	require.Equal(t, []markCall{{"tok-1001", "1001", "wamid.IN1"}}, f.graph.calls, "the number's own token, the message's wamid")
}

func TestReadReceiptPermanentRefusalEnds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  *domain.MetaError
	}{
		{"invalid message id", &domain.MetaError{Class: domain.MetaFinal, Code: 131009, Title: "Parameter value is not valid"}},
		{"message too old", &domain.MetaError{Class: domain.MetaFinal, Code: 100, Title: "Invalid parameter"}},
		{"token revoked", &domain.MetaError{Class: domain.MetaAuth, Code: 190, Title: "Invalid OAuth access token"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newReceiptFixture()
			f.graph.err = c.err
			out, err := f.r.SendReadReceipt(context.Background(), f.ws, f.inbound)
			require.NoError(t, err, "a permanent refusal is not retried")
			require.Equal(t, messaging.ResultFailed, out.Result)
			require.Equal(t, c.err.Code, out.Code)
			require.Len(t, f.graph.calls, 1)
		})
	}
}

func TestReadReceiptTransientRetries(t *testing.T) {
	t.Parallel()
	f := newReceiptFixture()
	f.graph.err = &domain.MetaError{Class: domain.MetaRetry, Code: 131000, Title: "Something went wrong"}
	_, err := f.r.SendReadReceipt(context.Background(), f.ws, f.inbound)
	require.ErrorIs(t, err, f.graph.err, "a transient failure is returned for the job to retry")

	f.graph.err = errors.New("connection reset")
	_, err = f.r.SendReadReceipt(context.Background(), f.ws, f.inbound)
	require.Error(t, err, "a network failure is retried")

	f.graph.err = &domain.MetaError{Class: domain.MetaThrottled, Code: 80007, RetryAfter: time.Minute}
	out, err := f.r.SendReadReceipt(context.Background(), f.ws, f.inbound)
	require.NoError(t, err)
	require.Equal(t, messaging.ResultSnoozed, out.Result)
	require.GreaterOrEqual(t, out.Wait, time.Minute)

	f.store.err = errors.New("database down")
	_, err = f.r.SendReadReceipt(context.Background(), f.ws, f.inbound)
	require.Error(t, err, "a failed read is retried")
	require.Len(t, f.graph.calls, 3)
}

func TestReadReceiptNothingToSend(t *testing.T) {
	t.Parallel()
	f := newReceiptFixture()
	ctx := context.Background()

	// The message is gone (its contact erased), or belongs to another workspace.
	for _, c := range []struct{ ws, id domain.ID }{{f.ws, domain.NewID()}, {domain.NewID(), f.inbound}} {
		out, err := f.r.SendReadReceipt(ctx, c.ws, c.id)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSkipped, out.Result)
	}

	// An outbound message is never marked read.
	var outbound domain.ID
	for id, m := range f.store.messages {
		if m.Direction == domain.Outbound {
			outbound = id
		}
	}
	out, err := f.r.SendReadReceipt(ctx, f.ws, outbound)
	require.NoError(t, err)
	require.Equal(t, messaging.ResultSkipped, out.Result)

	// The number is no longer connected, or now belongs to another workspace.
	n := f.store.numbers["1001"]
	for _, changed := range []domain.PhoneNumber{
		func() domain.PhoneNumber { c := n; c.Status = domain.NumberNeedsReconnect; return c }(),
		func() domain.PhoneNumber { c := n; c.WorkspaceID = domain.NewID(); return c }(),
	} {
		f.store.numbers["1001"] = changed
		out, err = f.r.SendReadReceipt(ctx, f.ws, f.inbound)
		require.NoError(t, err)
		require.Equal(t, messaging.ResultSkipped, out.Result)
	}
	delete(f.store.numbers, "1001")
	out, err = f.r.SendReadReceipt(ctx, f.ws, f.inbound)
	require.NoError(t, err)
	require.Equal(t, messaging.ResultSkipped, out.Result)
	require.Empty(t, f.graph.calls)
}
