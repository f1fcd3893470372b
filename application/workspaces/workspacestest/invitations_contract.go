package workspacestest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// RunInvitationsContract holds a workspaces.Invitations (and its TxRunner's Invitations) to
// what the port promises. newSubject returns a fresh, empty store for each sub-test.
func RunInvitationsContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var seq atomic.Int64 // sub-tests run in parallel
	next := func() time.Time { return at.Add(time.Duration(seq.Add(1)) * time.Second) }
	workspace := func(t *testing.T, s workspaces.Store) domain.ID {
		t.Helper()
		ts := next()
		w := domain.Workspace{ID: domain.NewID(), Name: "Acme", Plan: domain.PlanFree, CreatedAt: ts, UpdatedAt: ts}
		require.NoError(t, s.CreateWorkspace(ctx, w))
		return w.ID
	}
	// invite stores an invitation to email and returns it with its token's hash.
	invite := func(t *testing.T, inv workspaces.Invitations, ws domain.ID, email string, role access.Role) (domain.Invitation, []byte) {
		t.Helper()
		_, hash := domain.NewSecret(domain.InvitationTokenPrefix)
		ts := next()
		i := domain.Invitation{ID: domain.NewID(), WorkspaceID: ws, Email: email, Role: role, InvitedBy: domain.NewID(),
			CreatedAt: ts, ExpiresAt: ts.Add(domain.InvitationTTL)}
		require.NoError(t, inv.CreateInvitation(ctx, i, hash))
		return i, hash
	}
	byToken := func(t *testing.T, inv workspaces.Invitations, hash []byte) domain.Invitation {
		t.Helper()
		got, err := inv.InvitationByToken(ctx, hash)
		require.NoError(t, err)
		return utcInvitation(got)
	}
	listIDs := func(t *testing.T, inv workspaces.Invitations, ws, before domain.ID, limit int) []domain.ID {
		t.Helper()
		is, err := inv.Invitations(ctx, ws, before, limit)
		require.NoError(t, err)
		ids := []domain.ID{}
		for _, i := range is {
			require.Equal(t, ws, i.WorkspaceID)
			ids = append(ids, i.ID)
		}
		return ids
	}
	notFound := func(t *testing.T, err error, msg string) {
		t.Helper()
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%s: %v", msg, err)
	}

	t.Run("InvitationReadsBackByTokenIDAndEmail", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := workspace(t, sub.Store), workspace(t, sub.Store)
		i, hash := invite(t, sub.Invitations, ws, "ann@example.com", access.Manager)
		require.Equal(t, i, byToken(t, sub.Invitations, hash))

		got, err := sub.Invitations.OpenInvitation(ctx, ws, i.ID)
		require.NoError(t, err)
		require.Equal(t, i, utcInvitation(got))
		got, err = sub.Invitations.OpenInvitationFor(ctx, ws, "ann@example.com")
		require.NoError(t, err)
		require.Equal(t, i, utcInvitation(got))

		_, err = sub.Invitations.OpenInvitation(ctx, other, i.ID)
		notFound(t, err, "through another workspace")
		_, err = sub.Invitations.OpenInvitationFor(ctx, other, "ann@example.com")
		notFound(t, err, "by email in another workspace")
		_, err = sub.Invitations.OpenInvitationFor(ctx, ws, "bob@example.com")
		notFound(t, err, "another email")
		_, err = sub.Invitations.InvitationByToken(ctx, domain.HashSecret("wiv_unknown"))
		notFound(t, err, "an unknown token")
	})

	t.Run("OneOpenInvitationPerEmailAndWorkspace", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := workspace(t, sub.Store), workspace(t, sub.Store)
		first, _ := invite(t, sub.Invitations, ws, "ann@example.com", access.Agent)
		_, hash := domain.NewSecret(domain.InvitationTokenPrefix)
		dup := first
		dup.ID = domain.NewID()
		err := sub.Invitations.CreateInvitation(ctx, dup, hash)
		require.Equal(t, domain.KindConflict, domain.KindOf(err), "a second open one: %v", err)
		invite(t, sub.Invitations, other, "ann@example.com", access.Agent) // in another workspace
		require.NoError(t, sub.Invitations.RevokeInvitation(ctx, ws, first.ID, next()))
		invite(t, sub.Invitations, ws, "ann@example.com", access.Viewer) // once the first is closed
	})

	t.Run("ListNewestFirstWithoutClosedOnes", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := workspace(t, sub.Store), workspace(t, sub.Store)
		var invs []domain.Invitation
		for range 5 {
			i, _ := invite(t, sub.Invitations, ws, domain.NewID().String()+"@example.com", access.Agent)
			invs = append(invs, i)
		}
		slices.SortFunc(invs, func(a, b domain.Invitation) int { return bytes.Compare(b.ID[:], a.ID[:]) }) // newest first
		o, _ := invite(t, sub.Invitations, other, "ann@example.com", access.Agent)
		require.NoError(t, sub.Invitations.RevokeInvitation(ctx, ws, invs[1].ID, next()))
		require.NoError(t, sub.Invitations.AcceptInvitation(ctx, ws, invs[3].ID, domain.NewID(), next()))
		ids := func(is ...domain.Invitation) []domain.ID {
			out := []domain.ID{}
			for _, i := range is {
				out = append(out, i.ID)
			}
			return out
		}
		require.Equal(t, ids(invs[0], invs[2], invs[4]), listIDs(t, sub.Invitations, ws, domain.NilID, 10), "accepted and revoked left out")
		require.Equal(t, ids(invs[0], invs[2]), listIDs(t, sub.Invitations, ws, domain.NilID, 2), "limit")
		require.Equal(t, ids(invs[2], invs[4]), listIDs(t, sub.Invitations, ws, invs[0].ID, 10), "below before")
		require.Equal(t, ids(invs[2], invs[4]), listIDs(t, sub.Invitations, ws, invs[1].ID, 10), "a closed one is still a cursor")
		require.Empty(t, listIDs(t, sub.Invitations, ws, invs[4].ID, 10))
		require.Equal(t, ids(o), listIDs(t, sub.Invitations, other, domain.NilID, 10), "in its workspace only")

		got, err := sub.Invitations.Invitations(ctx, ws, domain.NilID, 1)
		require.NoError(t, err)
		require.Equal(t, []domain.Invitation{invs[0]}, []domain.Invitation{utcInvitation(got[0])}, "invitations in full")
	})

	t.Run("RevokeAndAcceptCloseOnce", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws, other := workspace(t, sub.Store), workspace(t, sub.Store)
		r, rHash := invite(t, sub.Invitations, ws, "ann@example.com", access.Agent)
		a, aHash := invite(t, sub.Invitations, ws, "bob@example.com", access.Viewer)

		notFound(t, sub.Invitations.RevokeInvitation(ctx, other, r.ID, next()), "revoked through another workspace")
		notFound(t, sub.Invitations.AcceptInvitation(ctx, other, a.ID, domain.NewID(), next()), "accepted through another workspace")
		require.Equal(t, r, byToken(t, sub.Invitations, rHash), "which did nothing")

		revokedAt := next()
		require.NoError(t, sub.Invitations.RevokeInvitation(ctx, ws, r.ID, revokedAt))
		userID, acceptedAt := domain.NewID(), next()
		require.NoError(t, sub.Invitations.AcceptInvitation(ctx, ws, a.ID, userID, acceptedAt))

		wantR := r
		wantR.RevokedAt = &revokedAt
		require.Equal(t, wantR, byToken(t, sub.Invitations, rHash), "a revoked token still finds its invitation")
		wantA := a
		wantA.AcceptedAt, wantA.AcceptedBy = &acceptedAt, &userID
		require.Equal(t, wantA, byToken(t, sub.Invitations, aHash), "an accepted one too, with who accepted")

		for _, id := range []domain.ID{r.ID, a.ID, domain.NewID()} {
			notFound(t, sub.Invitations.RevokeInvitation(ctx, ws, id, next()), "revoke once")
			notFound(t, sub.Invitations.AcceptInvitation(ctx, ws, id, userID, next()), "accept once")
			_, err := sub.Invitations.OpenInvitation(ctx, ws, id)
			notFound(t, err, "no longer open")
		}
		_, err := sub.Invitations.OpenInvitationFor(ctx, ws, "ann@example.com")
		notFound(t, err, "no longer open by email")
	})

	t.Run("AnExpiredInvitationStaysOpenUntilClosed", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := workspace(t, sub.Store)
		_, hash := domain.NewSecret(domain.InvitationTokenPrefix)
		old := domain.Invitation{ID: domain.NewID(), WorkspaceID: ws, Email: "ann@example.com", Role: access.Agent,
			InvitedBy: domain.NewID(), CreatedAt: at.Add(-30 * 24 * time.Hour), ExpiresAt: at.Add(-23 * 24 * time.Hour)}
		require.NoError(t, sub.Invitations.CreateInvitation(ctx, old, hash))
		require.Equal(t, []domain.ID{old.ID}, listIDs(t, sub.Invitations, ws, domain.NilID, 10), "listed: the use case says it expired")
		got, err := sub.Invitations.OpenInvitationFor(ctx, ws, "ann@example.com")
		require.NoError(t, err)
		require.Equal(t, old, utcInvitation(got))
	})

	t.Run("ATransactionSeesAndRollsBackItsInvitations", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ws := workspace(t, sub.Store)
		_, hash := domain.NewSecret(domain.InvitationTokenPrefix)
		ts := next()
		i := domain.Invitation{ID: domain.NewID(), WorkspaceID: ws, Email: "ann@example.com", Role: access.Agent,
			InvitedBy: domain.NewID(), CreatedAt: ts, ExpiresAt: ts.Add(domain.InvitationTTL)}
		boom := errors.New("boom")
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			require.NoError(t, r.Invitations.CreateInvitation(ctx, i, hash))
			got, err := r.Invitations.InvitationByToken(ctx, hash)
			require.NoError(t, err, "a transaction reads its own writes")
			require.Equal(t, i, utcInvitation(got))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = sub.Invitations.InvitationByToken(ctx, hash)
		notFound(t, err, "rolled back")
	})
}

func utcInvitation(i domain.Invitation) domain.Invitation {
	i.CreatedAt, i.ExpiresAt = i.CreatedAt.UTC(), i.ExpiresAt.UTC()
	for _, p := range []**time.Time{&i.AcceptedAt, &i.RevokedAt} {
		if *p != nil {
			v := (*p).UTC()
			*p = &v
		}
	}
	return i
}
