package identity_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

const (
	email    = "rita@example.com"
	password = "0123456789"
)

// requireKind fails unless err is of kind want.
func requireKind(t *testing.T, want domain.Kind, err error, why ...string) {
	t.Helper()
	require.Equal(t, want, domain.KindOf(err), "%s: got %v", strings.Join(why, " "), err)
}

// refreshed reads back the stored refresh token and its session.
func (b *testBundle) refreshed(t *testing.T, token string) (domain.RefreshToken, domain.Session) {
	t.Helper()
	rt, s, err := b.users.RefreshToken(context.Background(), domain.HashSecret(token))
	require.NoError(t, err)
	return rt, s
}

// actions lists the audited actions so far.
func (b *testBundle) actions() []string {
	var out []string
	for _, e := range b.audit.all() {
		out = append(out, e.Action)
	}
	return out
}

// member makes the user a member of a new workspace and returns it.
func (b *testBundle) member(t *testing.T, userID domain.ID) domain.ID {
	t.Helper()
	ws := b.workspace("Acme")
	b.users.AddMember(ws, userID, access.Agent, b.clock.Now())
	return ws
}

// requireRefused checks an access token no longer opens anything: Authenticate and
// CallerFor (in a workspace the user is a member of) both answer 401.
func (b *testBundle) requireRefused(t *testing.T, accessToken string, ws domain.ID) {
	t.Helper()
	ctx := context.Background()
	_, err := b.svc.Authenticate(ctx, accessToken)
	requireKind(t, domain.KindUnauthenticated, err)
	_, err = b.svc.CallerFor(ctx, accessToken, ws, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err)
}

// requireWorks checks an access token still authenticates, and in ws.
func (b *testBundle) requireWorks(t *testing.T, accessToken string, ws domain.ID) {
	t.Helper()
	ctx := context.Background()
	_, err := b.svc.Authenticate(ctx, accessToken)
	require.NoError(t, err)
	_, err = b.svc.CallerFor(ctx, accessToken, ws, domain.RequestMeta{})
	require.NoError(t, err)
}

