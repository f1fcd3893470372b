package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/bench/internal/harness"
)

// campaignKills is how many times the campaign scenario kills its server.
const campaignKills = 2

// --- 5. kill -9 during a campaign ------------------------------------------------------------

// killCampaign runs a campaign of CampaignN recipients on a STANDARD number (paced at 80 a
// second, so it lasts a while), kills its one role-all process with SIGKILL at a third and
// at two thirds of the sends, restarts it each time, and checks from the sandbox's records
// that every recipient got exactly one message and that the campaign's stats add up.
func (e *env) killCampaign(ctx context.Context) ([]row, error) {
	const sec = "5 kill -9 during a campaign"
	n := e.cfg.CampaignN
	db, err := harness.NewDB(ctx, e.base, "chaos5", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()
	meta, err := harness.StartMeta()
	if err != nil {
		return nil, err
	}
	defer meta.Close()
	sb := meta.Sandbox
	sb.SetLatency(20 * time.Millisecond) // sends are in flight when the process dies
	srv, err := harness.StartServerOn(ctx, harness.ServerOptions{Bin: e.bin, DatabaseURL: db.URL, GraphURL: meta.URL,
		LogDir: e.tmp, Name: "chaos5-server"}, meta.ServerAddr)
	if err != nil {
		return nil, err
	}
	defer func() { srv.Kill() }()

	c := harness.NewClient(srv.URL, 2)
	u, err := c.SignupLogin(ctx, fmt.Sprintf("chaos-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	ws, err := c.CreateWorkspace(ctx, u, "Chaos campaign", "enterprise")
	if err != nil {
		return nil, err
	}
	// Below 1,000 a second Meta calls the number STANDARD, which we pace at 80 a second.
	acct, err := sb.CreateAccount(sandbox.AccountOptions{Throughput: 200, MessagingLimitTier: "TIER_UNLIMITED"})
	if err != nil {
		return nil, err
	}
	if _, err := c.Connect(ctx, u, ws, acct.AccessToken, acct.WABAID, acct.PhoneNumberID); err != nil {
		return nil, err
	}
	if err := c.WaitTemplate(ctx, u, ws, "hello_world"); err != nil {
		return nil, err
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO contacts (workspace_id, id, phone, wa_id, name, created_at, updated_at)
		SELECT $1, gen_random_uuid(), '+1650' || (200 + i / 10000)::text || lpad((i % 10000)::text, 4, '0'),
			'1650' || (200 + i / 10000)::text || lpad((i % 10000)::text, 4, '0'), 'Customer ' || i, now(), now()
		FROM generate_series(0, $2 - 1) i`, ws, n); err != nil {
		return nil, err
	}
	path := "/v1/workspaces/" + ws + "/campaigns"
	cp, err := c.Must(ctx, 201, "POST", path, u.Token, map[string]any{"name": "Chaos", "phone_number_id": acct.PhoneNumberID,
		"template": map[string]any{"name": "hello_world", "language": "en_US"}, "audience": map[string]any{"all": true}})
	if err != nil {
		return nil, err
	}
	id, _ := cp["id"].(string)
	path += "/" + id
	if _, err := c.Must(ctx, 202, "POST", path+"/launch", u.Token, nil); err != nil {
		return nil, err
	}
	e.logf("5: campaign of %d launched", n)

	sent := func() int {
		k := 0
		for _, m := range sb.Messages() {
			if m.TemplateName == "hello_world" {
				k++
			}
		}
		return k
	}
	var kills []string
	var lastRestart time.Time
	for k := 1; k <= campaignKills; k++ {
		for deadline := time.Now().Add(2 * time.Minute); sent() < n*k/(campaignKills+1); {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("only %d of %d sent after 2 minutes", sent(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		at := sent()
		srv.Kill()
		t0 := time.Now()
		if srv, err = srv.Restart(ctx); err != nil {
			return nil, err
		}
		lastRestart = time.Now()
		kills = append(kills, fmt.Sprintf("at %d sent (down %s)", at, lastRestart.Sub(t0).Round(time.Millisecond)))
		e.logf("5: killed and restarted the server with %d of %d at the sandbox", at, n)
	}

	// The campaign completes once every recipient's message was sent (or failed).
	var status string
	var stats map[string]any
	for deadline := time.Now().Add(e.cfg.RescueWait + time.Duration(n/80)*time.Second); ; time.Sleep(250 * time.Millisecond) {
		got, err := c.Must(ctx, 200, "GET", path, u.Token, nil)
		if err != nil {
			return nil, err
		}
		status, stats = fmt.Sprint(got["status"]), got["stats"].(map[string]any)
		if status != "running" || time.Now().After(deadline) {
			break
		}
	}
	completedIn := time.Since(lastRestart)
	st := func(k string) int { v, _ := stats[k].(float64); return int(v) }

	// The sandbox's records: one message per recipient, and none to anyone else.
	perTo := map[string]int{}
	for _, m := range sb.Messages() {
		if m.TemplateName == "hello_world" {
			perTo[m.To]++
		}
	}
	twice, strangers := 0, 0
	for to, k := range perTo {
		if k > 1 {
			twice++
		}
		if !strings.HasPrefix(to, "1650") {
			strangers++
		}
	}
	missing := n - len(perTo) + strangers
	var messages, noWAMID int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE wamid IS NULL) FROM messages WHERE campaign_id = $1`, id).
		Scan(&messages, &noWAMID); err != nil {
		return nil, err
	}
	sum := st("sent") + st("failed") + st("skipped") + st("pending") + st("retry_scheduled")
	statsOK := st("recipients") == n && st("sent") == n && sum == n
	return []row{
		{sec, "kills (SIGKILL of the role-all process, restarted at once)", strings.Join(kills, "; "), "", ""},
		{sec, "campaign status at the end", fmt.Sprintf("%s, %s after the last restart", status, completedIn.Round(100*time.Millisecond)), "completed", harness.Check(status == "completed")},
		{sec, "recipients sent more than once (sandbox records)", fmt.Sprint(twice), "0", harness.Check(twice == 0)},
		{sec, "recipients never sent (sandbox records)", fmt.Sprintf("%d of %d", missing, n), "0", harness.Check(missing == 0)},
		{sec, "stats: recipients, sent, failed, skipped, pending (sent + failed + skipped + pending = recipients)",
			fmt.Sprintf("%d, %d, %d, %d, %d", st("recipients"), st("sent"), st("failed"), st("skipped"), st("pending")),
			fmt.Sprintf("%d, %d, 0, 0, 0", n, n), harness.Check(statsOK)},
		{sec, "campaign messages stored / without a wamid", fmt.Sprintf("%d / %d", messages, noWAMID), fmt.Sprintf("%d / 0", n), harness.Check(messages == n && noWAMID == 0)},
		{sec, "restarted server alive at the end", fmt.Sprint(srv.Alive()), "true", harness.Check(srv.Alive())},
	}, nil
}
