// Command campaign measures a broadcast campaign (issue 16) on one `waba serve --role=all`
// process, a scratch database and the Meta sandbox in this process:
//
// -n contacts (100,000) are seeded in one statement, and a campaign of an approved
// MARKETING template with a bound parameter ({{contact.name|there}}) goes to all of them
// from a number whose sandbox throughput is -pace messages a second (1,000: Meta's HIGH
// level, which our pacer reads as 1,000 a second; below 1,000 the number is STANDARD and
// paced at 80), on a workspace of -plan (enterprise). An API client sends -api-rate
// template messages a second meanwhile and times each request. The sandbox reports every
// message sent, delivered and read through signed webhooks, as Meta does.
//
// It prints the launch request's latency (it takes the audience into recipients), the time
// from the launch to the last recipient queued, the send rate over the run (from the
// sandbox's records) against the pace the campaign may reach, the API's latency
// percentiles, the server's peak RSS (VmHWM), and the rows written to Postgres per
// recipient (pg_stat_user_tables, inserts + updates + deletes, from the launch until
// every status webhook was processed).
//
// The pace a campaign may reach is the lower of the number's throughput and the plan's
// per-minute quota less the share a campaign leaves to the API (campaigns.QuotaLeftToAPI).
//
//	DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/campaign [-n 100000] [-pace 1000] [-plan enterprise] [-max 5m]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/bench/internal/harness"
	"github.com/wabaplatform/waba/domain"
)

type config struct {
	N          int           // recipients
	Pace       int           // the sandbox number's throughput, messages a second
	Plan       string        // the workspace's plan
	APIRate    float64       // API sends a second during the campaign
	MaxRun     time.Duration // longest wait from the launch to the campaign's completion (then it is cancelled)
	Settle     time.Duration // longest wait for the status webhooks after the last send
	MaxConns   int           // DB_MAX_CONNS of the server
	Analyze    time.Duration // how often the busy tables are analyzed during the run (0: never)
	ServerEnv  string        // more KEY=VALUE,... for the server
	ResultsDir string        // "" = bench/results
	Out        io.Writer
}

func main() {
	var cfg config
	flag.IntVar(&cfg.N, "n", 100000, "recipients")
	flag.IntVar(&cfg.Pace, "pace", 1000, "the sandbox number's throughput, messages a second (>= 1,000 is HIGH)")
	flag.StringVar(&cfg.Plan, "plan", "enterprise", "the workspace's plan (its per-minute quota)")
	flag.Float64Var(&cfg.APIRate, "api-rate", 10, "API template sends a second during the campaign")
	flag.DurationVar(&cfg.MaxRun, "max", 5*time.Minute, "longest wait from the launch to the campaign's completion; then it is cancelled")
	flag.DurationVar(&cfg.Settle, "settle", 2*time.Minute, "longest wait for the status webhooks after the last send")
	flag.IntVar(&cfg.MaxConns, "conns", 25, "DB_MAX_CONNS of the server (25 is the product's default)")
	flag.DurationVar(&cfg.Analyze, "analyze", 20*time.Second, "how often the busy tables are analyzed during the run, as autovacuum would (0: never)")
	flag.StringVar(&cfg.ServerEnv, "server-env", "", "more environment for the server, KEY=VALUE,...")
	flag.Parse()
	cfg.Out = os.Stdout
	harness.Main("campaign", cfg.MaxRun+15*time.Minute, cfg.ResultsDir, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, cfg)
	})
}

// outcome holds what the smoke test checks.
type outcome struct {
	recipients, sent, twice int
	completed               bool
	apiSent, apiRefused     int
	rowsPerRecipient        float64
}

var lastOutcome outcome

// The campaign's template: MARKETING (the frequency caps are checked, as for most
// campaigns), with the contact's name bound per recipient.
const (
	templateName = "bench_offer"
	templateBody = `[{"type":"BODY","text":"Hi {{first_name}}, our offer ends tonight"}]`
)

