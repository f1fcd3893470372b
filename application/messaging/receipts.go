package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// ReceiptGraph marks inbound messages read at Meta. Failures are *domain.MetaError.
type ReceiptGraph interface {
	MarkRead(ctx context.Context, token, phoneNumberID, wamid string) error
}

// NumberLookup finds a business number, with its sealed token, by Meta's id (in any
// workspace: the caller checks the workspace).
type NumberLookup interface {
	ByPhoneNumberID(ctx context.Context, phoneNumberID string) (domain.PhoneNumber, error)
}

// Receipts sends read receipts (the read-receipt job's use case): marking a conversation
// read tells Meta its last inbound message was read, which marks the earlier ones read too
// and shows the customer blue ticks.
type Receipts struct {
	messages MessageStore
	numbers  NumberLookup
	graph    ReceiptGraph
	vault    Vault
	log      *slog.Logger
}

// NewReceipts returns the read-receipt use case.
func NewReceipts(m MessageStore, n NumberLookup, g ReceiptGraph, v Vault, log *slog.Logger) *Receipts {
	return &Receipts{messages: m, numbers: n, graph: g, vault: v, log: log}
}

// SendReadReceipt marks the inbound message messageID read at Meta. A returned error is
// transient (retry with backoff); every other outcome is in Outcome: ResultSent, ResultSkipped
// (nothing to send: the message is gone, e.g. its contact was erased, is not an inbound
// message with a wamid, or its number is no longer connected here), ResultFailed (Meta
// refused it for good: an invalid or too old message id, a broken token; do not retry) or
// ResultSnoozed (Meta throttled us: try again after Wait).
func (r *Receipts) SendReadReceipt(ctx context.Context, ws, messageID domain.ID) (Outcome, error) {
	m, err := r.messages.GetMessage(ctx, ws, messageID)
	if domain.IsKind(err, domain.KindNotFound) {
		return Outcome{Result: ResultSkipped, Reason: "message gone"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if m.Direction != domain.Inbound || m.WAMID == "" {
		return Outcome{Result: ResultSkipped, Reason: "not an inbound message"}, nil
	}
	n, err := r.numbers.ByPhoneNumberID(ctx, m.PhoneNumberID)
	if domain.IsKind(err, domain.KindNotFound) || (err == nil && (n.WorkspaceID != ws || n.Status != domain.NumberConnected)) {
		return Outcome{Result: ResultSkipped, Reason: "number not connected"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	token, err := r.vault.Open(ctx, n.Token, domain.SecretBinding{WorkspaceID: n.WorkspaceID,
		Purpose: domain.PurposeAccessToken, PhoneNumberID: n.PhoneNumberID})
	if err != nil {
		return Outcome{}, fmt.Errorf("open token: %w", err)
	}
	err = r.graph.MarkRead(ctx, string(token), n.PhoneNumberID, m.WAMID)
	if err == nil {
		return Outcome{Result: ResultSent}, nil
	}
	var me *domain.MetaError
	if !errors.As(err, &me) {
		return Outcome{}, err
	}
	switch me.Class {
	case domain.MetaRetry:
		return Outcome{}, err
	case domain.MetaThrottled:
		wait := me.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		return Outcome{Result: ResultSnoozed, Code: me.Code, Wait: jitter(wait), Reason: "throttled"}, nil
	}
	// MetaFinal (an invalid message id, one older than Meta's 30 days), MetaAuth, MetaStop:
	// this receipt will never go; it is not worth more than a log line.
	r.log.WarnContext(ctx, "read receipt refused by meta", "workspace_id", ws.String(), "message_id", messageID.String(),
		"phone_number_id", n.PhoneNumberID, "code", me.Code, "title", me.Title, "detail", me.Detail)
	return Outcome{Result: ResultFailed, Code: me.Code, Reason: me.Title}, nil
}
