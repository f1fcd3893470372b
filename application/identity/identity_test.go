package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/identity/identitytest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type testBundle struct {
	svc      *identity.Service
	users    *identitytest.Memory // identity.Users and identity.Sessions
	hasher   *fakeHasher
	throttle *fakeThrottle
	audit    *fakeAudit
	tx       *memTx
	mail     *fakeMail
	jobs     *fakeJobs
	clock    *clock
}

const baseURL = "https://console.example.com"

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{users: identitytest.NewMemory(), hasher: &fakeHasher{}, audit: &fakeAudit{},
		mail: &fakeMail{}, jobs: &fakeJobs{}, clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	b.throttle = newFakeThrottle(b.clock.Now)
	b.tx = &memTx{repos: identity.Repos{Users: b.users, Sessions: b.users, Events: b.audit, Mail: b.mail, Jobs: b.jobs}}
	svc, err := identity.NewService(identity.Deps{Tx: b.tx, Users: b.users, Sessions: b.users, Hasher: b.hasher,
		Tokens: fakeTokens{}, Throttle: b.throttle, Events: b.audit, BaseURL: baseURL, Now: b.clock.Now})
	require.NoError(t, err)
	b.svc = svc
	return b
}

// login logs in and returns the tokens.
func (b *testBundle) login(t *testing.T, email, password string) identity.LoginResult {
	t.Helper()
	res, err := b.svc.Login(context.Background(), email, password, domain.RequestMeta{IP: "198.51.100.9"})
	require.NoError(t, err)
	return res
}

// sessionOf is the session an access token names.
func sessionOf(t *testing.T, accessToken string) domain.ID {
	t.Helper()
	_, sessionID, err := fakeTokens{}.Verify(accessToken)
	require.NoError(t, err)
	return sessionID
}

// signup creates a user through the use case.
func (b *testBundle) signup(t *testing.T, email, password string) domain.User {
	t.Helper()
	u, err := b.svc.Signup(context.Background(), identity.SignupInput{Email: email, Password: password, Name: "Some One"})
	require.NoError(t, err)
	return u
}

// workspace creates a workspace named name.
func (b *testBundle) workspace(name string) domain.ID {
	id := domain.NewID()
	b.users.AddWorkspace(id, name)
	return id
}

// addKey stores a key of ws with role and returns it with its secret.
func (b *testBundle) addKey(ws domain.ID, role access.Role, revoked bool) (domain.APIKey, string) {
	secret, hash := domain.NewAPIKeySecret()
	k := domain.APIKey{ID: domain.NewID(), WorkspaceID: ws, Name: "k", Role: role, Hash: hash, CreatedBy: domain.NewID(), CreatedAt: time.Now()}
	if revoked {
		at := time.Now()
		k.RevokedAt = &at
	}
	b.users.AddAPIKey(k)
	return k, secret
}

// fieldNames returns the invalid fields of a KindValidation error.
func fieldNames(t *testing.T, err error) []string {
	t.Helper()
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, domain.KindValidation, de.Kind)
	names := make([]string, len(de.Fields))
	for i, f := range de.Fields {
		names[i] = f.Field
	}
	return names
}