func run(ctx context.Context, cfg config) (*harness.Report, error) {
	rep := harness.NewReport("campaign", "measure", "value", "target", "result")
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Out, "campaign: "+format+"\n", args...) }
	prep, err := harness.Prepare(ctx, "campaign", logf)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(prep.Tmp)
	db, err := harness.NewDB(ctx, prep.Base, "campaign", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()
	meta, err := harness.StartMeta()
	if err != nil {
		return nil, err
	}
	defer meta.Close()
	env := map[string]string{}
	for _, kv := range strings.Split(cfg.ServerEnv, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	srv, err := harness.StartServerOn(ctx, harness.ServerOptions{Bin: prep.Bin, DatabaseURL: db.URL, GraphURL: meta.URL,
		MaxConns: cfg.MaxConns, LogDir: prep.Tmp, Name: "campaign-server", Env: env}, meta.ServerAddr)
	if err != nil {
		return nil, err
	}
	defer srv.Kill()

	w, err := setup(ctx, srv.URL, db, meta.Sandbox, cfg, logf)
	if err != nil {
		return nil, err
	}
	// The peak RSS from here on: the set-up's password hashing (argon2, 64 MiB a hash) is not
	// the campaign's.
	hwmReset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", srv.Pid()), []byte("5"), 0)
	numberPace := messaging.Throughput(domain.PhoneNumber{ThroughputLevel: w.level})
	perMinute := domain.Plan(cfg.Plan).MessagesPerMinute()
	planPace := float64(perMinute*(100-campaigns.QuotaLeftToAPI)/100) / 60
	pace := min(float64(numberPace), planPace)

	// The reading before the launch, once it counts the seeded contacts (Postgres publishes
	// a backend's counts when it is next idle, a second apart at most).
	var before map[string]int64
	for deadline := time.Now().Add(15 * time.Second); ; {
		if before, err = tableRows(ctx, db, writesSQL); err != nil {
			return nil, err
		}
		if before["contacts"] >= int64(cfg.N) || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
	reads0, err := tableRows(ctx, db, readsSQL)
	if err != nil {
		return nil, err
	}
	commits0, err := db.Count(ctx, commitsSQL)
	if err != nil {
		return nil, err
	}
	pool0, err := srv.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	cpu0, err := readCPU(ctx, srv, db)
	if err != nil {
		return nil, err
	}
	api := startAPIClient(ctx, w, cfg.APIRate)
	stopAnalyze := analyzeEvery(ctx, db, cfg.Analyze)
	defer stopAnalyze()
	logf("launching a campaign to %d contacts (number %s: %d msg/s; plan %s: %d a minute, %.0f/s for campaigns)",
		cfg.N, w.level, numberPace, cfg.Plan, perMinute, planPace)
	launchedAt := time.Now()
	if _, err := w.c.Must(ctx, 202, "POST", w.path("/campaigns/"+w.campaign+"/launch"), w.u.Token, nil); err != nil {
		api.stop()
		return nil, err
	}
	launchLatency := time.Since(launchedAt)
	// The recipients exist now: their table's plans are made again from its statistics.
	if _, err := db.Pool.Exec(ctx, `ANALYZE campaign_recipients, campaign_counts`); err != nil {
		api.stop()
		return nil, err
	}

	// Until it completes, or the cap: then it is cancelled (the queued messages still go).
	var c map[string]any
	completed := false
	for deadline := launchedAt.Add(cfg.MaxRun); ; {
		if c, err = w.c.Must(ctx, 200, "GET", w.path("/campaigns/"+w.campaign), w.u.Token, nil); err != nil {
			api.stop()
			return nil, err
		}
		if completed = c["status"] == "completed"; completed || c["status"] != "running" || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			api.stop()
			return nil, err
		}
	}
	ranFor := time.Since(launchedAt)
	if !completed {
		logf("not completed after %s (%v): cancelling", ranFor.Round(time.Second), c["status"])
		if _, err := w.c.Must(ctx, 200, "POST", w.path("/campaigns/"+w.campaign+"/cancel"), w.u.Token, nil); err != nil {
			api.stop()
			return nil, err
		}
	}
	calls := api.stop()
	analyses := stopAnalyze()
	pool1, err := srv.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	rss, _ := harness.ProcStatus(srv.Pid(), "VmRSS")
	hwm, err := harness.ProcStatus(srv.Pid(), "VmHWM")
	if err != nil {
		return nil, err
	}

	// The statuses of what was sent: every message is sent, delivered and read.
	logf("waiting for the status webhooks")
	var stats map[string]int
	for deadline := time.Now().Add(cfg.Settle); ; {
		if stats, err = w.stats(ctx); err != nil {
			return nil, err
		}
		if stats["read"] >= stats["sent"] && stats["pending"] == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return nil, err
		}
	}
	open, err := db.WaitWebhooks(ctx, cfg.Settle)
	if err != nil {
		return nil, err
	}
	cpu1, err := readCPU(ctx, srv, db)
	if err != nil {
		return nil, err
	}
	cpu := cpu1.since(cpu0)
	// Postgres publishes a busy backend's counts at most a second late, an idle one's within
	// ten seconds.
	if err := sleep(ctx, 11*time.Second); err != nil {
		return nil, err
	}
	after, err := tableRows(ctx, db, writesSQL)
	if err != nil {
		return nil, err
	}
	reads1, err := tableRows(ctx, db, readsSQL)
	if err != nil {
		return nil, err
	}
	commits1, err := db.Count(ctx, commitsSQL)
	if err != nil {
		return nil, err
	}

	// What the sandbox got: the campaign's messages by recipient, per second.
	var sends []time.Time
	perTo := map[string]int{}
	for _, m := range meta.Messages() {
		if m.TemplateName == templateName {
			sends = append(sends, m.AcceptedAt)
			perTo[m.To]++
		}
	}
	slices.SortFunc(sends, func(a, b time.Time) int { return a.Compare(b) })
	twice := 0
	for _, k := range perTo {
		if k > 1 {
			twice++
		}
	}
	// A batch's messages share its time: the batches, and the gaps between them.
	rows, err := db.Pool.Query(ctx, `SELECT created_at FROM messages WHERE campaign_id = $1 GROUP BY created_at ORDER BY 1`, w.campaign)
	if err != nil {
		return nil, err
	}
	batches, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return nil, err
	}
	lastQueued := launchedAt
	var gaps []time.Duration
	for i, at := range batches {
		if i > 0 {
			gaps = append(gaps, at.Sub(batches[i-1]))
		}
		lastQueued = at
	}
	slices.Sort(gaps)
	rate, peak := 0.0, 0.0
	if len(sends) > 0 {
		rate = float64(len(sends)) / sends[len(sends)-1].Sub(launchedAt).Seconds()
		peak = peakRate(sends, 5*time.Second)
	}
	writes, byTable := diff(before, after)
	// Per recipient once every one was sent; of a cancelled run, per message it sent.
	perRecipient, per := float64(writes)/float64(max(stats["recipients"], 1)), "recipient"
	if !completed {
		perRecipient, per = float64(writes)/float64(max(len(sends), 1)), "message sent (not completed)"
	}
	lat := calls.latencies()
	apiP99 := harness.Percentile(lat, .99)

	recipients := stats["recipients"]
	queuedIn := "all queued " + lastQueued.Sub(launchedAt).Round(100*time.Millisecond).String() + " after the launch"
	if !completed {
		queuedIn = fmt.Sprintf("not all in %s: %d of %d sent, the rest cancelled", cfg.MaxRun, len(sends), recipients)
	}
	rep.Add("recipients (contacts seeded, then the launch took them)", fmt.Sprintf("%d", recipients), fmt.Sprint(cfg.N), harness.Check(recipients == cfg.N))
	rep.Add("launch request (the audience's snapshot)", fmt.Sprintf("%.0f ms", harness.MS(launchLatency)), "", "")
	rep.Add("launch to the last recipient queued", queuedIn, "", "")
	rep.Add("batches; the time between two, p50 / max", fmt.Sprintf("%d; %s / %s", len(batches),
		harness.Percentile(gaps, .5).Round(10*time.Millisecond), harness.Percentile(gaps, 1).Round(10*time.Millisecond)), "", "")
	rep.Add("pace: the number / the plan's campaign share / the lower", fmt.Sprintf("%d (%s) / %.0f (%s: %d a minute less %d%%) / %.0f msg/s",
		numberPace, w.level, planPace, cfg.Plan, perMinute, campaigns.QuotaLeftToAPI, pace), "", "")
	rep.Add("sent over the run (launch to the last send, sandbox records)", fmt.Sprintf("%d in %s: %.0f msg/s", len(sends), sendSpan(sends, launchedAt), rate), "", "")
	rep.Add("sent, of the number's pace", fmt.Sprintf("%.0f%%", 100*rate/float64(numberPace)), ">= 90%", harness.Verdict(rate >= .9*float64(numberPace)))
	rep.Add("sent, of the pace the plan allows", fmt.Sprintf("%.0f%%", 100*rate/pace), ">= 90%", harness.Verdict(rate >= .9*pace))
	rep.Add("sent, busiest 5 s", fmt.Sprintf("%.0f msg/s (%.0f%% of the number's pace)", peak, 100*peak/float64(numberPace)), "", "")
	rep.Add(fmt.Sprintf("API sends meanwhile (%.0f/s): accepted / refused", cfg.APIRate), fmt.Sprintf("%d / %d %v", calls.accepted(), len(calls.all)-calls.accepted(), calls.refusals()), "", "")
	rep.Add("API latency p50 / p99 / max", fmt.Sprintf("%.1f / %.1f / %.1f ms", harness.MS(harness.Percentile(lat, .5)), harness.MS(apiP99), harness.MS(harness.Percentile(lat, 1))),
		"p99 <= 50 ms", harness.Verdict(len(lat) > 0 && apiP99 <= 50*time.Millisecond))
	if len(analyses) > 0 {
		all, near, share := slowNear(calls, 50*time.Millisecond, analyses, 5*time.Second)
		rep.Add(fmt.Sprintf("API sends over 50 ms: all / during the bench's ANALYZE (every %s) or the 5 s after it", cfg.Analyze),
			fmt.Sprintf("%d / %d (those stretches are %.0f%% of the run)", all, near, 100*share), "", "")
	}
	// Each pool of the server (requests: the HTTP requests'; background: River's and its
	// workers'), as its metrics label them.
	for _, name := range []string{"requests", "background"} {
		m := func(metric string) string { return metric + `{pool="` + name + `"}` }
		size, ok := pool1[m("pgxpool_max_conns")]
		if !ok {
			continue
		}
		acquires := pool1[m("pgxpool_acquire_total")] - pool0[m("pgxpool_acquire_total")]
		waited := pool1[m("pgxpool_empty_acquire_total")] - pool0[m("pgxpool_empty_acquire_total")]
		waitedFor := pool1[m("pgxpool_acquire_wait_seconds_total")] - pool0[m("pgxpool_acquire_wait_seconds_total")]
		rep.Add(fmt.Sprintf("server's %s pool (%.0f of DB_MAX_CONNS %d): acquires, waited for one, mean wait of those", name, size, cfg.MaxConns),
			fmt.Sprintf("%.0f, %.0f%%, %.1f ms", acquires, 100*waited/max(acquires, 1), 1000*waitedFor/max(waited, 1)), "", "")
	}
	// The server's own time for the API's sends (its latency histogram, from the request's
	// routing to the answer): what the client's figures add to it is the client's and the
	// connection's (and the request's wait for the handler's goroutine).
	// The same for Meta's status webhooks, acknowledged once their group commit is done (on
	// the background pool, with the campaign's jobs): Meta waits for that answer.
	for _, r := range []struct{ what, route, status string }{
		{"API sends", `/messages"`, "202"},
		{"Meta's webhooks acknowledged", `route="/webhooks/meta"`, "200"},
	} {
		over := func(le string) float64 {
			return requestsWithin(pool1, r.route, r.status, le) - requestsWithin(pool0, r.route, r.status, le)
		}
		if all := over("+Inf"); all > 0 {
			rep.Add(r.what+", the server's own time over 25 / 50 / 100 ms (its histogram)", fmt.Sprintf("%.1f%% / %.1f%% / %.1f%% of %.0f",
				100*(all-over("0.025"))/all, 100*(all-over("0.05"))/all, 100*(all-over("0.1"))/all, all), "", "")
		}
	}
	rep.Add("server RSS peak (VmHWM) / at the end", fmt.Sprintf("%s / %s", mib(hwm), mib(rss)), "<= 300 MB", harness.Verdict(hwm <= 300e6))
	if hwmReset != nil {
		rep.Note("the peak RSS includes the set-up's (its reset failed: %v)", hwmReset)
	}
	perK := func(d time.Duration) float64 {
		return d.Seconds() * 1000 / float64(max(len(sends)+calls.accepted(), 1))
	}
	rep.Add("CPU seconds per 1,000 messages sent: server / Postgres backends / sandbox and API client (this process)",
		fmt.Sprintf("%.2f / %.2f / %.2f", perK(cpu.server), perK(cpu.postgres), perK(cpu.self)), "", "")
	rep.Add("host CPU from the launch to the last status: ours / other processes / idle (2 CPUs = 200%)",
		fmt.Sprintf("%.0f%% / %.0f%% / %.0f%% over %s", 100*cpu.ours().Seconds()/cpu.wall.Seconds(),
			100*(cpu.busy-cpu.ours()).Seconds()/cpu.wall.Seconds(), 100*cpu.idle.Seconds()/cpu.wall.Seconds(), cpu.wall.Round(time.Second)), "", "")
	rep.Add("Postgres rows written per "+per+" (insert+update+delete)", fmt.Sprintf("%.1f (%d rows)", perRecipient, writes), "", "")
	rep.Add("Postgres transactions committed per message sent", fmt.Sprintf("%.1f", float64(commits1-commits0)/float64(max(len(sends)+calls.accepted(), 1))), "", "")
	rep.Add("recipients sent more than once (sandbox)", fmt.Sprint(twice), "0", harness.Check(twice == 0))
	rep.Add("status webhooks processed (delivered / read of sent; webhooks open)", fmt.Sprintf("%d / %d of %d; %d", stats["delivered"], stats["read"], stats["sent"], open), "", "")
	rep.Note("rows written by table: %s", byTable)
	_, readByTable := diff(reads0, reads1)
	rep.Note("rows read by table (sequential scans and index fetches): %s", readByTable)
	rep.Note("the rows include the API's %d sends (each a message, its conversation, event, audit entry, job and statuses)", calls.accepted())
	rep.Note("the server ran %s for %s (DB_MAX_CONNS %d, -n %d, -max %s); the sandbox and the API client run in this process, on the same CPUs",
		"--role=all", ranFor.Round(time.Second), cfg.MaxConns, cfg.N, cfg.MaxRun)
	if pace < float64(numberPace) {
		rep.Note("the plan's quota, not the number, sets the pace: a campaign spreads the %d messages of its minute over it (campaigns.CampaignPace)",
			perMinute*(100-campaigns.QuotaLeftToAPI)/100)
	}
	lastOutcome = outcome{recipients: recipients, sent: len(sends), twice: twice, completed: completed,
		apiSent: calls.accepted(), apiRefused: len(calls.all) - calls.accepted(), rowsPerRecipient: perRecipient}
	return rep, nil
}

