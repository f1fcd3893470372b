package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// --- accounts: sessions, password reset -------------------------------------------------

func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// stolenRefresh plays a thief who copied a refresh token that its owner has since used:
// the replay must fail and end the session for both (the owner's newer token and the
// session's access token stop too). Forged and altered tokens must fail as well.
func (w *world) stolenRefresh(ctx context.Context) *probe {
	p := &probe{name: "refresh tokens: a stolen (spent) token replayed, forged and altered tokens"}
	refresh := func(tok string) int {
		r, err := w.c.Do(ctx, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok})
		if err != nil {
			return 0
		}
		return r.Status
	}
	for i := range 5 {
		victim, err := w.c.SignupLogin(ctx, fmt.Sprintf("victim-%d-%d@example.com", i, time.Now().UnixNano()))
		if err != nil {
			p.try(false, "setup: "+err.Error())
			continue
		}
		r, err := w.c.Do(ctx, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": victim.Refresh})
		if err != nil || r.Status != 200 {
			p.try(false, fmt.Sprintf("the owner's own refresh failed: %d %v", r.Status, err))
			continue
		}
		next, _ := r.JSON()["refresh_token"].(string)
		access, _ := r.JSON()["access_token"].(string)
		st := refresh(victim.Refresh)
		p.try(st == 401, fmt.Sprintf("replay of a spent token -> %d", st))
		st = refresh(next)
		p.try(st == 401, fmt.Sprintf("the owner's newer token after the replay -> %d (session not revoked)", st))
		me, err := w.c.Do(ctx, "GET", "/v1/me", access, nil)
		p.try(err == nil && me.Status == 401, fmt.Sprintf("the session's access token after the replay -> %d", me.Status))
	}
	for name, tok := range map[string]string{
		"random wrt_ token":         randomToken("wrt_"),
		"A's access token as one":   w.a.Token,
		"A's token, one char off":   flipLast(w.a.Refresh),
		"A's token, upper-cased":    strings.ToUpper(w.a.Refresh),
		"A's token without prefix":  strings.TrimPrefix(w.a.Refresh, "wrt_"),
		"A's token with junk":       w.a.Refresh + "x",
		"A's token truncated":       w.a.Refresh[:len(w.a.Refresh)-2],
		"SQL in the token":          "wrt_' OR '1'='1",
		"empty":                     "",
		"an API key as one":         w.aKeyRevoked,
		"A's token with whitespace": " " + w.a.Refresh + " ",
	} {
		st := refresh(tok)
		p.try(st == 401 || st == 400, fmt.Sprintf("%s -> %d", name, st))
	}
	return p
}

// invitationTokens tries to join B's workspace with B's invitation of someone else, with
// altered and guessed tokens, and with other kinds of secrets.
func (w *world) invitationTokens(ctx context.Context) *probe {
	p := &probe{name: "invitations: another's invitation, guessed and altered tokens"}
	accept := func(tok, bearer string) int {
		r, err := w.c.Do(ctx, "POST", "/v1/invitations/"+url.PathEscape(tok)+"/accept", bearer, nil)
		if err != nil {
			return 0
		}
		return r.Status
	}
	st := accept(w.bInvitationToken, w.a.Token)
	p.try(st == 403, fmt.Sprintf("B's invitation of carol, accepted by A -> %d", st))
	key, err := w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+w.wsA+"/api-keys", w.a.Token, map[string]string{"name": "probe", "role": "owner"})
	if err == nil {
		st = accept(w.bInvitationToken, key["key"].(string))
		p.try(st == 403 || st == 401, fmt.Sprintf("B's invitation accepted with A's API key -> %d", st))
	}
	for name, tok := range map[string]string{
		"B's token, last char changed": flipLast(w.bInvitationToken),
		"B's token, upper-cased":       strings.ToUpper(w.bInvitationToken),
		"B's token without prefix":     strings.TrimPrefix(w.bInvitationToken, "wiv_"),
		"B's invitation id as a token": w.bInvitation,
		"a refresh token":              w.a.Refresh,
		"random wiv_ token":            randomToken("wiv_"),
		"SQL":                          "wiv_' OR '1'='1",
	} {
		st := accept(tok, w.a.Token)
		p.try(st == 404, fmt.Sprintf("%s -> %d", name, st))
	}
	n, err := w.db.Count(ctx, `SELECT count(*) FROM memberships WHERE workspace_id = $1 AND user_id = $2`, w.wsB, w.a.ID)
	p.tryCount(err, n == 0, "A became a member of B's workspace")
	return p
}

var resetLink = regexp.MustCompile(`reset-password\?token=(wpr_[A-Za-z0-9_-]{43})`)