func TestLoginStartsASession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	u := b.signup(t, email, password)
	start := b.clock.Now()

	res := b.login(t, email, password)
	require.True(t, strings.HasPrefix(res.RefreshToken, domain.RefreshTokenPrefix), res.RefreshToken)
	sessionID := sessionOf(t, res.AccessToken)
	rt, s := b.refreshed(t, res.RefreshToken)
	require.Equal(t, domain.Session{ID: sessionID, UserID: u.ID, CreatedAt: start, ExpiresAt: start.Add(domain.RefreshTokenTTL)}, s)
	require.Equal(t, domain.RefreshToken{Hash: domain.HashSecret(res.RefreshToken), SessionID: sessionID, CreatedAt: start,
		ExpiresAt: start.Add(domain.RefreshTokenTTL)}, rt, "only the token's hash is stored")

	// Each login is a session of its own.
	other := b.login(t, email, password)
	require.NotEqual(t, sessionID, sessionOf(t, other.AccessToken))
	require.NotEqual(t, res.RefreshToken, other.RefreshToken)

	// A failed login starts none.
	_, err := b.svc.Login(ctx, email, "wrong-password", domain.RequestMeta{})
	requireKind(t, domain.KindInvalidCredentials, err)
	require.Equal(t, 2, b.tx.count(), "one transaction per successful login")
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "203.0.113.9", UserAgent: "ua", RequestID: "req"}

	t.Run("Rotates", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, email, password)
		ws := b.member(t, u.ID)
		first := b.login(t, email, password)
		sessionID := sessionOf(t, first.AccessToken)

		b.clock.Add(10 * 24 * time.Hour)
		second, err := b.svc.Refresh(ctx, first.RefreshToken, meta)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(second.RefreshToken, domain.RefreshTokenPrefix))
		require.NotEqual(t, first.RefreshToken, second.RefreshToken)
		require.Equal(t, sessionID, sessionOf(t, second.AccessToken), "the same session goes on")
		require.Equal(t, tokenTTL, second.ExpiresIn)
		b.requireWorks(t, second.AccessToken, ws)

		spent, _ := b.refreshed(t, first.RefreshToken)
		require.NotNil(t, spent.UsedAt, "the presented token is spent")
		require.Equal(t, b.clock.Now(), *spent.UsedAt)
		next, s := b.refreshed(t, second.RefreshToken)
		require.Nil(t, next.UsedAt)
		require.Equal(t, b.clock.Now().Add(domain.RefreshTokenTTL), next.ExpiresAt, "a fresh 30 days")
		require.Equal(t, next.ExpiresAt, s.ExpiresAt, "the session lasts as long as its newest token")

		third, err := b.svc.Refresh(ctx, second.RefreshToken, meta)
		require.NoError(t, err, "the new token works")
		require.Equal(t, sessionID, sessionOf(t, third.AccessToken))

		_, err = b.svc.Refresh(ctx, first.RefreshToken, meta)
		requireKind(t, domain.KindUnauthenticated, err, "the old token is refused")
	})

	t.Run("ReuseRevokesTheSession", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, email, password)
		ws := b.member(t, u.ID)
		first := b.login(t, email, password)
		bystander := b.login(t, email, password) // another session of the same user
		sessionID := sessionOf(t, first.AccessToken)
		second, err := b.svc.Refresh(ctx, first.RefreshToken, meta)
		require.NoError(t, err)

		_, err = b.svc.Refresh(ctx, first.RefreshToken, meta)
		requireKind(t, domain.KindUnauthenticated, err)
		revoked, reason := b.users.SessionRevoked(sessionID)
		require.True(t, revoked)
		require.Equal(t, "refresh_token_reused", reason)

		_, err = b.svc.Refresh(ctx, second.RefreshToken, meta)
		requireKind(t, domain.KindUnauthenticated, err, "the new token dies with its session")
		b.requireRefused(t, second.AccessToken, ws)
		b.requireRefused(t, first.AccessToken, ws)
		b.requireWorks(t, bystander.AccessToken, ws)

		entries := b.audit.all()
		require.Len(t, entries, 1, "one event, though the session's tokens were presented three times")
		e := entries[0]
		require.Equal(t, "auth.refresh_reused", e.Action)
		require.Equal(t, domain.ActorUser, e.ActorType)
		require.Equal(t, u.ID.String(), e.ActorID)
		require.Equal(t, "user", e.ResourceType)
		require.Equal(t, u.ID.String(), e.ResourceID)
		require.Equal(t, map[string]any{"session_id": sessionID.String()}, e.Details)
		require.Equal(t, meta.IP, e.IP)
		require.True(t, e.WorkspaceID.IsZero())
	})

	t.Run("ExpiresAfter30Days", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		early, late := b.login(t, email, password), b.login(t, email, password)

		b.clock.Add(domain.RefreshTokenTTL - time.Second)
		_, err := b.svc.Refresh(ctx, early.RefreshToken, meta)
		require.NoError(t, err, "a second before its expiry")

		b.clock.Add(time.Second)
		_, err = b.svc.Refresh(ctx, late.RefreshToken, meta)
		requireKind(t, domain.KindUnauthenticated, err)
		rt, _ := b.refreshed(t, late.RefreshToken)
		require.Nil(t, rt.UsedAt, "an expired token is not spent")
		require.Empty(t, b.audit.all())
	})

	t.Run("UnknownTokens", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, token := range []string{"", "wrt_unknown", domain.RefreshTokenPrefix} {
			_, err := b.svc.Refresh(ctx, token, meta)
			requireKind(t, domain.KindUnauthenticated, err)
		}
	})

	t.Run("StoreFailurePropagates", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		res := b.login(t, email, password)
		boom := context.DeadlineExceeded
		b.users.Fail(boom)
		_, err := b.svc.Authenticate(ctx, res.AccessToken)
		require.ErrorIs(t, err, boom, "an outage is not a 401")
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	u := b.signup(t, email, password)
	ws := b.member(t, u.ID)
	res, other := b.login(t, email, password), b.login(t, email, password)

	require.NoError(t, b.svc.Logout(ctx, res.RefreshToken))
	revoked, reason := b.users.SessionRevoked(sessionOf(t, res.AccessToken))
	require.True(t, revoked)
	require.Equal(t, "logout", reason)
	_, err := b.svc.Refresh(ctx, res.RefreshToken, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err)
	b.requireRefused(t, res.AccessToken, ws)
	b.requireWorks(t, other.AccessToken, ws)

	require.NoError(t, b.svc.Logout(ctx, res.RefreshToken), "again")
	_, reason = b.users.SessionRevoked(sessionOf(t, res.AccessToken))
	require.Equal(t, "logout", reason)
	require.NoError(t, b.svc.Logout(ctx, "wrt_unknown"), "an unknown token tells nothing")
	require.Equal(t, []string{"refresh_token"}, fieldNames(t, b.svc.Logout(ctx, "")), "only a missing token is refused")
	require.Empty(t, b.audit.all(), "a spent token at logout is no reuse")
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "192.0.2.44", UserAgent: "ua", RequestID: "req"}
	const newPassword = "a much better one"

	principal := func(t *testing.T, b *testBundle, accessToken string) domain.Principal {
		t.Helper()
		p, err := b.svc.Authenticate(ctx, accessToken)
		require.NoError(t, err)
		return p
	}

	t.Run("RevokesEveryOtherSession", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, email, password)
		ws := b.member(t, u.ID)
		own, other1, other2 := b.login(t, email, password), b.login(t, email, password), b.login(t, email, password)
		b.signup(t, "someone@example.com", password)
		stranger := b.login(t, "someone@example.com", password)

		require.NoError(t, b.svc.ChangePassword(ctx, principal(t, b, own.AccessToken), password, newPassword, meta))

		for _, r := range []identity.LoginResult{other1, other2} {
			revoked, reason := b.users.SessionRevoked(sessionOf(t, r.AccessToken))
			require.True(t, revoked)
			require.Equal(t, "password_changed", reason)
			b.requireRefused(t, r.AccessToken, ws)
			_, err := b.svc.Refresh(ctx, r.RefreshToken, meta)
			requireKind(t, domain.KindUnauthenticated, err)
		}
		b.requireWorks(t, own.AccessToken, ws)
		_, err := b.svc.Refresh(ctx, own.RefreshToken, meta)
		require.NoError(t, err, "the caller's own session goes on")
		_, err = b.svc.Authenticate(ctx, stranger.AccessToken)
		require.NoError(t, err, "another user's sessions are not touched")

		entries := b.audit.all()
		require.Len(t, entries, 1)
		require.Equal(t, "auth.password_changed", entries[0].Action)
		require.Equal(t, u.ID.String(), entries[0].ActorID)
		require.Equal(t, u.ID.String(), entries[0].ResourceID)
		require.EqualValues(t, map[string]any{"sessions_revoked": 2}, entries[0].Details)
		require.Equal(t, meta.IP, entries[0].IP)

		_, err = b.svc.Login(ctx, email, password, meta)
		requireKind(t, domain.KindInvalidCredentials, err, "the old password is gone")
		b.login(t, email, newPassword)
	})

	t.Run("WrongCurrentPasswordCountsAsAFailedLogin", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, email, password)
		own, other := b.login(t, email, password), b.login(t, email, password)

		err := b.svc.ChangePassword(ctx, principal(t, b, own.AccessToken), "not-my-password", newPassword, meta)
		require.Equal(t, []string{"current_password"}, fieldNames(t, err))
		require.Equal(t, map[string]int{"email:" + email: 1, "address:" + meta.IP: 1}, b.throttle.failures())
		stored, err := b.users.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "hashed:"+password, stored.PasswordHash, "unchanged")
		revoked, _ := b.users.SessionRevoked(sessionOf(t, other.AccessToken))
		require.False(t, revoked)
		require.Empty(t, b.audit.all())
	})

	t.Run("ThrottledLikeLogins", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		own := b.login(t, email, password)
		b.throttle.block("email:"+email, time.Minute)

		err := b.svc.ChangePassword(ctx, principal(t, b, own.AccessToken), password, newPassword, meta)
		requireKind(t, domain.KindRateLimited, err, "even with the right password")
		verifies := b.hasher.verifyCount()
		require.Equal(t, 1, verifies, "only the login's: the password is not checked while blocked")
	})

	t.Run("RulesForTheNewPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		p := principal(t, b, b.login(t, email, password).AccessToken)

		err := b.svc.ChangePassword(ctx, p, password, "short", meta)
		require.Equal(t, []string{"new_password"}, fieldNames(t, err))
		require.Empty(t, b.throttle.failures())

		err = b.svc.ChangePassword(ctx, domain.Principal{Type: domain.ActorAPIKey, ID: domain.NewID()}, password, newPassword, meta)
		requireKind(t, domain.KindForbidden, err, "an API key has no password")
	})
}

