// Command capacity is `make bench`: how much one instance carries, measured against real
// `waba serve` processes on loopback and a scratch database on the Postgres of DATABASE_URL.
//
//  1. Webhook ingest: signed webhooks (messages and statuses, several tenants, unique
//     wamids) posted at fixed concurrency for a fixed time to an api-role process, and at a
//     fixed rate; acknowledged/s and latency percentiles. The baseline, in the same run:
//     single-row inserts of the same payloads into a plain table, one commit each, at the
//     same concurrency through pgx. Ratio ours/baseline.
//
//  2. Inbound processing: the webhooks queued in 1, drained by a worker-role process; events/s
//     from queued to processed, and every acknowledged message stored once.
//
//     2b. The usage ledger: status webhooks without and with a pricing object, the same
//     number of each, queued and drained as in 2 (in the order A, B, B, A); events/s of
//     each, the ratio and the ledger rows the priced ones wrote.
//
//     2c. Automation: inbound message webhooks without and with 50 enabled keyword rules per
//     workspace (created through the API; none replying), queued and drained as in 2 (order
//     A, B, B, A); the webhooks' events/s, the events/s until the "automation" event-log
//     subscriber has read the drain's last event, its time in Handle, and the ratios.
//
//  3. Send pipeline: `go run ./bench/send` and its figures.
//
//  4. Go benchmarks of the hot functions.
//
//  5. Scaling: the ingest run with one and with two server processes on one database.
//
//  6. Role all, as a default deployment runs: one process ingests and processes at once;
//     the ingest runs of 1 (closed loop, paced) against it, and how processing kept up.
//
//     DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/capacity [-duration 10s] [-c 32] [-rate 2000]
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

type config struct {
	Duration       time.Duration // each ingest run
	Conc           int           // closed-loop concurrency (ingest and baseline)
	Rate           float64       // paced ingest run, webhooks a second
	Tenants        int           // business numbers (two per workspace)
	DrainLimit     time.Duration // longest inbound drain measured
	WebhookWorkers int           // WEBHOOK_WORKERS of the draining worker (0: the default)
	SendN          int           // messages for bench/send (0: skip)
	GoBench        time.Duration // -benchtime of the Go benchmarks (0: skip)
	Scaling        bool
	AllConc        int    // closed-loop clients of the role-all run (0: skip it)
	AllOnly        bool   // only the role-all run of the ingest runs
	AllWorkers     int    // WEBHOOK_WORKERS of the role-all process (0: the default)
	AllEnv         string // more KEY=VALUE,... for the role-all process (GOGC=200, say)
	Ledger         int    // status webhooks per phase of 2b (0: skip it)
	LedgerRounds   int    // drains of each phase in 2b (order A, B, B, A, ...)
	LedgerOnly     bool   // skip the ingest runs (1, 5, 2) and role all (6)
	Automation     int    // message webhooks per phase of 2c (0: skip it)
	AutoRounds     int    // drains of each phase in 2c (order A, B, B, A, ...)
	AutoRules      int    // enabled rules per workspace in phase B of 2c
	AutoOnly       bool   // skip 1, 5, 2, 6 and 2b: only 2c, then send and go bench unless skipped
	ResultsDir     string // "" = bench/results
	Out            io.Writer
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of each ingest run")
	flag.IntVar(&cfg.Conc, "c", 32, "concurrent clients of the closed-loop runs and the baseline")
	flag.Float64Var(&cfg.Rate, "rate", 2000, "webhooks a second of the paced run")
	flag.IntVar(&cfg.Tenants, "tenants", 8, "business numbers the webhooks are spread over (two per workspace)")
	flag.DurationVar(&cfg.DrainLimit, "drain", 90*time.Second, "longest inbound drain measured")
	flag.IntVar(&cfg.WebhookWorkers, "webhook-workers", 0, "WEBHOOK_WORKERS of the draining worker process (0: the default, 200)")
	flag.IntVar(&cfg.SendN, "send", 4000, "messages for go run ./bench/send (0 skips it)")
	flag.DurationVar(&cfg.GoBench, "benchtime", 300*time.Millisecond, "-benchtime of the Go benchmarks (0 skips them)")
	flag.BoolVar(&cfg.Scaling, "scaling", true, "also run ingest against two server processes")
	flag.IntVar(&cfg.AllConc, "all-c", 16, "closed-loop clients of the run against one role-all process (0 skips it)")
	flag.IntVar(&cfg.AllWorkers, "all-webhook-workers", 0, "WEBHOOK_WORKERS of the role-all process (0: the default)")
	flag.StringVar(&cfg.AllEnv, "all-env", "", "more environment for the role-all process, KEY=VALUE,... (GOGC=200, say)")
	flag.BoolVar(&cfg.AllOnly, "all-only", false, "skip the api-role runs (1, 2, 5): only the role-all run, then send and go bench unless skipped")
	flag.IntVar(&cfg.Ledger, "ledger", 20000, "status webhooks per phase of 2b, without and with pricing (0 skips it)")
	flag.IntVar(&cfg.LedgerRounds, "ledger-rounds", 2, "drains of each phase in 2b, in the order A, B, B, A, ... (the webhooks split between them)")
	flag.BoolVar(&cfg.LedgerOnly, "ledger-only", false, "skip the ingest runs (1, 5, 2) and role all (6): only 2b, then send and go bench unless skipped")
	flag.IntVar(&cfg.Automation, "automation", 16000, "inbound message webhooks per phase of 2c, without and with rules (0 skips it)")
	flag.IntVar(&cfg.AutoRounds, "automation-rounds", 2, "drains of each phase in 2c, in the order A, B, B, A, ... (the webhooks split between them)")
	flag.IntVar(&cfg.AutoRules, "automation-rules", 50, "enabled rules per workspace in phase B of 2c")
	flag.BoolVar(&cfg.AutoOnly, "automation-only", false, "skip 1, 5, 2, 6 and 2b: only 2c, then send and go bench unless skipped")
	flag.Parse()
	cfg.Out = os.Stdout
	harness.Main("bench", 15*time.Minute, cfg.ResultsDir, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, cfg)
	})
}

