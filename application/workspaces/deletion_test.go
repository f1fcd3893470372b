package workspaces_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("MarksRemovesCredentialsRecordsAndQueuesTheErasure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key, err := b.svc.CreateAPIKey(ctx, b.as(b.owner, access.Owner), "ci", "viewer")
		require.NoError(t, err)

		require.NoError(t, b.svc.Delete(ctx, b.as(b.owner, access.Owner), "Acme"))
		s := b.db.Snapshot()
		require.False(t, s.Deleted[b.ws].IsZero(), "marked deleted")
		require.Contains(t, s.Workspaces, b.ws, "the row stays for the erasure")
		require.Empty(t, s.Members, "no member reaches it")
		require.NotContains(t, s.Keys, key.ID, "no API key reaches it")
		require.Equal(t, []domain.ID{b.ws}, s.Erasures)
		e := s.Audit[len(s.Audit)-1]
		require.Equal(t, "workspace.deleted", e.Action)
		require.Equal(t, b.ws, e.WorkspaceID)
		require.Equal(t, b.ws.String(), e.ResourceID)
		require.Equal(t, b.owner.ID.String(), e.ActorID)
		require.Equal(t, "192.0.2.9", e.IP)
		require.Equal(t, map[string]any{"name": "Acme"}, e.Details)

		_, err = b.svc.Get(ctx, b.as(b.owner, access.Owner))
		requireKind(t, domain.KindNotFound, err)
		err = b.svc.Delete(ctx, b.as(b.owner, access.Owner), "Acme")
		requireKind(t, domain.KindNotFound, err)
		require.Len(t, b.db.Snapshot().Erasures, 1, "a second delete queues nothing")
	})

	t.Run("ConfirmMustBeTheNameExactly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, confirm := range []string{"", "acme", " Acme", "Acme ", "Globex"} {
			err := b.svc.Delete(ctx, b.as(b.owner, access.Owner), confirm)
			var de *domain.Error
			require.ErrorAs(t, err, &de, "%q", confirm)
			require.Equal(t, domain.KindValidation, de.Kind)
			require.Equal(t, "confirm", de.Fields[0].Field)
		}
		require.Empty(t, b.db.Snapshot().Deleted)
	})

	t.Run("OwnersOnlyAndNotTheirAPIKeys", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for u, r := range map[domain.User]access.Role{b.manager: access.Manager, b.agent: access.Agent, b.viewer: access.Viewer} {
			requireKind(t, domain.KindForbidden, b.svc.Delete(ctx, b.as(u, r), "Acme"))
		}
		key := domain.Caller{Type: domain.ActorAPIKey, ID: domain.NewID(), WorkspaceID: b.ws, Role: access.Owner}
		requireKind(t, domain.KindForbidden, b.svc.Delete(ctx, key, "Acme"))
		require.Empty(t, b.db.Snapshot().Deleted)
	})

	t.Run("RollsBackWhenTheEventFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("event insert failed")
		b.db.FailEvents(boom)
		require.ErrorIs(t, b.svc.Delete(ctx, b.as(b.owner, access.Owner), "Acme"), boom)
		s := b.db.Snapshot()
		require.Empty(t, s.Deleted)
		require.Len(t, s.Members, 4)
		require.Empty(t, s.Erasures)
	})
}

// erasureFake is the storage, vault and Meta of an erasure.
type erasureFake struct {
	mu      sync.Mutex
	state   workspaces.ErasureState
	numbers []domain.PhoneNumber
	inUse   map[string]bool // WABAs another workspace uses
	rows    int             // the workspace's other rows
	// metaErrs are the answers of successive unsubscribe calls (nil: success).
	metaErrs []error
	openErr  error
	calls    []string // "unsubscribe <waba>", "delete number <id>", "erase rows", "delete workspace"
}

func (f *erasureFake) record(s string) { f.calls = append(f.calls, s) }

func (f *erasureFake) ErasureState(context.Context, domain.ID) (workspaces.ErasureState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *erasureFake) Numbers(context.Context, domain.ID) ([]domain.PhoneNumber, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.numbers), nil
}

func (f *erasureFake) WABAInUse(_ context.Context, waba string, _ domain.ID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inUse[waba], nil
}

func (f *erasureFake) DeleteNumber(_ context.Context, _, id domain.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.numbers = slices.DeleteFunc(f.numbers, func(p domain.PhoneNumber) bool { return p.ID == id })
	f.record("delete number " + id.String())
	return nil
}

func (f *erasureFake) EraseRows(context.Context, domain.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = 0
	f.record("erase rows")
	return nil
}

func (f *erasureFake) DeleteWorkspace(context.Context, domain.ID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = workspaces.Erased
	f.record("delete workspace")
	return nil
}

func (f *erasureFake) Open(_ context.Context, s domain.Sealed, _ domain.SecretBinding) ([]byte, error) {
	return s.Ciphertext, f.openErr
}