// resetTokens returns the reset tokens the log mailer has written so far.
func (w *world) resetTokens() []string {
	b, err := os.ReadFile(w.srv.Log)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range resetLink.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// resetGuessing tries to set a password with guessed tokens, then uses a real one twice.
func (w *world) resetGuessing(ctx context.Context) *probe {
	p := &probe{name: "password reset: guessed tokens, a used token again, a retired token"}
	confirm := func(tok, pw string) int {
		r, err := w.c.Do(ctx, "POST", "/v1/auth/password-reset/confirm", "", map[string]string{"token": tok, "new_password": pw})
		if err != nil {
			return 0
		}
		return r.Status
	}
	victim, err := w.c.SignupLogin(ctx, fmt.Sprintf("reset-victim-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		p.try(false, "setup: "+err.Error())
		return p
	}
	ask := func() string {
		before := len(w.resetTokens())
		if _, err := w.c.Must(ctx, 202, "POST", "/v1/auth/password-reset", "", map[string]string{"email": victim.Email}); err != nil {
			return ""
		}
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if all := w.resetTokens(); len(all) > before {
				return all[len(all)-1]
			}
		}
		return ""
	}
	retired := ask()
	real := ask()
	if retired == "" || real == "" {
		p.try(false, "no reset link was mailed (logged)")
		return p
	}
	// Guesses: random tokens, the real one altered, other secrets. Fewer than the 100 an
	// address may fail in 15 minutes, so the real token below is not refused for that.
	guesses := map[string]string{
		"real token, last char changed": flipLast(real),
		"real token, upper-cased":       strings.ToUpper(real),
		"real token, truncated":         real[:len(real)-1],
		"real token without prefix":     strings.TrimPrefix(real, "wpr_"),
		"a refresh token":               victim.Refresh,
		"an access token":               victim.Token,
		"SQL":                           "wpr_' OR '1'='1",
		"empty":                         "",
		"a retired (older) link":        retired,
	}
	for i := range 20 {
		guesses[fmt.Sprintf("random token %d", i)] = randomToken("wpr_")
	}
	for name, tok := range guesses {
		st := confirm(tok, "pwned by a guess 123")
		p.try(st == 422, fmt.Sprintf("%s -> %d", name, st))
	}
	st := confirm(real, "the owner's new password")
	p.try(st == 204, fmt.Sprintf("the real token (owner) -> %d", st))
	st = confirm(real, "pwned by a replay 123")
	p.try(st == 422, fmt.Sprintf("the real token used again -> %d", st))
	for _, pw := range []string{"pwned by a guess 123", "pwned by a replay 123", harness.Password} {
		r, err := w.c.Do(ctx, "POST", "/v1/auth/login", "", map[string]string{"email": victim.Email, "password": pw})
		p.try(err == nil && r.Status == 401, fmt.Sprintf("login with %q after the reset -> %d", pw, r.Status))
	}
	return p
}

// resetTiming asks for resets of known and unknown emails, alternately, each from its own
// client address (the per-address limit would stop the run otherwise), and compares the
// medians of the answer times. The request path does the same work for both (count,
// enqueue), so a gap means it looked the email up.
func (w *world) resetTiming(ctx context.Context, n int) (*probe, time.Duration, time.Duration) {
	p := &probe{name: "password reset: answer time for known vs unknown emails"}
	known := make([]string, n)
	for i := range n {
		u, err := w.c.SignupLogin(ctx, fmt.Sprintf("timed-%d-%d@example.com", i, time.Now().UnixNano()))
		if err != nil {
			p.try(false, "setup: "+err.Error())
			return p, 0, 0
		}
		known[i] = u.Email
	}
	var tk, tu []time.Duration
	for i := range 2 * n {
		email, into := known[i/2], &tk
		if i%2 == 1 {
			email, into = fmt.Sprintf("nobody-%d-%d@example.com", i, time.Now().UnixNano()), &tu
		}
		start := time.Now()
		r, err := w.c.Raw(ctx, "POST", "/v1/auth/password-reset", fmt.Appendf(nil, `{"email":%q}`, email),
			"Content-Type", "application/json", "X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
		*into = append(*into, time.Since(start))
		p.try(err == nil && r.Status == 202, fmt.Sprintf("reset of %s -> %d", email, r.Status))
	}
	mk, mu := median(tk), median(tu)
	gap := mk - mu
	if gap < 0 {
		gap = -gap
	}
	// Loopback timings of a few milliseconds wander by a fraction of one; a user look-up
	// or a password hash on one path only would show as a steady gap.
	p.try(gap < max(2*time.Millisecond, max(mk, mu)/4), fmt.Sprintf("medians differ: known %v, unknown %v", mk, mu))
	return p, mk, mu
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