// outcome holds the figures the smoke test checks.
type outcome struct {
	closed, paced  harness.LoadResult
	twoServers     harness.LoadResult
	allClosed      harness.LoadResult
	allPaced       harness.LoadResult
	allLost        int
	allDoubled     int
	baselinePerS   float64
	processed      int
	queued         int
	lost, doubled  int
	advanced       int            // seeded outbound messages the statuses moved past sent
	ledger         []ledgerTotals // 2b: A, B
	ledgerAdvanced int            // 2b: its seeded messages moved past sent
	automation     []autoTotals   // 2c: A, B
}

var lastOutcome outcome

func run(ctx context.Context, cfg config) (*harness.Report, error) {
	rep := harness.NewReport("bench", "section", "measure", "value", "target", "result")
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Out, "bench: "+format+"\n", args...) }
	prep, err := harness.Prepare(ctx, "bench", logf)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(prep.Tmp)
	base, tmp, bin := prep.Base, prep.Tmp, prep.Bin
	db, err := harness.NewDB(ctx, base, "bench", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()

	// Servers: api role only, so this measures the ingest path and nothing else competes
	// for the two cores; the workers are measured on their own in step 2.
	opts := harness.ServerOptions{Bin: bin, DatabaseURL: db.URL, Role: "api", MaxConns: 16, LogDir: tmp, Name: "api-1"}
	api1, err := harness.StartServer(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer api1.Kill()
	tenants, owner, err := setupTenants(ctx, api1.URL, db, cfg.Tenants)
	if err != nil {
		return nil, err
	}
	outbound, err := db.SeedHistory(ctx, historySize)
	if err != nil {
		return nil, err
	}
	gen := harness.NewGenerator(tenants, 500, 4) // every 4th webhook a status
	gen.KnownOutbound = outbound                 // of a message we sent: it advances and is announced
	sample := gen.At(0)
	if !cfg.AllOnly && !cfg.LedgerOnly && !cfg.AutoOnly {
		if err := apiRuns(ctx, rep, cfg, opts, api1, db, gen, logf); err != nil {
			return rep, err
		}
	} else if err := api1.Stop(); err != nil {
		logf("api-1 stop: %v", err)
	}

	// 6. Role all: the same ingest runs against a process that also works the jobs.
	if cfg.AllConc > 0 && !cfg.LedgerOnly && !cfg.AutoOnly {
		if err := roleAll(ctx, rep, cfg, opts, db, gen, logf); err != nil {
			return rep, err
		}
	}

	// 2b. The usage ledger's cost to status processing, after the others (it adds messages
	// and jobs they would otherwise find).
	if cfg.Ledger > 0 && !cfg.AutoOnly {
		if err := ledgerRuns(ctx, rep, cfg, opts, db, tenants, logf); err != nil {
			return rep, err
		}
	}

	// 2c. Keyword rules' cost to inbound processing, the automation subscriber included.
	if cfg.Automation > 0 {
		if err := automationRuns(ctx, rep, cfg, opts, db, tenants, owner, logf); err != nil {
			// Reported, and the sections after it still run.
			rep.Add(autoSec, "automation runs", "error: "+firstLine(err.Error()), "", harness.Fail)
		}
	}

	// 3. Send pipeline: the existing benchmark, unchanged.
	if cfg.SendN > 0 {
		// Concurrent: the API and the workers share the 2 CPUs. Burst: the workers paused
		// while the API accepts, then the drain alone (each stage's own capacity).
		for _, mode := range []struct {
			label, c string
			burst    bool
		}{{"concurrent", "32", false}, {"burst", "6", true}} {
			logf("send (%s): go run ./bench/send -n %d -c %s -workspaces 4", mode.label, cfg.SendN, mode.c)
			if err := sendBench(ctx, rep, base, cfg.SendN, mode.label, mode.c, mode.burst); err != nil {
				rep.Add("3 send", mode.label+": go run ./bench/send", "error: "+firstLine(err.Error()), "", harness.NotMet)
			}
		}
	}
	// 4. Go benchmarks.
	if cfg.GoBench > 0 {
		logf("go benchmarks (-benchtime %s)", cfg.GoBench)
		if err := goBench(ctx, rep, cfg.GoBench); err != nil {
			rep.Add("4 go bench", "go test -bench", "error: "+firstLine(err.Error()), "", harness.Fail)
		}
	}
	rep.Note("ingest runs 1 and 5 post to `waba serve --role=api` processes (no workers in them), run 6 to one `--role=all` process that works the jobs too (DB_MAX_CONNS 25, WEBHOOK_WORKERS 200); the load generator is this process, on the same %s CPUs", rep.Host["cpus"])
	rep.Note("payloads: 1 message (text, image, location, interactive, ad referral) or, every 4th, 1 status of a seeded outbound message (sent/delivered/read: it is locked, advanced and announced), %d numbers in %d workspaces, ~%d bytes", cfg.Tenants, (cfg.Tenants+1)/2, len(sample.Body))
	rep.Note("the database holds %d earlier messages of %d contacts and their conversations, analyzed, before the runs", historySize, historySize/10)
	rep.Note("latency is measured by the client from request start to response end; the paced run issues requests on schedule with up to 256 in flight, after an unmeasured second at its rate")
	return rep, nil
}

// apiRuns are runs 1, 5 and 2: ingest into api-role processes, then the drain by a
// worker-role one.
func apiRuns(ctx context.Context, rep *harness.Report, cfg config, opts harness.ServerOptions, api1 *harness.Server,
	db *harness.DB, gen *harness.Generator, logf func(string, ...any)) error {
	sample := gen.At(0)
	var acked []harness.Payload
	keep := func(r harness.LoadResult) { acked = append(acked, r.Acked...) }

	// 1. Ingest, closed loop.
	logf("warm-up 1s")
	keep(harness.Load(ctx, harness.LoadOptions{Targets: []string{api1.URL}, Concurrency: cfg.Conc, Duration: time.Second, Gen: gen, Track: true}))
	logf("ingest: %d clients for %s (closed loop)", cfg.Conc, cfg.Duration)
	closed := harness.Load(ctx, harness.LoadOptions{Targets: []string{api1.URL}, Concurrency: cfg.Conc, Duration: cfg.Duration, Gen: gen, Track: true})
	keep(closed)
	lastOutcome.closed = closed
	addLoad(rep, "1 ingest", fmt.Sprintf("%d clients, 1 process", cfg.Conc), closed)

	// Baseline: the same payloads, one INSERT and one commit each, same concurrency.
	logf("baseline: single-row inserts, %d connections for %s", cfg.Conc, cfg.Duration)
	bl, err := baseline(ctx, db.URL, cfg.Conc, cfg.Duration, gen)
	if err != nil {
		return err
	}
	lastOutcome.baselinePerS = bl.PerSecond()
	rep.Add("1 ingest", "baseline: plain INSERT, 1 commit each", fmt.Sprintf("%.0f/s p50 %.1fms p99 %.1fms (%d B payloads)",
		bl.PerSecond(), harness.MS(bl.Percentile(.5)), harness.MS(bl.Percentile(.99)), len(sample.Body)), "", "")
	ratio := 0.0
	if bl.PerSecond() > 0 {
		ratio = closed.PerSecond() / bl.PerSecond()
	}
	rep.Add("1 ingest", "ratio ours / baseline", fmt.Sprintf("%.2f", ratio), ">= 1.0", harness.Verdict(ratio >= 1.0))

	// Paced at the target rate, after a second at that rate that is not measured (as the
	// closed loop has): it would otherwise measure the baseline's aftermath, its 32
	// backends exiting and autovacuum taking up its table.
	logf("ingest: paced at %.0f/s, 1s warm-up then %s", cfg.Rate, cfg.Duration)
	pacedOpts := harness.LoadOptions{Targets: []string{api1.URL}, Concurrency: 256, Rate: cfg.Rate, Duration: time.Second, Gen: gen, Track: true}
	keep(harness.Load(ctx, pacedOpts))
	pacedOpts.Duration = cfg.Duration
	paced := harness.Load(ctx, pacedOpts)
	keep(paced)
	lastOutcome.paced = paced
	addLoad(rep, "1 ingest", fmt.Sprintf("paced at %.0f/s", cfg.Rate), paced)
	keptUp := paced.PerSecond() >= cfg.Rate*0.97
	p99 := paced.Percentile(.99)
	rep.Add("1 ingest", fmt.Sprintf("p99 at %.0f/s", cfg.Rate), fmt.Sprintf("%.1fms (achieved %.0f/s)", harness.MS(p99), paced.PerSecond()),
		"<= 10ms at 2,000/s", harness.Verdict(keptUp && p99 <= 10*time.Millisecond && cfg.Rate >= 2000))

	// 5. Scaling: two api processes on the same database.
	if cfg.Scaling {
		o2 := opts
		o2.Name = "api-2"
		api2, err := harness.StartServer(ctx, o2)
		if err != nil {
			return err
		}
		logf("scaling: %d clients over 2 processes for %s", cfg.Conc, cfg.Duration)
		two := harness.Load(ctx, harness.LoadOptions{Targets: []string{api1.URL, api2.URL}, Concurrency: cfg.Conc, Duration: cfg.Duration, Gen: gen, Track: true})
		keep(two)
		lastOutcome.twoServers = two
		addLoad(rep, "5 scaling", "1 process (run 1 above)", closed)
		addLoad(rep, "5 scaling", fmt.Sprintf("2 processes, %d clients", cfg.Conc), two)
		if closed.PerSecond() > 0 {
			rep.Add("5 scaling", "2 processes / 1 process", fmt.Sprintf("%.2fx", two.PerSecond()/closed.PerSecond()), "", "")
		}
		if err := api2.Stop(); err != nil {
			logf("api-2 stop: %v", err)
		}
	}
	if err := api1.Stop(); err != nil {
		logf("api-1 stop: %v", err)
	}

	// 2. Inbound processing: everything acknowledged above is queued; drain it. The queue is
	// analyzed first, as autovacuum would have done by now in service: with the statistics
	// of the empty queue, the drain's poll planned a scan of every job of the kind.
	if _, err := db.Pool.Exec(ctx, `ANALYZE river_job`); err != nil {
		return err
	}
	queued, err := db.Count(ctx, `SELECT count(*) FROM `+webhookBodies+` WHERE w.state = 'available'`)
	if err != nil {
		return err
	}
	lastOutcome.queued = queued
	wo := workerOptions(cfg, opts)
	workers := "default"
	if cfg.WebhookWorkers > 0 {
		workers = strconv.Itoa(cfg.WebhookWorkers)
	}
	logf("inbound: draining %d queued webhooks with a worker process (WEBHOOK_WORKERS %s)", queued, workers)
	worker, err := harness.StartServer(ctx, wo)
	if err != nil {
		return err
	}
	defer worker.Kill()
	open, err := db.WaitWebhooks(ctx, cfg.DrainLimit)
	if err != nil {
		return err
	}
	var processed int
	var first, last time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(min(j.attempted_at), now()), coalesce(max(w.finalized_at), now())
		FROM `+webhookBodies+` JOIN river_job j ON j.id = w.job_id WHERE w.state = 'completed'`).Scan(&processed, &first, &last); err != nil {
		return err
	}
	lastOutcome.processed = processed
	rate := float64(processed) / max(last.Sub(first).Seconds(), 0.001)
	rep.Add("2 inbound", "events processed (1 per webhook)", fmt.Sprintf("%d of %d queued in %.1fs", processed, queued, last.Sub(first).Seconds()), "", "")
	rep.Add("2 inbound", "events/s queued -> processed", fmt.Sprintf("%.0f/s", rate), ">= 2,000/s", harness.Verdict(rate >= 2000))
	failed, err := db.Count(ctx, `SELECT count(*) FROM `+webhookBodies+` WHERE w.state IN `+webhookFailed)
	if err != nil { // not a 0 that passes
		return err
	}
	if open == 0 {
		lost, doubled, err := checkStored(ctx, db, acked)
		if err != nil {
			return err
		}
		lastOutcome.lost, lastOutcome.doubled = lost, doubled
		rep.Add("2 inbound", "acknowledged messages lost / doubled", fmt.Sprintf("%d / %d", lost, doubled), "0 / 0", harness.Check(lost == 0 && doubled == 0))
		advanced, err := db.Count(ctx, `SELECT count(*) FROM messages WHERE phone_number_id = 'history' AND status IN ('delivered', 'read')`)
		if err != nil {
			return err
		}
		lastOutcome.advanced = advanced
		rep.Add("2 inbound", "seeded outbound messages advanced by the statuses", strconv.Itoa(advanced), "", "")
	} else {
		rep.Add("2 inbound", "drain", fmt.Sprintf("%d webhooks still open after %s (not checked for loss)", open, cfg.DrainLimit), "", "")
	}
	rep.Add("2 inbound", "webhooks failed/retried", strconv.Itoa(failed), "0", harness.Check(failed == 0))
	if err := worker.Stop(); err != nil {
		logf("worker stop: %v", err)
	}

	return nil
}

// roleAll measures ingest against one `waba serve --role=all` process with the deployment's
// defaults (DB_MAX_CONNS 25, WEBHOOK_WORKERS 200): a closed loop of cfg.AllConc clients and
// the paced run, while the same process works the jobs they queue. It then reports how far
// processing kept up, and checks every acknowledged message stored once.
func roleAll(ctx context.Context, rep *harness.Report, cfg config, opts harness.ServerOptions, db *harness.DB,
	gen *harness.Generator, logf func(string, ...any)) error {
	const sec = "6 role all"
	ao := opts
	ao.Role, ao.Name, ao.MaxConns = "all", "all-1", 25
	ao.Env = map[string]string{}
	if cfg.AllWorkers > 0 {
		ao.Env["WEBHOOK_WORKERS"] = strconv.Itoa(cfg.AllWorkers)
	}
	for _, kv := range strings.Split(cfg.AllEnv, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			ao.Env[k] = v
		}
	}
	if len(ao.Env) > 0 {
		rep.Add(sec, "environment of the process", fmt.Sprint(ao.Env), "", "")
	}
	srv, err := harness.StartServer(ctx, ao)
	if err != nil {
		return err
	}
	defer srv.Kill()
	var acked []harness.Payload
	open := func() int {
		n, _ := db.OpenWebhooks(ctx)
		return n
	}
	run := func(name string, o harness.LoadOptions) harness.LoadResult {
		r := harness.Load(ctx, o)
		acked = append(acked, r.Acked...)
		if name != "" {
			addLoad(rep, sec, name, r)
			rep.Add(sec, name+": webhooks not yet processed at the end", strconv.Itoa(open()), "", "")
		}
		return r
	}
	logf("role all: warm-up 1s, then %d clients for %s (closed loop)", cfg.AllConc, cfg.Duration)
	target := []string{srv.URL}
	run("", harness.LoadOptions{Targets: target, Concurrency: cfg.AllConc, Duration: time.Second, Gen: gen, Track: true})
	lastOutcome.allClosed = run(fmt.Sprintf("%d clients, 1 process ingesting and processing", cfg.AllConc),
		harness.LoadOptions{Targets: target, Concurrency: cfg.AllConc, Duration: cfg.Duration, Gen: gen, Track: true})
	// Let processing catch up, so the paced run starts from an empty queue.
	if _, err := db.WaitWebhooks(ctx, cfg.DrainLimit); err != nil {
		return err
	}
	logf("role all: paced at %.0f/s, 1s warm-up then %s", cfg.Rate, cfg.Duration)
	po := harness.LoadOptions{Targets: target, Concurrency: 256, Rate: cfg.Rate, Duration: time.Second, Gen: gen, Track: true}
	run("", po)
	po.Duration = cfg.Duration
	paced := run(fmt.Sprintf("paced at %.0f/s, 1 process ingesting and processing", cfg.Rate), po)
	lastOutcome.allPaced = paced
	p99 := paced.Percentile(.99)
	keptUp := paced.PerSecond() >= cfg.Rate*0.97
	rep.Add(sec, fmt.Sprintf("p99 at %.0f/s", cfg.Rate), fmt.Sprintf("%.1fms (achieved %.0f/s)", harness.MS(p99), paced.PerSecond()),
		"<= 10ms at 2,000/s", harness.Verdict(keptUp && p99 <= 10*time.Millisecond && cfg.Rate >= 2000))
	backlog, d0 := open(), time.Now()
	left, err := db.WaitWebhooks(ctx, cfg.DrainLimit)
	if err != nil {
		return err
	}
	if backlog > 0 && left == 0 {
		rep.Add(sec, "the backlog then drained by the same process, no load", fmt.Sprintf("%d webhooks in %.1fs (%.0f/s)", backlog,
			time.Since(d0).Seconds(), float64(backlog)/time.Since(d0).Seconds()), "", "")
	}
	if left > 0 {
		rep.Add(sec, "drain", fmt.Sprintf("%d webhooks still open after %s (not checked for loss)", left, cfg.DrainLimit), "", "")
	} else {
		lost, doubled, err := checkStored(ctx, db, acked)
		if err != nil {
			return err
		}
		lastOutcome.allLost, lastOutcome.allDoubled = lost, doubled
		rep.Add(sec, "acknowledged messages lost / doubled", fmt.Sprintf("%d / %d", lost, doubled), "0 / 0", harness.Check(lost == 0 && doubled == 0))
	}
	if err := srv.Stop(); err != nil {
		logf("all-1 stop: %v", err)
	}
	return nil
}

func addLoad(rep *harness.Report, section, name string, r harness.LoadResult) {
	non200 := r.Requests - r.Acknowledged()
	rep.Add(section, name, fmt.Sprintf("%.0f ack/s p50 %.1fms p95 %.1fms p99 %.1fms (%d acked, %d not)",
		r.PerSecond(), harness.MS(r.Percentile(.5)), harness.MS(r.Percentile(.95)), harness.MS(r.Percentile(.99)), r.Acknowledged(), non200), "", "")
}

// setupTenants creates workspaces through the API and registers n numbers (two per
// workspace) for routing.
func setupTenants(ctx context.Context, apiURL string, db *harness.DB, n int) ([]harness.Tenant, harness.User, error) {
	c := harness.NewClient(apiURL, 2)
	u, err := c.SignupLogin(ctx, fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		return nil, u, err
	}
	tenants := harness.NewTenants(n)
	var ws string
	for i := range tenants {
		if i%2 == 0 {
			if ws, err = c.CreateWorkspace(ctx, u, fmt.Sprintf("Tenant %d", i/2), ""); err != nil {
				return nil, u, err
			}
		}
		tenants[i].WorkspaceID = ws
		if i%2 == 1 { // two numbers of one workspace share its WABA
			tenants[i].WABAID = tenants[i-1].WABAID
		}
		if _, err := db.InsertNumber(ctx, ws, tenants[i].PhoneNumberID, tenants[i].WABAID, tenants[i].Display); err != nil {
			return nil, u, err
		}
	}
	return tenants, u, nil
}

// historySize is how many earlier messages the bench database holds before the runs.
const historySize = 50_000

// baseline inserts generated payloads into a plain table, one row and one commit per
// statement, from conc connections for d.
func baseline(ctx context.Context, url string, conc int, d time.Duration, gen *harness.Generator) (harness.LoadResult, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return harness.LoadResult{}, err
	}
	cfg.MaxConns, cfg.MinConns = int32(conc), int32(conc)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return harness.LoadResult{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, body jsonb NOT NULL)`); err != nil {
		return harness.LoadResult{}, err
	}
	// Warm every connection (and its prepared statement) first.
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = pool.Exec(ctx, `INSERT INTO bench_baseline (body) VALUES ($1)`, gen.Next().Body)
		}()
	}
	wg.Wait()
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lats := make([][]time.Duration, conc)
	var errs atomic.Int64
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				body := gen.Next().Body
				t0 := time.Now()
				if _, err := pool.Exec(ctx, `INSERT INTO bench_baseline (body) VALUES ($1)`, body); err != nil {
					errs.Add(1)
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	res := harness.LoadResult{Status: map[int]int{}, Elapsed: time.Since(start)}
	for _, l := range lats {
		res.Latencies = append(res.Latencies, l...)
	}
	slices.Sort(res.Latencies)
	res.Status[200] = len(res.Latencies)
	res.Status[0] = int(errs.Load())
	res.Requests = res.Status[200] + res.Status[0]
	return res, nil
}

