package sandbox_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// The developer API answers browsers (the web console's one-click account under make run).
func TestDeveloperAPIAnswersBrowsers(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.Config{AppID: "app", AppSecret: "secret"})
	defer sb.Close()
	h := sb.Handler()

	pre := httptest.NewRequest(http.MethodOptions, "/_sandbox/accounts", nil)
	pre.Header.Set("Origin", "http://localhost:8080")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))

	req := httptest.NewRequest(http.MethodPost, "/_sandbox/accounts", strings.NewReader("{}"))
	req.Header.Set("Origin", "http://localhost:8080")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, rec.Body.String(), `"code"`)
}
