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

// Subject is a workspaces store under the contract, with its transaction runner and what
// the contract needs to set up around it.
type Subject struct {
	Tx          workspaces.TxRunner
	Store       workspaces.Store
	Invitations workspaces.Invitations
	// User signs up u (the Store has no port for it).
	User func(t *testing.T, u domain.User)
}

// NewSubject returns the Memory store as a contract subject.
func NewSubject(db *Memory) Subject {
	return Subject{Tx: db, Store: db.Store(), Invitations: db.Invitations(), User: func(_ *testing.T, u domain.User) { db.AddUser(u) }}
}

// RunStoreContract holds a workspaces.Store and its TxRunner to what the ports promise.
// newSubject returns a fresh, empty store for each sub-test.
func RunStoreContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var seq atomic.Int64 // sub-tests run in parallel
	next := func() time.Time { return at.Add(time.Duration(seq.Add(1)) * time.Second) }
	workspace := func(t *testing.T, s workspaces.Store, name string) domain.Workspace {
		t.Helper()
		ts := next()
		w := domain.Workspace{ID: domain.NewID(), Name: name, Plan: domain.PlanFree, CreatedAt: ts, UpdatedAt: ts}
		require.NoError(t, s.CreateWorkspace(ctx, w))
		return w
	}
	user := func(t *testing.T, sub Subject, email string) domain.User {
		t.Helper()
		u := domain.User{ID: domain.NewID(), Email: email, Name: "Name of " + email, PasswordHash: "h", CreatedAt: next()}
		sub.User(t, u)
		return u
	}
	// users signs up n users, returned by id ascending.
	users := func(t *testing.T, sub Subject, n int) []domain.User {
		t.Helper()
		var out []domain.User
		for range n {
			out = append(out, user(t, sub, domain.NewID().String()+"@example.com"))
		}
		slices.SortFunc(out, func(a, b domain.User) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		return out
	}
	apiKey := func(t *testing.T, s workspaces.Store, ws domain.ID, role access.Role) domain.APIKey {
		t.Helper()
		_, hash := domain.NewAPIKeySecret()
		k := domain.APIKey{ID: domain.NewID(), WorkspaceID: ws, Name: "key", Role: role, Hash: hash, CreatedBy: domain.NewID(), CreatedAt: next()}
		require.NoError(t, s.CreateAPIKey(ctx, k))
		return k
	}
	member := func(t *testing.T, s workspaces.Store, ws, userID domain.ID) domain.Member {
		t.Helper()
		m, err := s.Member(ctx, ws, userID)
		require.NoError(t, err)
		return utcMember(m)
	}
	memberIDs := func(t *testing.T, s workspaces.Store, ws, after domain.ID, limit int) []domain.ID {
		t.Helper()
		ms, err := s.Members(ctx, ws, after, limit)
		require.NoError(t, err)
		ids := []domain.ID{}
		for _, m := range ms {
			require.Equal(t, ws, m.WorkspaceID)
			ids = append(ids, m.UserID)
		}
		return ids
	}
	keyIDs := func(t *testing.T, s workspaces.Store, ws, before domain.ID, limit int) []domain.ID {
		t.Helper()
		ks, err := s.APIKeys(ctx, ws, before, limit)
		require.NoError(t, err)
		ids := []domain.ID{}
		for _, k := range ks {
			require.Equal(t, ws, k.WorkspaceID)
			require.Nil(t, k.Hash, "lists never carry the hash")
			ids = append(ids, k.ID)
		}
		return ids
	}

	t.Run("WorkspaceReadsBackAndUpdates", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w := workspace(t, sub.Store, "Acme")
		got, err := sub.Store.Workspace(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, w, utcWorkspace(got))

		changed := w
		changed.Name, changed.Plan, changed.UpdatedAt = "Acme Ltd", domain.PlanEnterprise, w.UpdatedAt.Add(time.Hour)
		changed.CreatedAt = w.CreatedAt.Add(time.Minute)
		require.NoError(t, sub.Store.UpdateWorkspace(ctx, changed))
		got, err = sub.Store.Workspace(ctx, w.ID)
		require.NoError(t, err)
		want := changed
		want.CreatedAt = w.CreatedAt
		require.Equal(t, want, utcWorkspace(got), "name, plan and update time are written; the creation time stays")

		_, err = sub.Store.Workspace(ctx, domain.NewID())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "an unknown workspace: %v", err)
		absent := domain.Workspace{ID: domain.NewID(), Name: "Ghost", Plan: domain.PlanFree, CreatedAt: at, UpdatedAt: at}
		require.NoError(t, sub.Store.UpdateWorkspace(ctx, absent), "an absent workspace is no error")
		_, err = sub.Store.Workspace(ctx, absent.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "and UpdateWorkspace does not create it: %v", err)
	})

	t.Run("UserByEmailIgnoresCase", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		u := user(t, sub, "Ann@Example.com")
		user(t, sub, "bob@example.com")
		for _, email := range []string{"Ann@Example.com", "ann@example.com", "ANN@EXAMPLE.COM"} {
			got, err := sub.Store.UserByEmail(ctx, email)
			require.NoError(t, err, email)
			require.Equal(t, u.ID, got.ID, email)
			require.Equal(t, "Ann@Example.com", got.Email, "the email as stored")
			require.Equal(t, u.Name, got.Name)
		}
		for _, email := range []string{"ann@example.org", "ann", "", "%@example.com"} {
			_, err := sub.Store.UserByEmail(ctx, email)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%q: %v", email, err)
		}
	})

	t.Run("AddMemberOnce", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Other")
		u := user(t, sub, "ann@example.com")
		joined := next()
		require.NoError(t, sub.Store.AddMember(ctx, w.ID, u.ID, access.Agent, joined))
		want := domain.Member{WorkspaceID: w.ID, UserID: u.ID, Email: u.Email, Name: u.Name, Role: access.Agent, CreatedAt: joined}
		require.Equal(t, want, member(t, sub.Store, w.ID, u.ID))

		err := sub.Store.AddMember(ctx, w.ID, u.ID, access.Owner, next())
		require.Equal(t, domain.KindConflict, domain.KindOf(err), "a second membership: %v", err)
		require.Equal(t, want, member(t, sub.Store, w.ID, u.ID), "the second did not change the first")

		_, err = sub.Store.Member(ctx, other.ID, u.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "not a member there: %v", err)
		require.NoError(t, sub.Store.AddMember(ctx, other.ID, u.ID, access.Owner, joined), "a member of two workspaces")
		require.Equal(t, access.Owner, member(t, sub.Store, other.ID, u.ID).Role)
		require.Equal(t, access.Agent, member(t, sub.Store, w.ID, u.ID).Role)

		err = sub.Store.AddMember(ctx, w.ID, domain.NewID(), access.Agent, joined)
		require.Error(t, err, "an unknown user")
		require.NotEqual(t, domain.KindConflict, domain.KindOf(err))
	})

	t.Run("MembersPageByUserIDAscending", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Other")
		us := users(t, sub, 5)
		for i := range us { // joined in the reverse order of their ids: the list follows the id
			require.NoError(t, sub.Store.AddMember(ctx, w.ID, us[len(us)-1-i].ID, access.Agent, next()))
		}
		require.NoError(t, sub.Store.AddMember(ctx, other.ID, us[2].ID, access.Owner, next()))
		ids := func(from int) []domain.ID {
			out := []domain.ID{}
			for _, u := range us[from:] {
				out = append(out, u.ID)
			}
			return out
		}
		require.Equal(t, ids(0), memberIDs(t, sub.Store, w.ID, domain.NilID, 10), "from the first")
		require.Equal(t, ids(0)[:2], memberIDs(t, sub.Store, w.ID, domain.NilID, 2), "limit")
		require.Equal(t, ids(2)[:2], memberIDs(t, sub.Store, w.ID, us[1].ID, 2), "above after")
		require.Empty(t, memberIDs(t, sub.Store, w.ID, us[4].ID, 10), "past the last")
		require.Equal(t, []domain.ID{us[2].ID}, memberIDs(t, sub.Store, other.ID, domain.NilID, 10), "in its workspace only")
		require.Empty(t, memberIDs(t, sub.Store, domain.NewID(), domain.NilID, 10))

		require.NoError(t, sub.Store.RemoveMember(ctx, w.ID, us[1].ID))
		require.Equal(t, ids(2), memberIDs(t, sub.Store, w.ID, us[1].ID, 10), "a gone member is still a cursor")
		ms, err := sub.Store.Members(ctx, w.ID, domain.NilID, 1)
		require.NoError(t, err)
		require.Equal(t, []domain.Member{member(t, sub.Store, w.ID, us[0].ID)}, []domain.Member{utcMember(ms[0])}, "members in full")
	})

	t.Run("SetMemberRoleAndRemoveMember", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Other")
		us := users(t, sub, 2)
		for _, u := range us {
			require.NoError(t, sub.Store.AddMember(ctx, w.ID, u.ID, access.Agent, next()))
			require.NoError(t, sub.Store.AddMember(ctx, other.ID, u.ID, access.Agent, next()))
		}
		require.NoError(t, sub.Store.SetMemberRole(ctx, w.ID, us[0].ID, access.Manager))
		require.Equal(t, access.Manager, member(t, sub.Store, w.ID, us[0].ID).Role)
		require.Equal(t, access.Agent, member(t, sub.Store, other.ID, us[0].ID).Role, "only that membership")
		require.Equal(t, access.Agent, member(t, sub.Store, w.ID, us[1].ID).Role)

		stranger := user(t, sub, "stranger@example.com")
		require.NoError(t, sub.Store.SetMemberRole(ctx, w.ID, stranger.ID, access.Owner), "an absent membership is no error")
		_, err := sub.Store.Member(ctx, w.ID, stranger.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "and SetMemberRole does not create it: %v", err)

		require.NoError(t, sub.Store.RemoveMember(ctx, w.ID, us[0].ID))
		_, err = sub.Store.Member(ctx, w.ID, us[0].ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "removed: %v", err)
		member(t, sub.Store, other.ID, us[0].ID)
		member(t, sub.Store, w.ID, us[1].ID)
		require.NoError(t, sub.Store.RemoveMember(ctx, w.ID, us[0].ID), "an absent membership is no error")
	})

	t.Run("LockOwnersCountsTheWorkspacesOwners", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Other")
		for i, r := range []access.Role{access.Owner, access.Owner, access.Manager, access.Agent, access.Viewer} {
			u := user(t, sub, domain.NewID().String()+"@example.com")
			require.NoError(t, sub.Store.AddMember(ctx, w.ID, u.ID, r, next()))
			if i < 3 {
				require.NoError(t, sub.Store.AddMember(ctx, other.ID, u.ID, access.Owner, next()))
			}
		}
		count := func(ws domain.ID) (n int) {
			t.Helper()
			require.NoError(t, sub.Tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
				var err error
				n, err = r.Store.LockOwners(ctx, ws)
				return err
			}))
			return n
		}
		require.Equal(t, 2, count(w.ID))
		require.Equal(t, 3, count(other.ID))
		require.Zero(t, count(domain.NewID()))
	})

	t.Run("APIKeysNewestFirstWithoutRevokedOnes", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Other")
		var keys []domain.APIKey
		for _, r := range []access.Role{access.Owner, access.Manager, access.Agent, access.Viewer, access.Agent} {
			keys = append(keys, apiKey(t, sub.Store, w.ID, r))
		}
		slices.SortFunc(keys, func(a, b domain.APIKey) int { return bytes.Compare(b.ID[:], a.ID[:]) }) // newest first
		otherKey := apiKey(t, sub.Store, other.ID, access.Owner)
		require.NoError(t, sub.Store.RevokeAPIKey(ctx, w.ID, keys[2].ID, next()))
		ids := func(ks ...domain.APIKey) []domain.ID {
			out := []domain.ID{}
			for _, k := range ks {
				out = append(out, k.ID)
			}
			return out
		}
		require.Equal(t, ids(keys[0], keys[1], keys[3], keys[4]), keyIDs(t, sub.Store, w.ID, domain.NilID, 10), "revoked left out")
		require.Equal(t, ids(keys[0], keys[1]), keyIDs(t, sub.Store, w.ID, domain.NilID, 2), "limit")
		require.Equal(t, ids(keys[3], keys[4]), keyIDs(t, sub.Store, w.ID, keys[1].ID, 10), "below before")
		require.Equal(t, ids(keys[3], keys[4]), keyIDs(t, sub.Store, w.ID, keys[2].ID, 10), "a revoked key is still a cursor")
		require.Equal(t, ids(keys[4]), keyIDs(t, sub.Store, w.ID, keys[3].ID, 1))
		require.Empty(t, keyIDs(t, sub.Store, w.ID, keys[4].ID, 10))
		require.Equal(t, ids(otherKey), keyIDs(t, sub.Store, other.ID, domain.NilID, 10), "in its workspace only")

		got, err := sub.Store.APIKeys(ctx, w.ID, domain.NilID, 1)
		require.NoError(t, err)
		want := keys[0]
		want.Hash = nil
		require.Equal(t, []domain.APIKey{want}, []domain.APIKey{utcKey(got[0])}, "keys in full, without their hash")
	})

	t.Run("RevokeAPIKeyOnce", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Other")
		k := apiKey(t, sub.Store, w.ID, access.Agent)
		err := sub.Store.RevokeAPIKey(ctx, other.ID, k.ID, next())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "through another workspace: %v", err)
		require.Equal(t, []domain.ID{k.ID}, keyIDs(t, sub.Store, w.ID, domain.NilID, 10), "which did nothing")
		require.NoError(t, sub.Store.RevokeAPIKey(ctx, w.ID, k.ID, next()))
		require.Empty(t, keyIDs(t, sub.Store, w.ID, domain.NilID, 10))
		err = sub.Store.RevokeAPIKey(ctx, w.ID, k.ID, next())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "already revoked: %v", err)
		err = sub.Store.RevokeAPIKey(ctx, w.ID, domain.NewID(), next())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "absent: %v", err)
	})

	// A transaction keeps its work only when its function returns nil.
	t.Run("MarkWorkspaceDeletedHidesItAndRemovesItsCredentials", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := workspace(t, sub.Store, "Acme"), workspace(t, sub.Store, "Globex")
		u := user(t, sub, domain.NewID().String()+"@example.com")
		for _, ws := range []domain.ID{w.ID, other.ID} {
			require.NoError(t, sub.Store.AddMember(ctx, ws, u.ID, access.Owner, next()))
			apiKey(t, sub.Store, ws, access.Manager)
		}
		got, err := sub.Store.LockWorkspace(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, w, utcWorkspace(got))

		require.NoError(t, sub.Store.MarkWorkspaceDeleted(ctx, w.ID, next()))
		_, err = sub.Store.Workspace(ctx, w.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "a deleted workspace is not found: %v", err)
		_, err = sub.Store.LockWorkspace(ctx, w.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "nor locked: %v", err)
		require.Empty(t, memberIDs(t, sub.Store, w.ID, domain.NilID, 10), "its memberships are gone")
		require.Empty(t, keyIDs(t, sub.Store, w.ID, domain.NilID, 10), "its API keys are gone")

		_, err = sub.Store.Workspace(ctx, other.ID)
		require.NoError(t, err, "another workspace stays")
		require.Equal(t, []domain.ID{u.ID}, memberIDs(t, sub.Store, other.ID, domain.NilID, 10))
		require.Len(t, keyIDs(t, sub.Store, other.ID, domain.NilID, 10), 1)
	})

	t.Run("ATransactionCommitsOrRollsBack", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		u := user(t, sub, "ann@example.com")
		ts := next()
		w := domain.Workspace{ID: domain.NewID(), Name: "Acme", Plan: domain.PlanFree, CreatedAt: ts, UpdatedAt: ts}
		caller := domain.Caller{Type: domain.ActorUser, ID: u.ID, WorkspaceID: w.ID, Role: access.Owner}
		boom := errors.New("boom")
		work := func(ctx context.Context, r workspaces.Repos) error {
			if err := r.Store.CreateWorkspace(ctx, w); err != nil {
				return err
			}
			if err := r.Store.AddMember(ctx, w.ID, u.ID, access.Owner, ts); err != nil {
				return err
			}
			n, err := r.Store.LockOwners(ctx, w.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n, "a transaction reads its own writes")
			return r.Events.Append(ctx, domain.Occurred(caller, ts, domain.WorkspaceCreated{WorkspaceID: w.ID, Name: w.Name, Plan: w.Plan}))
		}
		err := sub.Tx.InTx(ctx, func(ctx context.Context, r workspaces.Repos) error {
			if err := work(ctx, r); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = sub.Store.Workspace(ctx, w.ID)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "rolled back: %v", err)

		require.NoError(t, sub.Tx.InTx(ctx, work))
		got, err := sub.Store.Workspace(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, w, utcWorkspace(got))
		require.Equal(t, access.Owner, member(t, sub.Store, w.ID, u.ID).Role)
	})
}

func utcWorkspace(w domain.Workspace) domain.Workspace {
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return w
}

func utcMember(m domain.Member) domain.Member {
	m.CreatedAt = m.CreatedAt.UTC()
	return m
}

func utcKey(k domain.APIKey) domain.APIKey {
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		r := k.RevokedAt.UTC()
		k.RevokedAt = &r
	}
	return k
}