func (f *erasureFake) UnsubscribeApp(_ context.Context, token, waba string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("unsubscribe " + waba + " with " + token)
	if len(f.metaErrs) == 0 {
		return nil
	}
	err := f.metaErrs[0]
	f.metaErrs = f.metaErrs[1:]
	return err
}

func number(ws domain.ID, waba string) domain.PhoneNumber {
	id := domain.NewID()
	return domain.PhoneNumber{ID: id, WorkspaceID: ws, WABAID: waba, PhoneNumberID: "pn-" + id.String(),
		Token: domain.Sealed{Ciphertext: []byte("token-" + waba)}}
}

func TestErase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ws := domain.NewID()
	setup := func(nums ...domain.PhoneNumber) (*workspaces.Eraser, *erasureFake) {
		f := &erasureFake{state: workspaces.AwaitingErasure, numbers: nums, inUse: map[string]bool{}, rows: 10}
		return workspaces.NewEraser(f, f, f, slog.New(slog.NewTextHandler(io.Discard, nil))), f
	}
	transient := &domain.MetaError{Class: domain.MetaRetry, Code: 1, Title: "try again"}

	t.Run("UnsubscribesEachWABAOnceThenErasesEverything", func(t *testing.T) {
		t.Parallel()
		a, b, c := number(ws, "w1"), number(ws, "w1"), number(ws, "w2")
		e, f := setup(a, b, c)
		require.NoError(t, e.Erase(ctx, ws, false))
		require.Equal(t, []string{
			"unsubscribe w1 with token-w1", "delete number " + a.ID.String(), "delete number " + b.ID.String(),
			"unsubscribe w2 with token-w2", "delete number " + c.ID.String(), "erase rows", "delete workspace",
		}, f.calls)
		require.Empty(t, f.numbers)
		require.Zero(t, f.rows)

		f.calls = nil
		require.NoError(t, e.Erase(ctx, ws, false), "an erased workspace is done")
		require.Empty(t, f.calls)
	})

	t.Run("AWABAAnotherWorkspaceUsesStaysSubscribed", func(t *testing.T) {
		t.Parallel()
		p := number(ws, "shared")
		e, f := setup(p)
		f.inUse["shared"] = true
		require.NoError(t, e.Erase(ctx, ws, false))
		require.Equal(t, []string{"delete number " + p.ID.String(), "erase rows", "delete workspace"}, f.calls)
	})

	t.Run("FinalAnswersEndTheUnsubscribe", func(t *testing.T) {
		t.Parallel()
		for _, class := range []domain.MetaClass{domain.MetaFinal, domain.MetaAuth, domain.MetaStop} {
			e, f := setup(number(ws, "w"))
			f.metaErrs = []error{&domain.MetaError{Class: class, Code: 100}}
			require.NoError(t, e.Erase(ctx, ws, false), "class %v", class)
			require.Equal(t, workspaces.Erased, f.state)
		}
	})

	t.Run("ATransientFailureIsRetriedAndResumes", func(t *testing.T) {
		t.Parallel()
		a, b := number(ws, "w1"), number(ws, "w2")
		e, f := setup(a, b)
		f.metaErrs = []error{nil, transient}
		require.ErrorIs(t, e.Erase(ctx, ws, false), transient)
		require.Equal(t, []domain.PhoneNumber{b}, f.numbers, "the first number is gone; the second waits for its unsubscribe")
		require.Equal(t, 10, f.rows, "nothing else is erased before the numbers")

		f.calls = nil
		require.NoError(t, e.Erase(ctx, ws, false))
		require.Equal(t, []string{"unsubscribe w2 with token-w2", "delete number " + b.ID.String(), "erase rows", "delete workspace"}, f.calls,
			"the retry starts where the last run stopped")
	})

	t.Run("TheLastAttemptErasesWhatMetaWillNotUnsubscribe", func(t *testing.T) {
		t.Parallel()
		e, f := setup(number(ws, "w"))
		f.metaErrs = []error{transient}
		require.NoError(t, e.Erase(ctx, ws, true))
		require.Equal(t, workspaces.Erased, f.state)

		e, f = setup(number(ws, "w"))
		f.openErr = errors.New("kms unreachable")
		require.ErrorIs(t, e.Erase(ctx, ws, false), f.openErr)
		require.NoError(t, e.Erase(ctx, ws, true))
		require.Empty(t, f.numbers)
	})

	t.Run("RefusesALiveWorkspace", func(t *testing.T) {
		t.Parallel()
		e, f := setup(number(ws, "w"))
		f.state = workspaces.NotDeleted
		require.ErrorIs(t, e.Erase(ctx, ws, true), workspaces.ErrNotDeleted)
		require.Empty(t, f.calls)
		require.Len(t, f.numbers, 1)
	})
}
