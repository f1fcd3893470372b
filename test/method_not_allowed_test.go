package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A known path asked with a method it does not have is 405 method_not_allowed with an
// Allow header naming the methods it has; an unknown path stays 404 not_found.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	owner := a.signup(t, "owner")
	ws := a.createWorkspace(t, owner, "Acme")

	for _, tc := range []struct {
		method, path, token string
		allow               []string
	}{
		{http.MethodPost, "/v1/me", owner.Token, []string{"GET"}},
		{http.MethodDelete, "/v1/workspaces/" + ws + "/messages", owner.Token, []string{"POST"}},
		{http.MethodPut, "/v1/workspaces/" + ws + "/contacts", owner.Token, []string{"GET", "POST"}},
		{http.MethodDelete, "/webhooks/meta", "", []string{"GET", "POST"}},
		{http.MethodPost, "/healthz", "", []string{"GET"}},
		{http.MethodPatch, "/v1/workspaces/" + ws + "/messages/0195f0c0-0000-7000-8000-000000000000", "", []string{"GET"}}, // before authentication
	} {
		r := a.Do(t, tc.method, tc.path, tc.token, nil)
		require.Equal(t, http.StatusMethodNotAllowed, r.Status, "%s %s: %s", tc.method, tc.path, r.Body)
		require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
		require.Equal(t, "method_not_allowed", r.Code(t))
		require.Equal(t, "https://docs.waba.dev/problems/method_not_allowed", r.JSON(t)["type"])
		allow := strings.Split(strings.ReplaceAll(r.Header.Get("Allow"), " ", ""), ",")
		for _, m := range tc.allow {
			require.Contains(t, allow, m, "%s %s: Allow %q", tc.method, tc.path, r.Header.Get("Allow"))
		}
		require.NotContains(t, allow, tc.method)
	}

	for _, p := range []string{"/v1/nope", "/v1/workspaces/" + ws + "/nope", "/nope"} {
		r := a.Do(t, http.MethodGet, p, owner.Token, nil)
		require.Equal(t, http.StatusNotFound, r.Status, p)
		require.Equal(t, "not_found", r.Code(t), p)
		require.Empty(t, r.Header.Get("Allow"), p)
	}
}