var resetLink = regexp.MustCompile(regexp.QuoteMeta(baseURL+"/reset-password?token=") + `(\S+)`)

// resetToken sends a reset link for email and returns the token in the mail.
func (b *testBundle) resetToken(t *testing.T, email string) string {
	t.Helper()
	before := len(b.mail.all())
	require.NoError(t, b.svc.SendPasswordReset(context.Background(), email))
	msgs := b.mail.all()
	require.Len(t, msgs, before+1)
	m := msgs[before]
	match := resetLink.FindStringSubmatch(m.Text)
	require.NotNil(t, match, "a link in %q", m.Text)
	token, err := url.QueryUnescape(match[1])
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, domain.ResetTokenPrefix), token)
	return token
}

func TestRequestPasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "198.51.100.23"}

	t.Run("KnownAndUnknownEmailsAlike", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		emailLookups, idLookups := b.users.EmailLookups(), b.users.IDLookups()

		known, errKnown := b.svc.RequestPasswordReset(ctx, "  RITA@example.com", meta)
		unknown, errUnknown := b.svc.RequestPasswordReset(ctx, "nobody@example.com", meta)
		require.NoError(t, errKnown)
		require.NoError(t, errUnknown)
		require.Equal(t, known.Limit, unknown.Limit)
		require.Equal(t, known.Remaining, unknown.Remaining+1, "the address's counter is the tighter, counted twice")
		require.Equal(t, []string{email, "nobody@example.com"}, b.jobs.all(), "a job for each, by normalized email")
		require.Equal(t, emailLookups, b.users.EmailLookups(), "no user look-up on the request path")
		require.Equal(t, idLookups, b.users.IDLookups())
		require.Empty(t, b.mail.all(), "the job sends the mail, not the request")
		require.Equal(t, map[string]int{"reset_email:" + email: 1, "reset_email:nobody@example.com": 1,
			"reset_address:" + meta.IP: 2}, b.throttle.failures())
		require.Empty(t, b.audit.all())
	})

	t.Run("InvalidEmail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.RequestPasswordReset(ctx, "not an email", meta)
		require.Equal(t, []string{"email"}, fieldNames(t, err))
		require.Empty(t, b.jobs.all())
		require.Empty(t, b.throttle.failures())
	})

	t.Run("Throttled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, key := range []string{"reset_email:" + email, "reset_address:" + meta.IP} {
			b.throttle.block(key, 2*time.Minute)
			_, err := b.svc.RequestPasswordReset(ctx, email, meta)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, domain.KindRateLimited, de.Kind, key)
			require.Equal(t, 2*time.Minute, de.RetryAfter)
		}
		require.Empty(t, b.jobs.all())
		require.Empty(t, b.throttle.failures())
	})
}

func TestSendPasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("UnknownEmailSendsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.svc.SendPasswordReset(ctx, "nobody@example.com"))
		require.Empty(t, b.mail.all())
		require.Zero(t, b.tx.count())
	})

	t.Run("KnownEmailGetsALink", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, email, password)
		token := b.resetToken(t, email)

		m := b.mail.all()[0]
		require.Equal(t, email, m.To)
		require.NotEmpty(t, m.Subject)
		rs, err := b.users.Reset(ctx, domain.HashSecret(token))
		require.NoError(t, err, "stored as its hash")
		require.Equal(t, domain.ResetToken{Hash: domain.HashSecret(token), UserID: u.ID, CreatedAt: b.clock.Now(),
			ExpiresAt: b.clock.Now().Add(time.Hour)}, rs)
	})
}

func TestConfirmPasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "203.0.113.50"}
	const newPassword = "a fresh start"

	t.Run("OnceAndEverySessionRevoked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, email, password)
		ws := b.member(t, u.ID)
		s1, s2 := b.login(t, email, password), b.login(t, email, password)
		token := b.resetToken(t, email)

		b.clock.Add(59 * time.Minute)
		require.NoError(t, b.svc.ConfirmPasswordReset(ctx, token, newPassword, meta))
		for _, s := range []identity.LoginResult{s1, s2} {
			revoked, reason := b.users.SessionRevoked(sessionOf(t, s.AccessToken))
			require.True(t, revoked)
			require.Equal(t, "password_reset", reason)
			b.requireRefused(t, s.AccessToken, ws)
		}
		entries := b.audit.all()
		require.Len(t, entries, 1)
		require.Equal(t, "auth.password_reset", entries[0].Action)
		require.Equal(t, u.ID.String(), entries[0].ActorID)
		require.EqualValues(t, map[string]any{"sessions_revoked": 2}, entries[0].Details)
		require.Equal(t, meta.IP, entries[0].IP)
		require.Empty(t, b.throttle.failures())

		_, err := b.svc.Login(ctx, email, password, meta)
		requireKind(t, domain.KindInvalidCredentials, err, "the old password is gone")
		b.login(t, email, newPassword)

		err = b.svc.ConfirmPasswordReset(ctx, token, "yet another password", meta)
		require.Equal(t, []string{"token"}, fieldNames(t, err), "once only")
		require.Equal(t, 1, b.throttle.failures()["reset_confirm_address:"+meta.IP], "counted against the address")
		b.login(t, email, newPassword)
	})

	t.Run("ExpiresAfterAnHour", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		token := b.resetToken(t, email)

		b.clock.Add(time.Hour)
		err := b.svc.ConfirmPasswordReset(ctx, token, newPassword, meta)
		require.Equal(t, []string{"token"}, fieldNames(t, err))
		b.login(t, email, password)
		require.Empty(t, b.audit.all())
	})

	t.Run("ANewerLinkRetiresTheOlder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, email, password)
		older := b.resetToken(t, email)
		newer := b.resetToken(t, email)

		err := b.svc.ConfirmPasswordReset(ctx, older, newPassword, meta)
		require.Equal(t, []string{"token"}, fieldNames(t, err))
		require.NoError(t, b.svc.ConfirmPasswordReset(ctx, newer, newPassword, meta))
		b.login(t, email, newPassword)
	})

	t.Run("InvalidTokensAreCountedAndThrottled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, token := range []string{"", "wpr_unknown", "wrt_not-a-reset-token"} {
			err := b.svc.ConfirmPasswordReset(ctx, token, newPassword, meta)
			require.Equal(t, []string{"token"}, fieldNames(t, err), token)
		}
		require.Equal(t, map[string]int{"reset_confirm_address:" + meta.IP: 3}, b.throttle.failures(),
			"on their own counter: requests for links do not spend it")

		err := b.svc.ConfirmPasswordReset(ctx, "wpr_unknown", "short", meta)
		require.Equal(t, []string{"new_password"}, fieldNames(t, err), "the password is checked first")

		b.throttle.block("reset_confirm_address:"+meta.IP, time.Minute)
		err = b.svc.ConfirmPasswordReset(ctx, "wpr_unknown", newPassword, meta)
		requireKind(t, domain.KindRateLimited, err)
	})
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.signup(t, email, password)
	old := b.login(t, email, password)
	b.resetToken(t, email)
	b.clock.Add(domain.RefreshTokenTTL / 2)
	recent := b.login(t, email, password)

	b.clock.Add(domain.RefreshTokenTTL/2 + 24*time.Hour + time.Second)
	n, err := b.svc.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the expired session and reset link, kept a day past expiry")
	_, _, err = b.users.RefreshToken(ctx, domain.HashSecret(old.RefreshToken))
	requireKind(t, domain.KindNotFound, err)
	b.refreshed(t, recent.RefreshToken)
}