// checkStored compares the acknowledged inbound messages with the messages table: lost =
// acknowledged wamids not stored, doubled = wamids stored or announced more than once.
func checkStored(ctx context.Context, db *harness.DB, acked []harness.Payload) (lost, doubled int, err error) {
	var wamids []string
	for _, p := range acked {
		if p.Kind == harness.KindMessage {
			wamids = append(wamids, p.WAMID)
		}
	}
	wamids = slices.Compact(slices.Sorted(slices.Values(wamids)))
	err = db.Pool.QueryRow(ctx, `
		WITH a AS (SELECT unnest($1::text[]) AS wamid),
		     m AS (SELECT wamid, count(*) AS n FROM messages WHERE wamid = ANY($1) GROUP BY wamid)
		SELECT (SELECT count(*) FROM a LEFT JOIN m USING (wamid) WHERE m.wamid IS NULL),
		       (SELECT count(*) FROM m WHERE n > 1) +
		       (SELECT count(*) FROM (SELECT message_id FROM inbox_events WHERE kind = 'message.received'
		            GROUP BY message_id HAVING count(*) > 1) d)`, wamids).Scan(&lost, &doubled)
	return lost, doubled, err
}

var (
	apiLine  = regexp.MustCompile(`API:\s+(\d+) accepted, (\d+) refused in ([\d.]+)s = (\d+) msg/s accepted; latency p50 ([\d.]+)ms p90 ([\d.]+)ms p99 ([\d.]+)ms`)
	sendLine = regexp.MustCompile(`Send:\s+(\d+) sent to the sandbox, first to last in ([\d.]+)s = (\d+) msg/s sent`)
	// The same load through the template check and the frequency caps (bench/send phase 3).
	promoLine = regexp.MustCompile(`Template\+cap path: (\d+) vs (\d+) msg/s accepted = ([\d.]+) of`)
)

