package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// hookKills is how many times the webhook scenario kills its server.
const hookKills = 2

// --- 6. kill -9 during webhook deliveries ------------------------------------------------------

// killHooks posts HooksN inbound messages to a workspace with one webhook endpoint whose
// receiver answers slowly (so deliveries are in flight), kills the one role-all process
// with SIGKILL at a third and at two thirds of the deliveries, restarts it each time, and
// checks from the receiver's records that every event arrived (none lost), counting the
// ones that arrived twice (allowed: a delivery in flight when the process died is sent
// again, with the same webhook-id).
func (e *env) killHooks(ctx context.Context) ([]row, error) {
	const sec = "6 kill -9 during webhook deliveries"
	n := e.cfg.HooksN
	db, err := harness.NewDB(ctx, e.base, "chaos6", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()
	rcv, err := harness.StartHookReceiver("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer rcv.Close()
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: e.bin, DatabaseURL: db.URL, LogDir: e.tmp, Name: "chaos6-server",
		Env: map[string]string{"WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOWED_CIDRS": "127.0.0.0/8"}})
	if err != nil {
		return nil, err
	}
	defer func() { srv.Kill() }()
	c := harness.NewClient(srv.URL, 2)
	u, err := c.SignupLogin(ctx, fmt.Sprintf("chaos-hooks-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	t := harness.NewTenants(1)[0]
	if t.WorkspaceID, err = c.CreateWorkspace(ctx, u, "Chaos hooks", "enterprise"); err != nil {
		return nil, err
	}
	if _, err := db.InsertNumber(ctx, t.WorkspaceID, t.PhoneNumberID, t.WABAID, t.Display); err != nil {
		return nil, err
	}
	_, secret, err := c.CreateEndpoint(ctx, u, t.WorkspaceID, rcv.URL, "message.received")
	if err != nil {
		return nil, err
	}
	if err := rcv.Secret(secret); err != nil {
		return nil, err
	}
	rcv.Delay.Store(int64(20 * time.Millisecond)) // deliveries are in flight when the process dies

	gen := harness.NewGenerator([]harness.Tenant{t}, 200, 0)
	load := harness.Load(ctx, harness.LoadOptions{Targets: []string{srv.URL}, Concurrency: 8, Count: n, Gen: gen})
	acked := load.Acknowledged()
	if acked == 0 {
		return nil, fmt.Errorf("no inbound webhook was acknowledged")
	}
	e.logf("6: %d inbound messages acknowledged; killing during their deliveries", acked)
	var kills []string
	var lastRestart time.Time
	for k := 1; k <= hookKills; k++ {
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if got, _, _ := rcv.Counts(); got >= acked*k/(hookKills+1) {
				break
			}
			if time.Now().After(deadline) {
				got, _, _ := rcv.Counts()
				return nil, fmt.Errorf("only %d of %d delivered after 2 minutes", got, acked)
			}
		}
		at, _, _ := rcv.Counts()
		srv.Kill()
		t0 := time.Now()
		if srv, err = srv.Restart(ctx); err != nil {
			return nil, err
		}
		lastRestart = time.Now()
		kills = append(kills, fmt.Sprintf("at %d delivered (down %s)", at, lastRestart.Sub(t0).Round(time.Millisecond)))
		e.logf("6: killed and restarted the server with %d of %d delivered", at, acked)
	}
	got := rcv.WaitDistinct(ctx, acked, e.cfg.RescueWait, e.cfg.RescueWait)
	doneIn := time.Since(lastRestart)
	_, repeats, bad := rcv.Counts()
	// Events the log holds but the receiver never saw.
	stored, err := db.Count(ctx, `SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'message.received'`, t.WorkspaceID)
	if err != nil {
		return nil, err
	}
	lost := stored - got
	return []row{
		{sec, "kills (SIGKILL of the role-all process, restarted at once)", strings.Join(kills, "; "), "", ""},
		{sec, "events in the log / acknowledged webhooks", fmt.Sprintf("%d / %d", stored, acked), "equal", harness.Check(stored == acked)},
		{sec, "events never delivered (lost)", fmt.Sprintf("%d of %d", lost, stored), "0", harness.Check(lost == 0)},
		{sec, "events delivered more than once (allowed; same webhook-id)", fmt.Sprint(repeats), "reported", ""},
		{sec, "arrivals whose signature did not verify", fmt.Sprint(bad), "0", harness.Check(bad == 0)},
		{sec, "last restart -> every event delivered", doneIn.Round(100 * time.Millisecond).String(), "", ""},
	}, nil
}
