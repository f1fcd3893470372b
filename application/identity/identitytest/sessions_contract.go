package identitytest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// RunSessionsContract holds an identity.Sessions (Subject.Sessions) to what the port
// promises. newSubject returns a fresh, empty store for each sub-test; sessions and reset
// tokens belong to users created through Subject.Users, as foreign keys demand.
func RunSessionsContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	var seq atomic.Int64 // sub-tests run in parallel
	user := func(t *testing.T, sub Subject, email string) domain.ID {
		t.Helper()
		u := domain.User{ID: domain.NewID(), Email: email, Name: email, PasswordHash: "h", CreatedAt: at}
		require.NoError(t, sub.Users.CreateUser(ctx, u))
		return u.ID
	}
	session := func(t *testing.T, sub Subject, userID domain.ID, expiresAt time.Time) domain.Session {
		t.Helper()
		s := domain.Session{ID: domain.NewID(), UserID: userID, CreatedAt: at.Add(time.Duration(seq.Add(1)) * time.Second), ExpiresAt: expiresAt}
		require.NoError(t, sub.Sessions.CreateSession(ctx, s))
		return s
	}
	token := func(t *testing.T, sub Subject, sessionID domain.ID, expiresAt time.Time) domain.RefreshToken {
		t.Helper()
		_, hash := domain.NewSecret(domain.RefreshTokenPrefix)
		rt := domain.RefreshToken{Hash: hash, SessionID: sessionID, CreatedAt: at, ExpiresAt: expiresAt}
		require.NoError(t, sub.Sessions.AddRefreshToken(ctx, rt))
		return rt
	}
	reset := func(t *testing.T, sub Subject, userID domain.ID, expiresAt time.Time) domain.ResetToken {
		t.Helper()
		_, hash := domain.NewSecret(domain.ResetTokenPrefix)
		r := domain.ResetToken{Hash: hash, UserID: userID, CreatedAt: at, ExpiresAt: expiresAt}
		require.NoError(t, sub.Sessions.CreateReset(ctx, r))
		return r
	}
	read := func(t *testing.T, sub Subject, hash []byte) (domain.RefreshToken, domain.Session) {
		t.Helper()
		rt, s, err := sub.Sessions.RefreshToken(ctx, hash)
		require.NoError(t, err)
		return utcRefresh(rt), utcSession(s)
	}
	readReset := func(t *testing.T, sub Subject, hash []byte) domain.ResetToken {
		t.Helper()
		r, err := sub.Sessions.Reset(ctx, hash)
		require.NoError(t, err)
		return utcReset(r)
	}
	active := func(t *testing.T, sub Subject, s domain.Session) bool {
		t.Helper()
		err := sub.Sessions.ActiveSession(ctx, s.ID, s.UserID)
		if err == nil {
			return true
		}
		require.Equal(t, domain.KindUnauthenticated, domain.KindOf(err), "%v", err)
		return false
	}
	exp := at.Add(domain.RefreshTokenTTL)

	t.Run("RefreshTokenReadsBackWithItsSession", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann := user(t, sub, "ann@example.com")
		s, other := session(t, sub, ann, exp), session(t, sub, ann, exp)
		t1, t2 := token(t, sub, s.ID, exp), token(t, sub, s.ID, exp.Add(time.Hour))
		token(t, sub, other.ID, exp)

		for _, want := range []domain.RefreshToken{t1, t2} {
			got, gotSession := read(t, sub, want.Hash)
			require.Equal(t, want, got)
			require.Equal(t, s, gotSession)
		}
		for name, hash := range map[string][]byte{
			"unknown":    domain.HashSecret(domain.RefreshTokenPrefix + "unknown"),
			"empty":      nil,
			"a reset's":  reset(t, sub, ann, exp).Hash,
			"truncated":  t1.Hash[:16],
			"the secret": []byte(domain.RefreshTokenPrefix),
		} {
			_, _, err := sub.Sessions.RefreshToken(ctx, hash)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%s: %v", name, err)
		}
	})

	t.Run("SpendOnceAndExtend", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann := user(t, sub, "ann@example.com")
		s := session(t, sub, ann, exp)
		t1, t2 := token(t, sub, s.ID, exp), token(t, sub, s.ID, exp)
		spentAt := at.Add(time.Minute)

		require.NoError(t, sub.Sessions.SpendRefreshToken(ctx, t1.Hash, spentAt))
		require.NoError(t, sub.Sessions.SpendRefreshToken(ctx, t1.Hash, spentAt.Add(time.Hour)))
		got, _ := read(t, sub, t1.Hash)
		require.NotNil(t, got.UsedAt)
		require.Equal(t, spentAt, *got.UsedAt, "spent once: the first time stays")
		got, _ = read(t, sub, t2.Hash)
		require.Nil(t, got.UsedAt, "the other token is not spent")

		later := exp.Add(10 * 24 * time.Hour)
		require.NoError(t, sub.Sessions.ExtendSession(ctx, s.ID, later))
		_, gotSession := read(t, sub, t2.Hash)
		s.ExpiresAt = later
		require.Equal(t, s, gotSession, "only the expiry moves")
	})

	t.Run("RevokeSessionOnceFirstReasonKept", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann := user(t, sub, "ann@example.com")
		s, other := session(t, sub, ann, exp), session(t, sub, ann, exp)
		rt := token(t, sub, s.ID, exp)
		first := at.Add(time.Minute)

		require.NoError(t, sub.Sessions.RevokeSession(ctx, s.ID, first, "logout"))
		require.NoError(t, sub.Sessions.RevokeSession(ctx, s.ID, first.Add(time.Hour), "password_changed"))
		_, got := read(t, sub, rt.Hash)
		require.NotNil(t, got.RevokedAt)
		require.Equal(t, first, *got.RevokedAt)
		require.Equal(t, "logout", sub.RevokedReason(t, s.ID))
		require.False(t, active(t, sub, s))
		require.True(t, active(t, sub, other), "only that session")
		require.Empty(t, sub.RevokedReason(t, other.ID))
		require.NoError(t, sub.Sessions.RevokeSession(ctx, domain.NewID(), first, "logout"), "an unknown session")
	})

	t.Run("RevokeUserSessionsButOne", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann, bob := user(t, sub, "ann@example.com"), user(t, sub, "bob@example.com")
		keep, a2, a3, done := session(t, sub, ann, exp), session(t, sub, ann, exp), session(t, sub, ann, exp), session(t, sub, ann, exp)
		bobs := session(t, sub, bob, exp)
		require.NoError(t, sub.Sessions.RevokeSession(ctx, done.ID, at, "logout"))

		n, err := sub.Sessions.RevokeUserSessions(ctx, ann, keep.ID, at.Add(time.Minute), "password_changed")
		require.NoError(t, err)
		require.Equal(t, 2, n, "the active ones but the kept one")
		require.True(t, active(t, sub, keep))
		for _, s := range []domain.Session{a2, a3} {
			require.False(t, active(t, sub, s))
			require.Equal(t, "password_changed", sub.RevokedReason(t, s.ID))
		}
		require.Equal(t, "logout", sub.RevokedReason(t, done.ID), "an already revoked one keeps its reason")
		require.True(t, active(t, sub, bobs), "another user's sessions are not touched")

		n, err = sub.Sessions.RevokeUserSessions(ctx, ann, domain.NilID, at.Add(time.Hour), "password_reset")
		require.NoError(t, err)
		require.Equal(t, 1, n, "the zero id keeps none")
		require.False(t, active(t, sub, keep))
		require.Equal(t, "password_reset", sub.RevokedReason(t, keep.ID))

		n, err = sub.Sessions.RevokeUserSessions(ctx, ann, domain.NilID, at.Add(2*time.Hour), "password_reset")
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = sub.Sessions.RevokeUserSessions(ctx, domain.NewID(), domain.NilID, at, "password_reset")
		require.NoError(t, err)
		require.Zero(t, n, "an unknown user")
		require.True(t, active(t, sub, bobs))
	})

	t.Run("ActiveSessionAndSessionRole", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann, bob := user(t, sub, "ann@example.com"), user(t, sub, "bob@example.com")
		w, elsewhere := sub.Workspace(t, "Acme"), sub.Workspace(t, "Elsewhere")
		sub.Member(t, w, ann, access.Manager, at)
		sub.Member(t, w, bob, access.Viewer, at)
		sub.Member(t, elsewhere, bob, access.Owner, at)
		s := session(t, sub, ann, exp)

		require.NoError(t, sub.Sessions.ActiveSession(ctx, s.ID, ann))
		role, err := sub.Sessions.SessionRole(ctx, s.ID, ann, w)
		require.NoError(t, err)
		require.Equal(t, access.Manager, role)
		bobs := session(t, sub, bob, exp)
		for ws, want := range map[domain.ID]access.Role{w: access.Viewer, elsewhere: access.Owner} {
			role, err := sub.Sessions.SessionRole(ctx, bobs.ID, bob, ws)
			require.NoError(t, err)
			require.Equal(t, want, role, "the role in that workspace")
		}
		for name, ws := range map[string]domain.ID{"not a member": elsewhere, "unknown workspace": domain.NewID()} {
			_, err = sub.Sessions.SessionRole(ctx, s.ID, ann, ws)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%s: %v", name, err)
		}

		unauthenticated := func(name string, sessionID, userID domain.ID) {
			t.Helper()
			err := sub.Sessions.ActiveSession(ctx, sessionID, userID)
			require.Equal(t, domain.KindUnauthenticated, domain.KindOf(err), "ActiveSession, %s: %v", name, err)
			for _, ws := range []domain.ID{w, elsewhere, domain.NewID()} {
				_, err = sub.Sessions.SessionRole(ctx, sessionID, userID, ws)
				require.Equal(t, domain.KindUnauthenticated, domain.KindOf(err), "SessionRole, %s: %v", name, err)
			}
		}
		unauthenticated("unknown session", domain.NewID(), ann)
		unauthenticated("another user's session", s.ID, bob) // bob is a member of both
		unauthenticated("unknown user", s.ID, domain.NewID())

		require.NoError(t, sub.Sessions.RevokeSession(ctx, s.ID, at, "logout"))
		unauthenticated("revoked session", s.ID, ann)
	})

	t.Run("Resets", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann, bob := user(t, sub, "ann@example.com"), user(t, sub, "bob@example.com")
		resetExp := at.Add(domain.PasswordResetTTL)
		r1, r2, r3 := reset(t, sub, ann, resetExp), reset(t, sub, ann, resetExp.Add(time.Minute)), reset(t, sub, bob, resetExp)
		for _, want := range []domain.ResetToken{r1, r2, r3} {
			require.Equal(t, want, readReset(t, sub, want.Hash))
		}
		for name, hash := range map[string][]byte{
			"unknown":           domain.HashSecret(domain.ResetTokenPrefix + "unknown"),
			"empty":             nil,
			"a refresh token's": token(t, sub, session(t, sub, ann, exp).ID, exp).Hash,
		} {
			_, err := sub.Sessions.Reset(ctx, hash)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%s: %v", name, err)
		}

		spent := at.Add(time.Minute)
		require.NoError(t, sub.Sessions.SpendResets(ctx, ann, spent))
		require.NoError(t, sub.Sessions.SpendResets(ctx, ann, spent.Add(time.Minute)))
		for _, r := range []domain.ResetToken{r1, r2} {
			got := readReset(t, sub, r.Hash)
			require.NotNil(t, got.UsedAt)
			require.Equal(t, spent, *got.UsedAt, "every one of the user's, once")
		}
		require.Nil(t, readReset(t, sub, r3.Hash).UsedAt, "not another user's")

		r4 := reset(t, sub, ann, resetExp)
		require.Nil(t, readReset(t, sub, r4.Hash).UsedAt, "a newer link after the spend")
		require.NoError(t, sub.Sessions.SpendResets(ctx, domain.NewID(), spent), "an unknown user")
	})

	t.Run("PurgeDeletesOnlyWhatExpired", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann, bob := user(t, sub, "ann@example.com"), user(t, sub, "bob@example.com")
		before := at.Add(48 * time.Hour)
		expired := session(t, sub, ann, before.Add(-time.Second))
		expiredTokens := []domain.RefreshToken{token(t, sub, expired.ID, before.Add(-time.Second)), token(t, sub, expired.ID, before.Add(-time.Hour))}
		alsoExpired := session(t, sub, bob, before.Add(-time.Hour))
		require.NoError(t, sub.Sessions.RevokeSession(ctx, alsoExpired.ID, at, "logout"))
		atTheLimit := session(t, sub, ann, before)
		live := session(t, sub, ann, before.Add(time.Hour))
		revokedLive := session(t, sub, bob, before.Add(time.Hour))
		require.NoError(t, sub.Sessions.RevokeSession(ctx, revokedLive.ID, at, "logout"))
		keptTokens := []domain.RefreshToken{
			token(t, sub, atTheLimit.ID, before), token(t, sub, live.ID, before.Add(time.Hour)),
			// A token's own expiry does not matter: sessions are purged, their tokens with them.
			token(t, sub, live.ID, before.Add(-time.Hour)),
			token(t, sub, revokedLive.ID, before.Add(time.Hour)),
		}
		expiredReset, keptReset := reset(t, sub, ann, before.Add(-time.Minute)), reset(t, sub, bob, before)
		usedExpiredReset := reset(t, sub, bob, before.Add(-time.Minute))
		require.NoError(t, sub.Sessions.SpendResets(ctx, bob, at))

		n, err := sub.Sessions.Purge(ctx, before)
		require.NoError(t, err)
		require.Equal(t, 4, n, "two sessions and two reset tokens")

		for _, rt := range expiredTokens {
			_, _, err := sub.Sessions.RefreshToken(ctx, rt.Hash)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "a purged session's token: %v", err)
		}
		for _, rt := range keptTokens {
			got, _ := read(t, sub, rt.Hash)
			require.Equal(t, rt.SessionID, got.SessionID)
		}
		require.True(t, active(t, sub, live))
		require.True(t, active(t, sub, atTheLimit), "expiring exactly at before is not before it")
		require.False(t, active(t, sub, expired))
		for _, r := range []domain.ResetToken{expiredReset, usedExpiredReset} {
			_, err := sub.Sessions.Reset(ctx, r.Hash)
			require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%v", err)
		}
		readReset(t, sub, keptReset.Hash)

		n, err = sub.Sessions.Purge(ctx, before)
		require.NoError(t, err)
		require.Zero(t, n, "nothing left to purge")
	})

	t.Run("TicketsAreSpentOnceBeforeTheyExpire", func(t *testing.T) {
		t.Parallel()
		sub := newSubject(t)
		ann := user(t, sub, "ann@example.com")
		s := session(t, sub, ann, at.Add(time.Hour))
		w := sub.Workspace(t, "Acme")
		ticket := func(expires time.Time) domain.StreamTicket {
			_, hash := domain.NewSecret(domain.StreamTicketPrefix)
			tk := domain.StreamTicket{Hash: hash, WorkspaceID: w, UserID: ann, SessionID: s.ID, ExpiresAt: expires}
			require.NoError(t, sub.Sessions.CreateTicket(ctx, tk))
			return tk
		}
		valid, expired, stale := ticket(at.Add(time.Minute)), ticket(at), ticket(at.Add(-time.Hour))

		got, err := sub.Sessions.SpendTicket(ctx, valid.Hash, at)
		require.NoError(t, err)
		got.ExpiresAt = got.ExpiresAt.UTC()
		require.Equal(t, valid, got)
		_, err = sub.Sessions.SpendTicket(ctx, valid.Hash, at)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "spent: %v", err)
		_, err = sub.Sessions.SpendTicket(ctx, expired.Hash, at)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "expiring at now is expired: %v", err)
		_, err = sub.Sessions.SpendTicket(ctx, []byte("unknown"), at)
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "%v", err)

		n, err := sub.Sessions.Purge(ctx, at.Add(-time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n, "the stale ticket")
		_, err = sub.Sessions.SpendTicket(ctx, stale.Hash, at.Add(-2*time.Hour))
		require.Equal(t, domain.KindNotFound, domain.KindOf(err), "purged: %v", err)
		_, err = sub.Sessions.SpendTicket(ctx, expired.Hash, at.Add(-time.Second))
		require.NoError(t, err, "an unexpired ticket is kept by the purge")
	})
}

// utcSession, utcRefresh and utcReset put times in UTC, so values read back from any store
// compare equal.
func utcSession(s domain.Session) domain.Session {
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), utcPtr(s.RevokedAt)
	return s
}

func utcRefresh(t domain.RefreshToken) domain.RefreshToken {
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utcPtr(t.UsedAt)
	return t
}

func utcReset(r domain.ResetToken) domain.ResetToken {
	r.CreatedAt, r.ExpiresAt, r.UsedAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC(), utcPtr(r.UsedAt)
	return r
}

func utcPtr(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}
