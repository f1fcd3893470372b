package test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/bootstrap"
)

func TestAdminRiverUI(t *testing.T) {
	t.Parallel()
	without := startApp(t)
	require.Equal(t, 404, without.Do(t, "GET", "/admin/river/", "", nil).Status)

	a := startApp(t, func(c *bootstrap.Config) { c.AdminToken = "operator-secret-token" })
	res := a.Do(t, "GET", "/admin/river/", "", nil)
	require.Equal(t, 401, res.Status)
	require.Contains(t, res.Header.Get("WWW-Authenticate"), "Basic")
	require.Equal(t, 401, a.Do(t, "GET", "/admin/river/", "wrong", nil).Status)
	require.Equal(t, 200, a.Do(t, "GET", "/admin/river/", "operator-secret-token", nil).Status)
	require.Equal(t, 200, a.Do(t, "GET", "/admin/river/api/queues", "operator-secret-token", nil).Status)

	req, err := http.NewRequest("GET", a.URL+"/admin/river/", nil)
	require.NoError(t, err)
	req.SetBasicAuth("ops", "operator-secret-token")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 200, r.StatusCode)
}
