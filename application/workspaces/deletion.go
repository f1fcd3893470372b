package workspaces

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// ErasureJobs enqueues, in the current transaction, the background erasure of a workspace
// just marked deleted: the mark and the job commit together or not at all.
type ErasureJobs interface {
	EnqueueErasure(ctx context.Context, workspaceID domain.ID) error
}

// Delete deletes the caller's workspace: confirm must be its name, exactly. In one
// transaction the workspace is marked deleted (it answers 404 from then on), every
// credential into it is removed, the deletion is recorded and its erasure is queued.
// Only users delete workspaces: an API key, even an owner's, is refused, so a leaked key
// cannot destroy a workspace.
func (s *Service) Delete(ctx context.Context, c domain.Caller, confirm string) error {
	if err := authz.Require(s.authz, c, access.WorkspaceDelete); err != nil {
		return err
	}
	if c.Type != domain.ActorUser {
		return domain.Errorf(domain.KindForbidden, "only a user deletes a workspace, not an API key")
	}
	return s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		w, err := r.Store.LockWorkspace(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		if confirm != w.Name {
			return &domain.Error{Kind: domain.KindValidation, Message: "confirm the deletion with the workspace's name",
				Fields: []domain.FieldError{{Field: "confirm", Message: "must be the workspace's name, exactly"}}}
		}
		now := s.now().UTC()
		if err := r.Store.MarkWorkspaceDeleted(ctx, w.ID, now); err != nil {
			return err
		}
		if err := r.Events.Append(ctx, domain.Occurred(c, now, domain.WorkspaceDeleted{WorkspaceID: w.ID, Name: w.Name})); err != nil {
			return err
		}
		return r.Erasure.EnqueueErasure(ctx, w.ID)
	})
}

// ErasureStore is what erasing a deleted workspace needs of storage. Each call commits on
// its own, so an erasure that stops (a crash, a timeout) resumes where it was.
type ErasureStore interface {
	// ErasureState says whether the workspace is deleted and awaits erasure, already gone
	// (erased), or live.
	ErasureState(ctx context.Context, id domain.ID) (ErasureState, error)
	// Numbers lists the workspace's phone numbers with their sealed tokens.
	Numbers(ctx context.Context, workspaceID domain.ID) ([]domain.PhoneNumber, error)
	// WABAInUse reports whether a connected number of another workspace, not deleted,
	// uses the WABA.
	WABAInUse(ctx context.Context, wabaID string, except domain.ID) (bool, error)
	// DeleteNumber deletes a number's row, and with it its sealed token and PIN.
	DeleteNumber(ctx context.Context, workspaceID, id domain.ID) error
	// EraseRows deletes the workspace's rows from every table that holds them, in short
	// batches, but the record of its deletion (event and audit entry).
	EraseRows(ctx context.Context, workspaceID domain.ID) error
	// DeleteWorkspace deletes the row of a deleted workspace.
	DeleteWorkspace(ctx context.Context, id domain.ID) error
}

// ErasureState is where a workspace stands towards erasure.
type ErasureState int

const (
	NotDeleted      ErasureState = iota // live: never erased
	AwaitingErasure                     // deleted; its rows may remain
	Erased                              // its row is gone too
)

// Unsubscriber stops Meta sending a WABA's webhooks to our app. Failures are
// *domain.MetaError.
type Unsubscriber interface {
	UnsubscribeApp(ctx context.Context, token, wabaID string) error
}

// Opener opens sealed secrets.
type Opener interface {
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

// ErrNotDeleted refuses to erase a workspace that is not marked deleted.
var ErrNotDeleted = errors.New("workspace is not deleted")

// FileEraser deletes the stored files of a workspace (its media), all under one prefix.
type FileEraser interface {
	DeletePrefix(ctx context.Context, prefix string) error
}

// Eraser erases deleted workspaces.
type Eraser struct {
	store ErasureStore
	vault Opener
	graph Unsubscriber
	log   *slog.Logger
	files FileEraser
}

// WithFiles makes the erasure delete the workspace's media files too, before its rows.
func (e *Eraser) WithFiles(f FileEraser) *Eraser {
	e.files = f
	return e
}

// NewEraser returns the erasure use case.
func NewEraser(store ErasureStore, vault Opener, graph Unsubscriber, log *slog.Logger) *Eraser {
	return &Eraser{store: store, vault: vault, graph: graph, log: log}
}

// Erase removes what a deleted workspace left: its numbers are unsubscribed at Meta and
// deleted (their sealed tokens with them), then its rows, then the workspace itself. It
// may run again after any failure and carries on where the last run stopped. A transient
// Meta failure is returned to be retried, except on the last attempt: erasing the data
// matters more than the subscription, and webhooks of a number we no longer know are
// dropped anyway.
func (e *Eraser) Erase(ctx context.Context, ws domain.ID, lastAttempt bool) error {
	state, err := e.store.ErasureState(ctx, ws)
	switch {
	case err != nil:
		return err
	case state == Erased:
		return nil
	case state == NotDeleted:
		return fmt.Errorf("%w: %s", ErrNotDeleted, ws)
	}
	nums, err := e.store.Numbers(ctx, ws)
	if err != nil {
		return err
	}
	unsubscribed := map[string]bool{}
	for _, p := range nums {
		if !unsubscribed[p.WABAID] {
			if err := e.unsubscribe(ctx, p, lastAttempt); err != nil {
				return err
			}
			unsubscribed[p.WABAID] = true
		}
		if err := e.store.DeleteNumber(ctx, ws, p.ID); err != nil {
			return err
		}
	}
	if e.files != nil {
		if err := e.files.DeletePrefix(ctx, domain.MediaPrefix(ws)); err != nil {
			return fmt.Errorf("erase media files: %w", err)
		}
	}
	if err := e.store.EraseRows(ctx, ws); err != nil {
		return err
	}
	return e.store.DeleteWorkspace(ctx, ws)
}

// unsubscribe removes our app from the number's WABA, unless another workspace still
// receives that WABA's webhooks. Meta's answers that mean there is nothing (left) to undo
// with this token (the WABA gone, the token invalid or without permission) end it.
func (e *Eraser) unsubscribe(ctx context.Context, p domain.PhoneNumber, lastAttempt bool) error {
	shared, err := e.store.WABAInUse(ctx, p.WABAID, p.WorkspaceID)
	if err != nil || shared {
		return err
	}
	token, err := e.vault.Open(ctx, p.Token, domain.SecretBinding{WorkspaceID: p.WorkspaceID,
		Purpose: domain.PurposeAccessToken, PhoneNumberID: p.PhoneNumberID})
	if err == nil {
		err = e.graph.UnsubscribeApp(ctx, string(token), p.WABAID)
	} else {
		err = fmt.Errorf("open token: %w", err)
	}
	var me *domain.MetaError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me) && (me.Class == domain.MetaFinal || me.Class == domain.MetaAuth || me.Class == domain.MetaStop):
		e.log.InfoContext(ctx, "app left subscribed: Meta refused the unsubscribe for good", "workspace_id", p.WorkspaceID,
			"waba_id", p.WABAID, "code", me.Code)
		return nil
	case lastAttempt:
		e.log.WarnContext(ctx, "app left subscribed: the unsubscribe kept failing", "workspace_id", p.WorkspaceID,
			"waba_id", p.WABAID, "err", err)
		return nil
	}
	return err
}
