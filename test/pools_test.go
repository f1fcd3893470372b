package test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/bootstrap"
)

// A --role=all process serves requests from a pool of their own: with every connection of
// River's (background) pool taken, as a busy campaign takes them, requests still get theirs.
func TestRequestPoolIsolatedFromBackground(t *testing.T) {
	t.Parallel()
	app := startApp(t, func(c *bootstrap.Config) { c.DBMaxConns = 9 })
	tm := newTeam(t, app)

	metrics := string(app.Do(t, "GET", "/metrics", "", nil).Body)
	requests, background := postgres.SplitConns(9, runtime.GOMAXPROCS(0)) // the background pool depends on the CPUs
	require.Contains(t, metrics, fmt.Sprintf(`pgxpool_max_conns{pool="requests"} %d`, requests))
	require.Contains(t, metrics, fmt.Sprintf(`pgxpool_max_conns{pool="background"} %d`, background))

	// Take every background connection.
	ctx := context.Background()
	var held []*pgxpool.Conn
	for range int(app.Pool.Config().MaxConns) {
		c, err := app.Pool.Acquire(ctx)
		require.NoError(t, err)
		held = append(held, c)
	}
	release := func() {
		for _, c := range held {
			c.Release()
		}
		held = nil
	}
	defer release()

	// Reads, a transaction (a contact, its event and audit entry) and readiness: all answered.
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for _, r := range []struct {
				method, path string
				body         any
				want         int
			}{
				{"GET", "/v1/me", nil, 200},
				{"POST", "/v1/workspaces/" + tm.WS + "/contacts", map[string]string{"phone": nextPhone(), "name": "Pool"}, 201},
				{"GET", "/v1/workspaces/" + tm.WS + "/contacts", nil, 200},
				{"GET", "/readyz", nil, 200},
			} {
				res, err := app.Send(r.method, r.path, tm.Owner.Token, r.body)
				if err != nil {
					return err
				}
				if res.Status != r.want {
					return fmt.Errorf("%s %s: %d %s", r.method, r.path, res.Status, res.Body)
				}
			}
			return nil
		}()
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second): // a hang guard, not a timing: they wait for a connection forever otherwise
		t.Fatal("requests waited for the background pool")
	}
}

// An api process has no workers and one pool of all its connections; a worker process one
// pool too.
func TestPoolsByRole(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		role bootstrap.Role
		name string
	}{{bootstrap.RoleAPI, "requests"}, {bootstrap.RoleWorker, "background"}} {
		t.Run(string(c.role), func(t *testing.T) {
			app := startAppWith(t, pgtest.NewURL(t), func(s *bootstrap.Settings) { s.Role = c.role },
				func(cfg *bootstrap.Config) { cfg.DBMaxConns = 7 })
			metrics := string(app.Do(t, "GET", "/metrics", "", nil).Body)
			require.Contains(t, metrics, `pgxpool_max_conns{pool="`+c.name+`"} 7`)
			require.Equal(t, 1, countLines(metrics, "pgxpool_max_conns{"))
			require.EqualValues(t, 7, app.Pool.Config().MaxConns)
		})
	}
}

func countLines(s, prefix string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
