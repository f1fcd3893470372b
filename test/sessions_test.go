package test

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

const password = "correct horse battery"

func (a *App) login(t testing.TB, email, pw string) user {
	t.Helper()
	body := a.Must(t, 200, "POST", "/v1/auth/login", "", map[string]string{"email": email, "password": pw})
	return user{Email: email, Token: body["access_token"].(string), Refresh: body["refresh_token"].(string)}
}

func (a *App) refresh(t testing.TB, token string) Response {
	t.Helper()
	return a.Do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": token})
}

// Refresh tokens rotate: each is spent by the refresh that replaces it. Presenting a
// spent one again (a stolen copy) revokes the whole session: the thief's token, the
// owner's newest token and the session's access tokens all stop at once.
func TestRefreshRotationAndReuseDetection(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "rotor")
	require.Regexp(t, `^wrt_[A-Za-z0-9_-]{43}$`, u.Refresh)

	first := a.refresh(t, u.Refresh)
	require.Equal(t, 200, first.Status, string(first.Body))
	next := first.JSON(t)
	require.Equal(t, "Bearer", next["token_type"])
	require.EqualValues(t, 900, next["expires_in"])
	require.NotEqual(t, u.Refresh, next["refresh_token"])
	require.Equal(t, 200, a.Do(t, "GET", "/v1/me", next["access_token"].(string), nil).Status)
	requireNotInDatabase(t, a, next["refresh_token"].(string))

	// The stolen first token is replayed: refused, and the session is revoked.
	replay := a.refresh(t, u.Refresh)
	require.Equal(t, 401, replay.Status)
	require.Equal(t, "unauthenticated", replay.Code(t))
	require.Equal(t, 401, a.refresh(t, next["refresh_token"].(string)).Status, "the owner's newest token dies with the session")
	require.Equal(t, 401, a.Do(t, "GET", "/v1/me", next["access_token"].(string), nil).Status, "the session's access tokens stop at once")
	require.Equal(t, 401, a.Do(t, "GET", "/v1/me", u.Token, nil).Status)

	var n int
	require.NoError(t, a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_logs WHERE action = 'auth.refresh_reused' AND actor_id = $1`, u.ID).Scan(&n))
	require.Equal(t, 1, n)

	// Another session of the same user is not affected.
	again := a.login(t, u.Email, password)
	require.Equal(t, 200, a.Do(t, "GET", "/v1/me", again.Token, nil).Status)

	// Garbage, empty and a 31-day-old token are all 401.
	for _, tok := range []string{"", "wrt_nope", "not a token"} {
		require.Equal(t, 401, a.refresh(t, tok).Status, tok)
	}
	a.Clock.Advance(31 * 24 * time.Hour)
	require.Equal(t, 401, a.refresh(t, again.Refresh).Status, "a refresh token lives 30 days")
}

// Two refreshes racing with one token: one wins, and the other is a reuse that revokes
// the session (as the OAuth rotation rules have it), never two live successors.
func TestConcurrentRefreshesYieldOneSuccessor(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "racer")
	statuses := make(chan int, 2)
	for range 2 {
		go func() {
			res, err := a.Send("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": u.Refresh})
			if err != nil {
				res.Status = -1
			}
			statuses <- res.Status
		}()
	}
	got := map[int]int{}
	got[<-statuses]++
	got[<-statuses]++
	require.Equal(t, map[int]int{200: 1, 401: 1}, got)
	// The loser's refresh was a reuse: the session is gone, the winner's new pair with it.
	var revoked bool
	require.NoError(t, a.Pool.QueryRow(t.Context(), `SELECT revoked_at IS NOT NULL FROM sessions WHERE user_id = $1`, u.ID).Scan(&revoked))
	require.True(t, revoked, "the session is revoked")
	require.Equal(t, 401, a.Do(t, "GET", "/v1/me", u.Token, nil).Status)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "leaver")
	other := a.login(t, u.Email, password)

	require.Equal(t, 204, a.Do(t, "POST", "/v1/auth/logout", "", map[string]string{"refresh_token": u.Refresh}).Status)
	require.Equal(t, 401, a.refresh(t, u.Refresh).Status)
	require.Equal(t, 401, a.Do(t, "GET", "/v1/me", u.Token, nil).Status, "the session's access token stops at once")
	require.Equal(t, 200, a.Do(t, "GET", "/v1/me", other.Token, nil).Status, "other sessions go on")

	// Logging out again, or with a token that never existed, answers the same.
	require.Equal(t, 204, a.Do(t, "POST", "/v1/auth/logout", "", map[string]string{"refresh_token": u.Refresh}).Status)
	require.Equal(t, 204, a.Do(t, "POST", "/v1/auth/logout", "", map[string]string{"refresh_token": "wrt_unknown"}).Status)
}

// A password change keeps the session that made it and ends every other one.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "changer")
	laptop := a.login(t, u.Email, password)
	ws := a.createWorkspace(t, u, "Mine")

	wrong := a.Do(t, "PUT", "/v1/me/password", u.Token, map[string]string{"current_password": "not it at all", "new_password": "a brand new secret"})
	require.Equal(t, 422, wrong.Status)
	require.Equal(t, "validation_failed", wrong.Code(t))
	short := a.Do(t, "PUT", "/v1/me/password", u.Token, map[string]string{"current_password": password, "new_password": "short"})
	require.Equal(t, 422, short.Status)

	require.Equal(t, 204, a.Do(t, "PUT", "/v1/me/password", u.Token, map[string]string{"current_password": password, "new_password": "a brand new secret"}).Status)
	require.Equal(t, 200, a.Do(t, "GET", "/v1/workspaces/"+ws, u.Token, nil).Status, "the caller's session goes on")
	require.Equal(t, 200, a.refresh(t, u.Refresh).Status)
	require.Equal(t, 401, a.Do(t, "GET", "/v1/workspaces/"+ws, laptop.Token, nil).Status, "the other session's access token stops")
	require.Equal(t, 401, a.refresh(t, laptop.Refresh).Status)

	require.Equal(t, 401, a.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.Email, "password": password}).Status)
	a.login(t, u.Email, "a brand new secret")

	// An API key has no password.
	key := a.Must(t, 201, "POST", "/v1/workspaces/"+ws+"/api-keys", u.Token, map[string]string{"name": "k", "role": "viewer"})["key"].(string)
	require.Equal(t, 403, a.Do(t, "PUT", "/v1/me/password", key, map[string]string{"current_password": password, "new_password": "whatever it is"}).Status)
}

var resetLink = regexp.MustCompile(`reset-password\?token=(wpr_[A-Za-z0-9_-]{43})`)

// resetToken asks for a reset of email and returns the token of the newest link the log
// mailer wrote, once every reset request made so far has been mailed (the mail goes out
// through River jobs; an earlier request's link arriving late would otherwise pass for
// this one's).
func (a *App) resetToken(t *testing.T, email string) string {
	t.Helper()
	require.Equal(t, 202, a.Do(t, "POST", "/v1/auth/password-reset", "", map[string]string{"email": email}).Status)
	var token string
	eventually(t, 20*time.Second, func() bool {
		var pending int
		require.NoError(t, a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job
			WHERE kind IN ('auth.password_reset', 'mail.send') AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&pending))
		if pending > 0 {
			return false
		}
		// The link of the newest token: reset jobs run concurrently, so their mails can be
		// logged in another order than their tokens were made (the newest retires the rest).
		var newest []byte
		err := a.Pool.QueryRow(t.Context(), `SELECT r.token_hash FROM password_resets r JOIN users u ON u.id = r.user_id
			WHERE lower(u.email) = lower($1) AND r.used_at IS NULL ORDER BY r.created_at DESC LIMIT 1`, email).Scan(&newest)
		if err != nil {
			return false
		}
		for _, m := range resetLink.FindAllStringSubmatch(a.Logs.String(), -1) {
			if bytes.Equal(domain.HashSecret(m[1]), newest) {
				token = m[1]
			}
		}
		return token != ""
	}, "the reset link should be mailed (logged)")
	return token
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	u := a.signup(t, "forgetful")
	phone := a.login(t, u.Email, password)
	token := a.resetToken(t, u.Email)

	// Unknown emails answer exactly as known ones do, and no link is sent.
	unknown := a.Do(t, "POST", "/v1/auth/password-reset", "", map[string]string{"email": "nobody-here@example.com"})
	require.Equal(t, 202, unknown.Status)
	known := a.Do(t, "POST", "/v1/auth/password-reset", "", map[string]string{"email": u.Email})
	require.Equal(t, string(known.Body), string(unknown.Body))
	require.Equal(t, 422, a.Do(t, "POST", "/v1/auth/password-reset", "", map[string]string{"email": "not an email"}).Status)

	// The second request retired the first link: a newer one is in the log.
	newest := a.resetToken(t, u.Email)
	bad := a.Do(t, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": token, "new_password": "chosen again later"})
	require.Equal(t, 422, bad.Status, "an older link stops when a newer one is sent")
	require.Equal(t, "validation_failed", bad.Code(t))

	short := a.Do(t, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": newest, "new_password": "short"})
	require.Equal(t, 422, short.Status)
	require.Equal(t, 204, a.Do(t, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": newest, "new_password": "chosen again later"}).Status)
	require.Equal(t, 422, a.Do(t, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": newest, "new_password": "and once more please"}).Status, "single use")

	// Every session ended; the new password works, the old does not.
	for _, s := range []user{u, phone} {
		require.Equal(t, 401, a.Do(t, "GET", "/v1/me", s.Token, nil).Status)
		require.Equal(t, 401, a.refresh(t, s.Refresh).Status)
	}
	require.Equal(t, 401, a.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.Email, "password": password}).Status)
	a.login(t, u.Email, "chosen again later")

	// A link lives one hour.
	late := a.resetToken(t, u.Email)
	a.Clock.Advance(61 * time.Minute)
	require.Equal(t, 422, a.Do(t, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": late, "new_password": "too late for this"}).Status)

	var n int
	require.NoError(t, a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_logs WHERE action = 'auth.password_reset' AND actor_id = $1`, u.ID).Scan(&n))
	require.Equal(t, 1, n)
	// Tokens are kept only as hashes.
	requireNotInDatabase(t, a, newest)
}