func TestStreamTickets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	u := b.signup(t, email, password)
	ws := b.member(t, u.ID)
	other := b.member(t, u.ID)
	res := b.login(t, email, password)

	ticket, expires, err := b.svc.IssueTicket(ctx, res.AccessToken, ws)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ticket, domain.StreamTicketPrefix), ticket)
	require.Equal(t, b.clock.Now().Add(domain.StreamTicketTTL), expires)
	c, session, err := b.svc.CallerForTicket(ctx, ticket, ws, domain.RequestMeta{})
	require.NoError(t, err)
	require.Equal(t, domain.Caller{Type: domain.ActorUser, ID: u.ID, WorkspaceID: ws, Role: access.Agent}, c)
	require.Equal(t, sessionOf(t, res.AccessToken), session)
	_, _, err = b.svc.CallerForTicket(ctx, ticket, ws, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err, "single use")

	for _, bad := range []string{"", "wet_unknown", res.RefreshToken, res.AccessToken} {
		_, _, err = b.svc.CallerForTicket(ctx, bad, ws, domain.RequestMeta{})
		requireKind(t, domain.KindUnauthenticated, err, bad)
	}

	late, _, err := b.svc.IssueTicket(ctx, res.AccessToken, ws)
	require.NoError(t, err)
	b.clock.Add(domain.StreamTicketTTL)
	_, _, err = b.svc.CallerForTicket(ctx, late, ws, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err, "expired")

	res = b.login(t, email, password)
	elsewhere, _, err := b.svc.IssueTicket(ctx, res.AccessToken, other)
	require.NoError(t, err)
	_, _, err = b.svc.CallerForTicket(ctx, elsewhere, ws, domain.RequestMeta{})
	requireKind(t, domain.KindForbidden, err, "another workspace's ticket")

	revoked, _, err := b.svc.IssueTicket(ctx, res.AccessToken, ws)
	require.NoError(t, err)
	require.NoError(t, b.svc.Logout(ctx, res.RefreshToken))
	_, _, err = b.svc.CallerForTicket(ctx, revoked, ws, domain.RequestMeta{})
	requireKind(t, domain.KindUnauthenticated, err, "the session was revoked")

	_, _, err = b.svc.IssueTicket(ctx, "wsk_an-api-key", ws)
	requireKind(t, domain.KindForbidden, err, "API keys send their header")
	_, _, err = b.svc.IssueTicket(ctx, "not-a-token", ws)
	requireKind(t, domain.KindUnauthenticated, err)
}
