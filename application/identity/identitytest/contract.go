package identitytest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Subject is an identity.Users under the contract, with what the contract needs to set up
// around it: the port creates users only.
type Subject struct {
	Users identity.Users
	// Sessions is the store's identity.Sessions, for RunSessionsContract.
	Sessions identity.Sessions
	// Workspace creates a workspace named name and returns its id.
	Workspace func(t *testing.T, name string) domain.ID
	// Member makes an existing user a member of ws, joined at at.
	Member func(t *testing.T, ws, userID domain.ID, role access.Role, at time.Time)
	// APIKey stores k, revoked when k.RevokedAt is set.
	APIKey func(t *testing.T, k domain.APIKey)
	// DeleteWorkspace marks a workspace deleted (its rows stay until they are erased).
	DeleteWorkspace func(t *testing.T, id domain.ID)
	// RevokedReason reads why a session was revoked ("" when it is not).
	RevokedReason func(t *testing.T, sessionID domain.ID) string
}

// NewSubject returns the Memory store as a contract subject.
func NewSubject(db *Memory) Subject {
	return Subject{Users: db, Sessions: db,
		Workspace: func(_ *testing.T, name string) domain.ID {
			id := domain.NewID()
			db.AddWorkspace(id, name)
			return id
		},
		Member: func(_ *testing.T, ws, userID domain.ID, role access.Role, at time.Time) {
			db.AddMember(ws, userID, role, at)
		},
		APIKey:          func(_ *testing.T, k domain.APIKey) { db.AddAPIKey(k) },
		DeleteWorkspace: func(_ *testing.T, id domain.ID) { db.DeleteWorkspace(id) },
		RevokedReason: func(_ *testing.T, id domain.ID) string {
			_, reason := db.SessionRevoked(id)
			return reason
		},
	}
}

