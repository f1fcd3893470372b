package test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/bootstrap"
)

// `waba keys rotate` while a server (already deployed with the new key as current and the
// old one as previous) keeps syncing numbers: every token stays readable, and afterwards a
// server that knows only the new key reads them all.
func TestKeyRotationUnderARunningServer(t *testing.T) {
	t.Parallel()
	sb, point := withSandbox(t)
	dbURL := pgtest.NewURL(t)
	oldKey := bytes.Repeat([]byte{7}, 32) // testConfig's key
	newKey := bytes.Repeat([]byte{9}, 32)

	a1 := startAppOn(t, dbURL, point)
	tm := newTeam(t, a1)
	var ids []string
	for range 5 {
		acct, err := sb.CreateAccount(sandbox.AccountOptions{})
		require.NoError(t, err)
		n := a1.Must(t, 202, "POST", wsPath(tm, "/whatsapp/connect"), tm.Owner.Token, map[string]string{
			"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID})
		ids = append(ids, n["phone_number"].(map[string]any)["id"].(string))
	}
	for _, id := range ids {
		a1.waitNumber(t, tm, id, "connected")
	}
	a1.Stop(t) // the rolling deploy replaces it with a server that knows both keys

	rotated := func(c *bootstrap.Config) {
		c.TokenMasterKey = newKey
		c.PreviousMasterKeys = [][]byte{oldKey}
	}
	a2 := startAppOn(t, dbURL, point, rotated)

	// Keep the running server busy reading tokens while the rotation runs.
	// (Send, not Do: require must not run outside the test's goroutine.)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	statuses := map[int]int{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, id := range ids {
				res, err := a2.Send("POST", wsPath(tm, "/whatsapp/phone-numbers/"+id+"/sync"), tm.Owner.Token, nil)
				if err != nil {
					statuses[0]++
					continue
				}
				statuses[res.Status]++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	cfg := a2.Cfg
	rotated(&cfg)
	msg, err := bootstrap.RotateKeys(context.Background(), cfg, 2)
	cancel()
	wg.Wait()
	require.NoError(t, err)
	require.Contains(t, msg, "rotated 5 ")
	require.Len(t, statuses, 1, "every sync request during the rotation was accepted: %v", statuses)
	require.Positive(t, statuses[202])

	// The syncs queued during the rotation all read their token: none failed, every number
	// is still connected.
	eventually(t, 30*time.Second, func() bool {
		var open, failed int
		require.NoError(t, a2.Pool.QueryRow(context.Background(), `SELECT
			count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded')),
			count(*) FILTER (WHERE cardinality(errors) > 0 OR state IN ('cancelled', 'discarded'))
			FROM river_job WHERE kind = 'whatsapp.onboarding_step'`).Scan(&open, &failed))
		require.Zero(t, failed, "a sync failed during the rotation")
		return open == 0
	}, "the syncs queued during the rotation finish")
	for _, id := range ids {
		require.Equal(t, "connected", a2.Must(t, 200, "GET", wsPath(tm, "/whatsapp/phone-numbers/"+id), tm.Owner.Token, nil)["status"])
	}

	newVault, err := vault.New(context.Background(), vault.Options{MasterKey: newKey})
	require.NoError(t, err)
	defer newVault.Close()
	var stale int
	require.NoError(t, a2.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM phone_numbers WHERE token_key_id <> $1 OR pin_key_id <> $1`, newVault.KeyID()).Scan(&stale))
	require.Zero(t, stale, "every secret is sealed under the new key")
	audit := a2.Must(t, 200, "GET", wsPath(tm, "/audit-logs?action=vault.key_rotated"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, audit, 5)
	again, err := bootstrap.RotateKeys(context.Background(), cfg, 2)
	require.NoError(t, err)
	require.Contains(t, again, "rotated 0 ")
	a2.Stop(t)

	// A server with only the new key reads every token: each sync succeeds.
	a3 := startAppOn(t, dbURL, point, func(c *bootstrap.Config) { c.TokenMasterKey = newKey })
	before := time.Now().UTC()
	for _, id := range ids {
		a3.Must(t, 202, "POST", wsPath(tm, "/whatsapp/phone-numbers/"+id+"/sync"), tm.Owner.Token, nil)
	}
	for _, id := range ids {
		eventually(t, 20*time.Second, func() bool {
			n := a3.Must(t, 200, "GET", wsPath(tm, "/whatsapp/phone-numbers/"+id), tm.Owner.Token, nil)
			synced, _ := time.Parse(time.RFC3339Nano, n["last_synced_at"].(string))
			return n["status"] == "connected" && synced.After(before)
		}, "number readable after rotation")
	}
}