func TestSignup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("NormalizesEmailAndHashesPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		u, err := b.svc.Signup(ctx, identity.SignupInput{Email: "  Alice@Example.COM ", Password: "correct horse", Name: "  Alice  "})
		require.NoError(t, err)
		require.Equal(t, "alice@example.com", u.Email)
		require.Equal(t, "Alice", u.Name)
		require.False(t, u.ID.IsZero())
		require.False(t, u.CreatedAt.IsZero())
		require.Equal(t, time.UTC, u.CreatedAt.Location())
		require.Equal(t, "hashed:correct horse", u.PasswordHash, "the hasher's output is stored, never the password")

		stored, err := b.users.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, stored)
	})

	t.Run("ReportsEveryInvalidField", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.svc.Signup(ctx, identity.SignupInput{Email: "not-an-email", Password: "short", Name: "   "})
		require.ElementsMatch(t, []string{"email", "password", "name"}, fieldNames(t, err))
		require.Zero(t, b.users.Users(), "nothing is stored for invalid input")
	})

	t.Run("FieldRules", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		for _, tc := range []struct {
			name  string
			in    identity.SignupInput
			field string
		}{
			{"EmailWithDisplayName", identity.SignupInput{Email: "Bob <bob@example.com>", Password: "0123456789", Name: "Bob"}, "email"},
			{"EmailMissingDomain", identity.SignupInput{Email: "bob@", Password: "0123456789", Name: "Bob"}, "email"},
			{"PasswordNineChars", identity.SignupInput{Email: "bob@example.com", Password: "012345678", Name: "Bob"}, "password"},
			{"PasswordTooLong", identity.SignupInput{Email: "bob@example.com", Password: strings.Repeat("x", 1025), Name: "Bob"}, "password"},
			{"NameTooLong", identity.SignupInput{Email: "bob@example.com", Password: "0123456789", Name: strings.Repeat("n", 201)}, "name"},
			{"NameEmpty", identity.SignupInput{Email: "bob@example.com", Password: "0123456789", Name: ""}, "name"},
		} {
			_, err := b.svc.Signup(ctx, tc.in)
			require.Equal(t, []string{tc.field}, fieldNames(t, err), tc.name)
		}
	})

	t.Run("PasswordLengthCountsCharactersNotBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		// Ten characters, twenty bytes: accepted. Five characters, fifteen bytes: refused.
		_, err := b.svc.Signup(ctx, identity.SignupInput{Email: "a@example.com", Password: strings.Repeat("é", 10), Name: "A"})
		require.NoError(t, err)
		_, err = b.svc.Signup(ctx, identity.SignupInput{Email: "b@example.com", Password: strings.Repeat("€", 5), Name: "B"})
		require.Equal(t, []string{"password"}, fieldNames(t, err))
	})

	t.Run("TakenEmailInAnyCase", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, "carol@example.com", "0123456789")

		_, err := b.svc.Signup(ctx, identity.SignupInput{Email: "CAROL@example.com", Password: "9876543210", Name: "Carol 2"})
		require.True(t, domain.IsKind(err, domain.KindEmailTaken), "got %v", err)
		require.Equal(t, 1, b.users.Users())
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "203.0.113.7", UserAgent: "test-agent", RequestID: "req-1"}

	t.Run("IssuesTokenForTheRightPassword", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, "dave@example.com", "0123456789")

		res, err := b.svc.Login(ctx, "  DAVE@example.com", "0123456789", meta)
		require.NoError(t, err)
		sessionID := sessionOf(t, res.AccessToken)
		require.Equal(t, accessToken(u.ID, sessionID), res.AccessToken, "for the user and the session it started")
		require.NoError(t, b.users.ActiveSession(ctx, sessionID, u.ID))
		require.Equal(t, tokenTTL, res.ExpiresIn)
		require.Empty(t, b.throttle.failures(), "a success counts no failure")
		require.Empty(t, b.audit.all())
	})

	t.Run("WrongPasswordAndUnknownEmailFailAlike", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, "erin@example.com", "0123456789")

		_, errWrong := b.svc.Login(ctx, "erin@example.com", "wrong-password", meta)
		verifiesAfterWrong := b.hasher.verifyCount()
		_, errUnknown := b.svc.Login(ctx, "nobody@example.com", "wrong-password", meta)

		for _, err := range []error{errWrong, errUnknown} {
			require.True(t, domain.IsKind(err, domain.KindInvalidCredentials), "got %v", err)
		}
		require.Equal(t, errWrong.Error(), errUnknown.Error(), "the response must not tell which was wrong")
		require.Equal(t, 1, verifiesAfterWrong)
		require.Equal(t, 2, b.hasher.verifyCount(), "an unknown email still verifies a (dummy) hash, for equal timing")

		require.Equal(t, map[string]int{
			"email:erin@example.com":   1,
			"email:nobody@example.com": 1,
			"address:203.0.113.7":      2,
		}, b.throttle.failures())

		entries := b.audit.all()
		require.Len(t, entries, 2)
		for _, e := range entries {
			require.Equal(t, "auth.login_failed", e.Action)
			require.Equal(t, domain.ActorUser, e.ActorType)
			require.Equal(t, "user", e.ResourceType)
			require.True(t, e.WorkspaceID.IsZero(), "a failed login belongs to no workspace")
			require.Equal(t, meta.IP, e.IP)
			require.Equal(t, meta.UserAgent, e.UserAgent)
			require.Equal(t, meta.RequestID, e.RequestID)
			require.NotContains(t, e.Details, "password")
		}
		require.Equal(t, u.ID.String(), entries[0].ActorID)
		require.Equal(t, u.ID.String(), entries[0].ResourceID)
		require.Equal(t, map[string]any{"email": "erin@example.com"}, entries[0].Details)
		require.Empty(t, entries[1].ActorID, "an unknown email has no actor")
		require.Empty(t, entries[1].ResourceID)
		require.Equal(t, map[string]any{"email": "nobody@example.com"}, entries[1].Details)
	})

	t.Run("BlockedEmailIsRateLimited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, "frank@example.com", "0123456789")
		b.throttle.block("email:frank@example.com", 3*time.Minute)

		// Even the right password is refused while blocked, and nothing is looked up.
		_, err := b.svc.Login(ctx, "Frank@Example.com", "0123456789", meta)
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindRateLimited, de.Kind)
		require.InDelta(t, float64(3*time.Minute), float64(de.RetryAfter), float64(time.Second), "retry when the window ends")
		require.Zero(t, b.users.EmailLookups())
		require.Zero(t, b.hasher.verifyCount())
		require.Empty(t, b.throttle.failures())
	})

	t.Run("BlockedAddressIsRateLimited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.throttle.block("address:203.0.113.7", 90*time.Second)

		_, err := b.svc.Login(ctx, "anyone@example.com", "whatever-it-is", meta)
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Equal(t, domain.KindRateLimited, de.Kind)
		require.InDelta(t, float64(90*time.Second), float64(de.RetryAfter), float64(time.Second), "retry when the window ends")

		// Another address is not affected.
		_, err = b.svc.Login(ctx, "anyone@example.com", "whatever-it-is", domain.RequestMeta{IP: "198.51.100.1"})
		require.True(t, domain.IsKind(err, domain.KindInvalidCredentials), "got %v", err)
	})

	t.Run("StoreFailureIsNotInvalidCredentials", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("connection refused")
		b.users.Fail(boom)

		_, err := b.svc.Login(ctx, "gina@example.com", "0123456789", meta)
		require.ErrorIs(t, err, boom)
		require.Empty(t, b.throttle.failures())
		require.Empty(t, b.audit.all())
	})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AccessToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, "hal@example.com", "0123456789")
		res, err := b.svc.Login(ctx, "hal@example.com", "0123456789", domain.RequestMeta{})
		require.NoError(t, err)

		p, err := b.svc.Authenticate(ctx, res.AccessToken)
		require.NoError(t, err)
		require.Equal(t, domain.Principal{Type: domain.ActorUser, ID: u.ID, SessionID: sessionOf(t, res.AccessToken)}, p)
	})

	t.Run("APIKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ws := b.workspace("Acme")
		k, secret := b.addKey(ws, access.Agent, false)
		require.True(t, strings.HasPrefix(secret, domain.APIKeyPrefix))

		p, err := b.svc.Authenticate(ctx, secret)
		require.NoError(t, err)
		require.Equal(t, domain.Principal{Type: domain.ActorAPIKey, ID: k.ID, WorkspaceID: ws, Role: access.Agent}, p)
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, revoked := b.addKey(b.workspace("Acme"), access.Owner, true)
		u := b.signup(t, "ida@example.com", "0123456789")
		ownSession := sessionOf(t, b.login(t, "ida@example.com", "0123456789").AccessToken)
		// A valid token for a user that does not exist (deleted, sessions and all).
		gone := accessToken(domain.NewID(), domain.NewID())

		for name, bearer := range map[string]string{
			"Empty":                   "",
			"RevokedKey":              revoked,
			"UnknownKey":              domain.APIKeyPrefix + "bm90LWEta2V5",
			"BareKeyPrefix":           domain.APIKeyPrefix,
			"BadJWT":                  "eyJhbGciOiJIUzI1NiJ9.e30.bad",
			"TokenOfNobody":           gone,
			"UnknownSession":          accessToken(u.ID, domain.NewID()),
			"AnotherUsersSession":     accessToken(domain.NewID(), ownSession),
			"NoSessionInTheOldFormat": "tok:" + u.ID.String(),
		} {
			_, err := b.svc.Authenticate(ctx, bearer)
			require.True(t, domain.IsKind(err, domain.KindUnauthenticated), "%s: got %v", name, err)
		}
	})

	t.Run("StoreFailurePropagates", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, secret := b.addKey(b.workspace("Acme"), access.Owner, false)
		boom := errors.New("db down")
		b.users.Fail(boom)

		_, err := b.svc.Authenticate(ctx, secret)
		require.ErrorIs(t, err, boom, "an outage is not a 401")
		_, err = b.svc.Authenticate(ctx, accessToken(domain.NewID(), domain.NewID()))
		require.ErrorIs(t, err, boom)
	})
}

func TestCallerFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.RequestMeta{IP: "192.0.2.1", RequestID: "r"}

	t.Run("MemberInOneRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, "kit@example.com", "0123456789")
		ws := b.workspace("Acme")
		b.users.AddMember(ws, u.ID, access.Agent, time.Now())
		token := b.login(t, "kit@example.com", "0123456789").AccessToken
		emailLookups := b.users.EmailLookups() // the login's

		c, err := b.svc.CallerFor(ctx, token, ws, meta)
		require.NoError(t, err)
		require.Equal(t, domain.Caller{Type: domain.ActorUser, ID: u.ID, WorkspaceID: ws, Role: access.Agent, Meta: meta}, c)
		require.Zero(t, b.users.IDLookups(), "the membership proves the user")
		require.Equal(t, emailLookups, b.users.EmailLookups())
		require.Equal(t, 1, b.users.Calls("SessionRole"), "the session and the membership in one read")
		require.Zero(t, b.users.Calls("ActiveSession"), "and no separate session check")
		require.Zero(t, b.users.Calls("Workspace"))
	})

	t.Run("NonMemberIsForbiddenOrNotFoundDeletedUserUnauthenticated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.signup(t, "lou@example.com", "0123456789")
		token := b.login(t, "lou@example.com", "0123456789").AccessToken
		ws, deleted := b.workspace("Acme"), b.workspace("Gone")
		b.users.DeleteWorkspace(deleted)

		_, err := b.svc.CallerFor(ctx, token, ws, meta)
		require.True(t, domain.IsKind(err, domain.KindForbidden), "a workspace the user is not in: got %v", err)
		for name, id := range map[string]domain.ID{"unknown": domain.NewID(), "deleted": deleted} {
			_, err = b.svc.CallerFor(ctx, token, id, meta)
			require.True(t, domain.IsKind(err, domain.KindNotFound), "%s workspace: got %v", name, err)
		}

		_, err = b.svc.CallerFor(ctx, accessToken(domain.NewID(), domain.NewID()), ws, meta)
		require.True(t, domain.IsKind(err, domain.KindUnauthenticated), "got %v", err)
		_, err = b.svc.CallerFor(ctx, accessToken(domain.NewID(), domain.NewID()), domain.NewID(), meta)
		require.True(t, domain.IsKind(err, domain.KindUnauthenticated), "401 before 404: got %v", err)
		_, err = b.svc.CallerFor(ctx, "eyJhbGciOiJIUzI1NiJ9.e30.bad", domain.NewID(), meta)
		require.True(t, domain.IsKind(err, domain.KindUnauthenticated), "got %v", err)
	})

	t.Run("APIKeyOnlyInItsWorkspace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ws := b.workspace("Acme")
		k, secret := b.addKey(ws, access.Viewer, false)
		c, err := b.svc.CallerFor(ctx, secret, ws, meta)
		require.NoError(t, err)
		require.Equal(t, domain.Caller{Type: domain.ActorAPIKey, ID: k.ID, WorkspaceID: ws, Role: access.Viewer, Meta: meta}, c)

		_, err = b.svc.CallerFor(ctx, secret, b.workspace("Other"), meta)
		require.True(t, domain.IsKind(err, domain.KindForbidden), "got %v", err)
		_, err = b.svc.CallerFor(ctx, secret, domain.NewID(), meta)
		require.True(t, domain.IsKind(err, domain.KindNotFound), "an unknown workspace: got %v", err)
		_, revoked := b.addKey(ws, access.Owner, true)
		_, err = b.svc.CallerFor(ctx, revoked, ws, meta)
		require.True(t, domain.IsKind(err, domain.KindUnauthenticated), "got %v", err)
	})

	t.Run("StoreFailurePropagates", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("db down")
		b.users.Fail(boom)
		_, err := b.svc.CallerFor(ctx, accessToken(domain.NewID(), domain.NewID()), domain.NewID(), meta)
		require.ErrorIs(t, err, boom, "an outage is not a 401 or a 403")
	})
}

func TestMe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("UserAndMemberships", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.signup(t, "kim@example.com", "0123456789")
		ws := b.workspace("Acme")
		b.users.AddMember(ws, u.ID, access.Agent, time.Now())

		got, ms, err := b.svc.Me(ctx, domain.Principal{Type: domain.ActorUser, ID: u.ID})
		require.NoError(t, err)
		require.Equal(t, u, got)
		require.Equal(t, []domain.Membership{{WorkspaceID: ws, WorkspaceName: "Acme", Role: access.Agent}}, ms)
	})

	t.Run("APIKeyHasNoUser", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, _, err := b.svc.Me(ctx, domain.Principal{Type: domain.ActorAPIKey, ID: domain.NewID()})
		require.True(t, domain.IsKind(err, domain.KindForbidden), "got %v", err)
	})
}