// RunUsersContract holds an identity.Users to what the port promises. newSubject returns a
// fresh, empty store for each sub-test.
func RunUsersContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var seq atomic.Int64 // sub-tests run in parallel
	next := func() time.Time { return at.Add(time.Duration(seq.Add(1)) * time.Second) }
	newUser := func(email string) domain.User {
		return domain.User{ID: domain.NewID(), Email: email, Name: "Name of " + email, PasswordHash: "hash of " + email, CreatedAt: next()}
	}
	user := func(t *testing.T, sub Subject, email string) domain.User {
		t.Helper()
		u := newUser(email)
		require.NoError(t, sub.Users.CreateUser(ctx, u))
		return u
	}
	byID := func(t *testing.T, sub Subject, id domain.ID) domain.User {
		t.Helper()
		got, err := sub.Users.UserByID(ctx, id)
		require.NoError(t, err)
		return utcUser(got)
	}

	t.Run("UsersReadBackByIDAndEmail", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann := user(t, sub, "Ann@Example.com")
		bob := user(t, sub, "bob@example.com")
		require.Equal(t, ann, byID(t, sub, ann.ID))
		require.Equal(t, bob, byID(t, sub, bob.ID))
		for _, email := range []string{"Ann@Example.com", "ann@example.com", "ANN@EXAMPLE.COM"} {
			got, err := sub.Users.UserByEmail(ctx, email)
			require.NoError(t, err, email)
			require.Equal(t, ann, utcUser(got), "%s: the user as stored", email)
		}

		_, err := sub.Users.UserByID(ctx, domain.NewID())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "an unknown id: %v", err)
		for _, email := range []string{"ann@example.org", "ann", "", "%@example.com", "_nn@example.com"} {
			_, err := sub.Users.UserByEmail(ctx, email)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%q: %v", email, err)
		}
	})

	t.Run("CreateUserRefusesATakenEmailInAnyCase", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann := user(t, sub, "ann@example.com")
		for _, email := range []string{"ann@example.com", "ANN@Example.COM"} {
			dup := newUser(email)
			err := sub.Users.CreateUser(ctx, dup)
			require.Equal(t, domain.KindEmailTaken, domain.KindOf(err), "%s: %v", email, err)
			_, err = sub.Users.UserByID(ctx, dup.ID)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%s is not stored: %v", email, err)
		}
		require.Equal(t, ann, byID(t, sub, ann.ID), "the first is kept")

		// Any case means equal once lower-cased, not equal under Unicode case folding:
		// "ſ" (long s) folds to "s" but is already lower case, so it is another email.
		sam := user(t, sub, "sam@example.com")
		longS := user(t, sub, "ſam@example.com")
		for email, want := range map[string]domain.User{"SAM@example.com": sam, "ſam@example.com": longS} {
			got, err := sub.Users.UserByEmail(ctx, email)
			require.NoError(t, err, email)
			require.Equal(t, want.ID, got.ID, email)
		}

		// A taken id is refused too, and is not an email problem.
		dup := newUser("other@example.com")
		dup.ID = ann.ID
		err := sub.Users.CreateUser(ctx, dup)
		require.Error(t, err)
		require.NotEqual(t, domain.KindEmailTaken, domain.KindOf(err), "a taken id: %v", err)
		require.Equal(t, ann, byID(t, sub, ann.ID), "and the user is not overwritten")
	})

	t.Run("MembershipsInTheOrderTheUserJoined", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann, bob := user(t, sub, "ann@example.com"), user(t, sub, "bob@example.com")
		w1, w2, w3 := sub.Workspace(t, "One"), sub.Workspace(t, "Two"), sub.Workspace(t, "Three")
		sub.Workspace(t, "Unjoined")
		t0 := next()
		sub.Member(t, w2, ann.ID, access.Viewer, t0)
		sub.Member(t, w3, ann.ID, access.Owner, t0.Add(time.Hour))
		sub.Member(t, w1, ann.ID, access.Agent, t0.Add(time.Minute))
		sub.Member(t, w1, bob.ID, access.Manager, t0)

		ms, err := sub.Users.Memberships(ctx, ann.ID)
		require.NoError(t, err)
		require.Equal(t, []domain.Membership{
			{WorkspaceID: w2, WorkspaceName: "Two", Role: access.Viewer},
			{WorkspaceID: w1, WorkspaceName: "One", Role: access.Agent},
			{WorkspaceID: w3, WorkspaceName: "Three", Role: access.Owner},
		}, ms)

		// Joined at the same instant: by workspace id.
		cal := user(t, sub, "cal@example.com")
		t1 := next()
		sub.Member(t, w3, cal.ID, access.Agent, t1)
		sub.Member(t, w2, cal.ID, access.Agent, t1)
		sub.Member(t, w1, cal.ID, access.Agent, t1)
		ms, err = sub.Users.Memberships(ctx, cal.ID)
		require.NoError(t, err)
		require.Equal(t, []domain.ID{w1, w2, w3}, workspaceIDs(ms), "workspace ids ascend (UUIDv7: creation order)")

		for _, id := range []domain.ID{user(t, sub, "dan@example.com").ID, domain.NewID()} {
			ms, err = sub.Users.Memberships(ctx, id)
			require.NoError(t, err)
			require.Empty(t, ms, "a user of no workspace, or no user")
		}
	})

	t.Run("WorkspaceFindsOnlyLiveWorkspaces", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, gone := sub.Workspace(t, "Acme"), sub.Workspace(t, "Gone")
		got, err := sub.Users.Workspace(ctx, w)
		require.NoError(t, err)
		require.Equal(t, w, got.ID)
		require.Equal(t, "Acme", got.Name)
		_, err = sub.Users.Workspace(ctx, gone)
		require.NoError(t, err, "before it is deleted")

		sub.DeleteWorkspace(t, gone)
		_, err = sub.Users.Workspace(ctx, gone)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "a deleted workspace: %v", err)
		_, err = sub.Users.Workspace(ctx, domain.NewID())
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "an unknown workspace: %v", err)
		_, err = sub.Users.Workspace(ctx, w)
		require.NoError(t, err, "the other is still there")
	})

	t.Run("SetPasswordReplacesOnlyThatUsersHash", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann, bob := user(t, sub, "ann@example.com"), user(t, sub, "bob@example.com")
		require.NoError(t, sub.Users.SetPassword(ctx, ann.ID, "new hash"))
		ann.PasswordHash = "new hash"
		require.Equal(t, ann, byID(t, sub, ann.ID), "only the hash changes")
		got, err := sub.Users.UserByEmail(ctx, ann.Email)
		require.NoError(t, err)
		require.Equal(t, "new hash", got.PasswordHash)
		require.Equal(t, bob, byID(t, sub, bob.ID))

		err = sub.Users.SetPassword(ctx, domain.NewID(), "hash")
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "an unknown user: %v", err)
	})

	t.Run("ActiveAPIKeyByHashAndNotRevoked", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		w, other := sub.Workspace(t, "Acme"), sub.Workspace(t, "Other")
		key := func(ws domain.ID, role access.Role, revoked bool) (domain.APIKey, string) {
			secret, hash := domain.NewAPIKeySecret()
			k := domain.APIKey{ID: domain.NewID(), WorkspaceID: ws, Name: "key " + string(role), Role: role, Hash: hash,
				CreatedBy: domain.NewID(), CreatedAt: next()}
			if revoked {
				r := next()
				k.RevokedAt = &r
			}
			sub.APIKey(t, k)
			return k, secret
		}
		agent, agentSecret := key(w, access.Agent, false)
		viewer, viewerSecret := key(other, access.Viewer, false)
		_, revokedSecret := key(w, access.Owner, true)

		for k, secret := range map[*domain.APIKey]string{&agent: agentSecret, &viewer: viewerSecret} {
			got, err := sub.Users.ActiveAPIKey(ctx, domain.HashSecret(secret))
			require.NoError(t, err)
			want := *k
			want.Hash = nil
			require.Equal(t, want, utcKey(got), "the key in full, without its hash")
		}
		for name, hash := range map[string][]byte{
			"revoked":  domain.HashSecret(revokedSecret),
			"unknown":  domain.HashSecret(domain.APIKeyPrefix + "unknown"),
			"a secret": []byte(agentSecret), // the hash is looked up, never the secret
			"empty":    nil,
		} {
			_, err := sub.Users.ActiveAPIKey(ctx, hash)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%s: %v", name, err)
		}
	})
}

func workspaceIDs(ms []domain.Membership) []domain.ID {
	out := []domain.ID{}
	for _, m := range ms {
		out = append(out, m.WorkspaceID)
	}
	return out
}

// utcUser and utcKey put times in UTC, so values read back from any store compare equal.
func utcUser(u domain.User) domain.User {
	u.CreatedAt = u.CreatedAt.UTC()
	return u
}

func utcKey(k domain.APIKey) domain.APIKey {
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		r := k.RevokedAt.UTC()
		k.RevokedAt = &r
	}
	return k
}