// requestsWithin is how many POSTs whose labels contain route, answered with status, the
// server's latency histogram counts at or under the bucket le, from a reading of its metrics.
func requestsWithin(metrics map[string]float64, route, status, le string) float64 {
	n := 0.0
	for k, v := range metrics {
		if strings.HasPrefix(k, "http_request_duration_seconds_bucket{") && strings.Contains(k, `method="POST"`) &&
			strings.Contains(k, route) && strings.Contains(k, `status="`+status+`"`) && strings.Contains(k, `le="`+le+`"`) {
			n += v
		}
	}
	return n
}

// workspace is the campaign's workspace, its owner, and what the API client sends to.
type workspace struct {
	c        *harness.Client
	u        harness.User
	ws       string
	level    string   // the number's throughput level, as the sync read it
	campaign string   // the draft campaign's id
	targets  []string // contact ids the API client sends to
}

func (w *workspace) path(p string) string { return "/v1/workspaces/" + w.ws + p }

// stats reads the campaign's stats.
func (w *workspace) stats(ctx context.Context) (map[string]int, error) {
	c, err := w.c.Must(ctx, 200, "GET", w.path("/campaigns/"+w.campaign), w.u.Token, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for k, v := range c["stats"].(map[string]any) {
		out[k] = int(v.(float64))
	}
	return out, nil
}

// setup makes the workspace on cfg.Plan, connects a sandbox number of cfg.Pace with the
// campaign's template approved on its WABA, seeds the contacts and creates the campaign.
func setup(ctx context.Context, url string, db *harness.DB, sb *sandbox.Sandbox, cfg config, logf func(string, ...any)) (*workspace, error) {
	w := &workspace{c: harness.NewClient(url, 8)}
	var err error
	if w.u, err = w.c.SignupLogin(ctx, fmt.Sprintf("campaign-%d@example.com", time.Now().UnixNano())); err != nil {
		return nil, err
	}
	// A database in service: another tenant's contacts, messages, conversations and statuses
	// (cfg.N messages), analyzed. On tables analyzed empty the planner scans them whole, and
	// its cached plans would keep doing so for the whole run.
	if _, err := w.c.CreateWorkspace(ctx, w.u, "Earlier tenant", ""); err != nil {
		return nil, err
	}
	logf("seeding a history of %d messages", cfg.N)
	if _, err := db.SeedHistory(ctx, cfg.N); err != nil {
		return nil, err
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO message_statuses (wamid, status, workspace_id, occurred_at)
		SELECT m.wamid, s, m.workspace_id, m.created_at FROM messages m, unnest('{sent,delivered}'::text[]) s
		WHERE m.direction = 'outbound'`); err != nil {
		return nil, fmt.Errorf("seed statuses: %w", err)
	}
	if w.ws, err = w.c.CreateWorkspace(ctx, w.u, "Campaign bench", cfg.Plan); err != nil {
		return nil, err
	}
	acct, err := sb.CreateAccount(sandbox.AccountOptions{Throughput: cfg.Pace, MessagingLimitTier: "TIER_UNLIMITED"})
	if err != nil {
		return nil, err
	}
	// Approved at Meta before the number connects: the connect-time sync brings it.
	if _, err := sb.AddTemplate(acct.WABAID, sandbox.TemplateSpec{Name: templateName, Language: "en_US", Category: "MARKETING",
		ParameterFormat: "named", Components: json.RawMessage(templateBody)}); err != nil {
		return nil, err
	}
	number, err := w.c.Connect(ctx, w.u, w.ws, acct.AccessToken, acct.WABAID, acct.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{templateName, "hello_world"} {
		if err := w.c.WaitTemplate(ctx, w.u, w.ws, name); err != nil {
			return nil, err
		}
	}
	p, err := w.c.Must(ctx, 200, "GET", w.path("/whatsapp/phone-numbers/"+number), w.u.Token, nil)
	if err != nil {
		return nil, err
	}
	w.level, _ = p["throughput_level"].(string)

	logf("seeding %d contacts", cfg.N)
	t0 := time.Now()
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO contacts (workspace_id, id, phone, wa_id, name, created_at, updated_at)
		SELECT $1, gen_random_uuid(), '+1650' || (200 + i / 10000)::text || lpad((i % 10000)::text, 4, '0'),
			'1650' || (200 + i / 10000)::text || lpad((i % 10000)::text, 4, '0'),
			CASE WHEN i % 10 = 0 THEN '' ELSE 'Customer ' || i END, now(), now()
		FROM generate_series(0, $2 - 1) i`, w.ws, cfg.N); err != nil {
		return nil, fmt.Errorf("seed contacts: %w", err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE`); err != nil {
		return nil, err
	}
	logf("seeded in %s", time.Since(t0).Round(time.Millisecond))
	// The API writes to customers anywhere in the list, as agents do: some of them in the
	// batch the campaign is queueing.
	rows, err := db.Pool.Query(ctx, `SELECT id::text FROM contacts WHERE workspace_id = $1 ORDER BY random() LIMIT 1000`, w.ws)
	if err != nil {
		return nil, err
	}
	if w.targets, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	c, err := w.c.Must(ctx, 201, "POST", w.path("/campaigns"), w.u.Token, map[string]any{
		"name": "Bench offer", "phone_number_id": acct.PhoneNumberID, "audience": map[string]any{"all": true},
		"template": map[string]any{"name": templateName, "language": "en_US", "components": []any{map[string]any{
			"type": "body", "parameters": []any{map[string]any{"type": "text", "parameter_name": "first_name", "text": "{{contact.name|there}}"}}}}},
	})
	if err != nil {
		return nil, err
	}
	w.campaign, _ = c["id"].(string)
	return w, nil
}

// call is one API request: when it started, how long it took, its status (0: no answer).
type call struct {
	at      time.Time
	took    time.Duration
	status  int
	problem string
}

type calls struct{ all []call }

func (c calls) accepted() int {
	n := 0
	for _, x := range c.all {
		if x.status == http.StatusAccepted {
			n++
		}
	}
	return n
}

// refusals counts the other answers by status and problem code.
func (c calls) refusals() map[string]int {
	out := map[string]int{}
	for _, x := range c.all {
		if x.status != http.StatusAccepted {
			out[fmt.Sprintf("%d %s", x.status, x.problem)]++
		}
	}
	return out
}

// latencies are the sorted durations of the accepted requests.
func (c calls) latencies() []time.Duration {
	var out []time.Duration
	for _, x := range c.all {
		if x.status == http.StatusAccepted {
			out = append(out, x.took)
		}
	}
	slices.Sort(out)
	return out
}

// apiClient sends a template a second to the workspace's contacts at a fixed rate (open
// loop: a slow answer does not delay the next request) until stopped.
type apiClient struct {
	stop func() calls
}

func startAPIClient(ctx context.Context, w *workspace, rate float64) apiClient {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var out calls
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		defer close(done)
		if rate <= 0 {
			return
		}
		start := time.Now()
		for i := 0; ; i++ {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if sleep(ctx, time.Until(due)) != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				r, err := w.c.Do(context.WithoutCancel(ctx), "POST", w.path("/messages"), w.u.Token, map[string]any{
					"to": w.targets[i%len(w.targets)], "type": "template",
					"template": map[string]any{"name": "hello_world", "language": map[string]string{"code": "en_US"}}})
				x := call{at: t0, took: time.Since(t0)}
				if err == nil {
					x.status = r.Status
					x.problem, _ = r.JSON()["code"].(string)
				}
				mu.Lock()
				out.all = append(out.all, x)
				mu.Unlock()
			}()
		}
	}()
	return apiClient{stop: func() calls {
		cancel()
		<-done
		wg.Wait()
		sort.Slice(out.all, func(i, j int) bool { return out.all[i].at.Before(out.all[j].at) })
		return out
	}}
}

// cpuUse is the CPU time spent so far by the server, the Postgres backends of the scratch
// database (by pid: a backend that ended is not counted), this process (the sandbox and
// the API client), and the whole host, busy and idle.
type cpuUse struct {
	server, self, busy, idle, wall time.Duration
	postgres                       time.Duration
	backends                       map[int]time.Duration
	at                             time.Time
}

func (c cpuUse) ours() time.Duration { return c.server + c.postgres + c.self }

// since is the CPU time spent between two readings.
func (c cpuUse) since(before cpuUse) cpuUse {
	d := cpuUse{server: c.server - before.server, self: c.self - before.self, busy: c.busy - before.busy,
		idle: c.idle - before.idle, wall: c.at.Sub(before.at)}
	for pid, t := range c.backends {
		d.postgres += t - before.backends[pid]
	}
	return d
}

func readCPU(ctx context.Context, srv *harness.Server, db *harness.DB) (cpuUse, error) {
	c := cpuUse{backends: map[int]time.Duration{}, at: time.Now()}
	var err error
	if c.server, err = harness.CPUTime(srv.Pid()); err != nil {
		return c, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return c, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return c, err
	}
	for _, pid := range pids {
		if t, err := harness.CPUTime(int(pid)); err == nil { // it may have ended meanwhile
			c.backends[int(pid)] = t
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return c, err
	}
	c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// The host: the first line of /proc/stat, in ticks of 1/100 s (user nice system idle
	// iowait irq softirq steal ...).
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
			c.idle += time.Duration(v) * 10 * time.Millisecond
		case 8, 9: // guest time is counted in user already
		default:
			c.busy += time.Duration(v) * 10 * time.Millisecond
		}
	}
	return c, nil
}

// analyzeEvery analyzes the tables a campaign grows every d until stopped. Autovacuum
// would, a minute after they grew by a tenth; but the shared cluster's three autovacuum
// workers serve every scratch database of the other suites too, and plans made while
// river_job and events were small scan them whole (hundreds of millions of rows read over
// a run without this). It is throttled as autovacuum's own ANALYZE is (cost delay 2 ms per
// 200 cost units, PostgreSQL's defaults): an unthrottled one takes the CPUs for about 3 s
// each time, which no deployment's autovacuum does.
//
// stop ends it and returns when each ANALYZE ran (the API's slow sends are set against them).
func analyzeEvery(ctx context.Context, db *harness.DB, d time.Duration) (stop func() []span) {
	if d <= 0 {
		return func() []span { return nil }
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var ran []span
	go func() {
		defer close(done)
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			return
		}
		defer conn.Release()
		// Session settings, and ANALYZE on its own: one table a transaction, so no snapshot
		// is held across the tables (the event log's readers wait for the oldest one).
		if _, err := conn.Exec(ctx, `SET vacuum_cost_delay = '2ms'`); err != nil {
			return
		}
		if _, err := conn.Exec(ctx, `SET vacuum_cost_limit = 200`); err != nil {
			return
		}
		for sleep(ctx, d) == nil {
			from := time.Now()
			_, _ = conn.Exec(ctx, `ANALYZE river_job, events, messages, message_statuses, conversations, campaign_recipients, campaign_counts, billing_ledger`)
			ran = append(ran, span{from, time.Now()})
		}
	}()
	var once sync.Once
	return func() []span { once.Do(func() { cancel(); <-done }); return ran }
}

// span is a stretch of time.
type span struct{ from, to time.Time }

// slowNear counts the accepted calls that took over slow, and those of them that started
// during one of spans or within after of its end; share is the part of the calls' time
// those windows cover.
func slowNear(c calls, slow time.Duration, spans []span, after time.Duration) (all, near int, share float64) {
	if len(c.all) == 0 {
		return 0, 0, 0
	}
	in := func(t time.Time) bool {
		return slices.ContainsFunc(spans, func(s span) bool { return !t.Before(s.from) && t.Before(s.to.Add(after)) })
	}
	for _, x := range c.all {
		if x.status == http.StatusAccepted && x.took > slow {
			all++
			if in(x.at) {
				near++
			}
		}
	}
	first, last := c.all[0].at, c.all[len(c.all)-1].at
	var covered time.Duration
	for _, s := range spans {
		from, to := s.from, s.to.Add(after)
		if from.Before(first) {
			from = first
		}
		if to.After(last) {
			to = last
		}
		covered += max(to.Sub(from), 0)
	}
	return all, near, covered.Seconds() / max(last.Sub(first).Seconds(), 1)
}

// Counts of pg_stat_user_tables, and the database's commits.
const (
	writesSQL  = `n_tup_ins + n_tup_upd + n_tup_del`
	readsSQL   = `coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)`
	commitsSQL = `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`
)

// tableRows reads a count of pg_stat_user_tables (writesSQL, readsSQL) by table.
func tableRows(ctx context.Context, db *harness.DB, count string) (map[string]int64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT relname, `+count+` FROM pg_stat_user_tables`)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var name string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil })
	return out, err
}

// diff is the rows written between two readings, in total and by table (largest first).
func diff(before, after map[string]int64) (int64, string) {
	type t struct {
		name string
		n    int64
	}
	var ts []t
	var total int64
	for name, n := range after {
		if d := n - before[name]; d > 0 {
			ts = append(ts, t{name, d})
			total += d
		}
	}
	slices.SortFunc(ts, func(a, b t) int { return int(b.n - a.n) })
	var parts []string
	for _, x := range ts {
		parts = append(parts, fmt.Sprintf("%s %d", x.name, x.n))
	}
	return total, strings.Join(parts, ", ")
}

// peakRate is the most sends within any window of w (sorted times), per second.
func peakRate(sorted []time.Time, w time.Duration) float64 {
	best, j := 0, 0
	for i := range sorted {
		for sorted[i].Sub(sorted[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return float64(best) / w.Seconds()
}

func sendSpan(sends []time.Time, from time.Time) string {
	if len(sends) == 0 {
		return "-"
	}
	return sends[len(sends)-1].Sub(from).Round(100 * time.Millisecond).String()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