// sendBench runs the existing send benchmark and reports its figures.
func sendBench(ctx context.Context, rep *harness.Report, base string, n int, label, clients string, burst bool) error {
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	args := []string{"run", "./bench/send", "-n", strconv.Itoa(n), "-c", clients, "-workspaces", "4"}
	if burst {
		args = append(args, "-burst")
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DATABASE_URL="+base, "REDIS_URL=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	text := string(out)
	rep.Raw["send_output_"+label] = text
	if m := apiLine.FindStringSubmatch(text); m != nil {
		p99, _ := strconv.ParseFloat(m[7], 64)
		rep.Add("3 send", label+": API accepted/s", m[4]+"/s ("+m[1]+" accepted, "+m[2]+" refused, "+clients+" clients)", "", "")
		rep.Add("3 send", label+": API latency", "p50 "+m[5]+"ms p90 "+m[6]+"ms p99 "+m[7]+"ms", "p99 < 20ms", harness.Verdict(p99 < 20))
	} else {
		rep.Add("3 send", "API", "could not parse: "+firstLine(text), "", "")
	}
	if m := sendLine.FindStringSubmatch(text); m != nil {
		sent, _ := strconv.Atoi(m[3])
		rep.Add("3 send", label+": sent/s to the sandbox", m[3]+"/s ("+m[1]+" in "+m[2]+"s)", ">= 1,000/s", harness.Verdict(sent >= 1000))
	} else {
		rep.Add("3 send", "sent", "could not parse the send line (see raw.send_output in the JSON)", "", "")
	}
	if m := promoLine.FindStringSubmatch(text); m != nil {
		ratio, _ := strconv.ParseFloat(m[3], 64)
		rep.Add("3 send", label+": MARKETING template (caps checked) accepted/s", m[1]+"/s vs "+m[2]+"/s utility = "+m[3],
			">= 0.90 of the utility path", harness.Verdict(ratio >= 0.9))
	}
	return nil
}

var benchPackages = []string{"./adapters/meta/webhook", "./domain/optout", "./adapters/vault", "./adapters/casbinrbac", "./bench/hotpath"}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op(?:\s+([\d.]+) MB/s)?(?:\s+(\d+) B/op)?(?:\s+(\d+) allocs/op)?`)

// goBench runs the hot-function benchmarks and reports one row each.
func goBench(ctx context.Context, rep *harness.Report, benchtime time.Duration) error {
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime.String()}, benchPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	runErr := cmd.Run()
	rep.Raw["go_bench_output"] = buf.String()
	sc := bufio.NewScanner(&buf)
	pkg := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "pkg: ") {
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/wabaplatform/waba/")
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		v := fmt.Sprintf("%s/op", fmtNs(ns))
		if m[4] != "" {
			v += " " + m[4] + " MB/s"
		}
		if m[5] != "" {
			v += fmt.Sprintf(" %s B/op %s allocs/op", m[5], m[6])
		}
		rep.Add("4 go bench", pkg+" "+m[1], v, "", "")
	}
	if runErr != nil {
		return fmt.Errorf("%v: %s", runErr, lastLines(buf.String(), 5))
	}
	return nil
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2fµs", ns/1e3)
	}
	return fmt.Sprintf("%.0fns", ns)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
