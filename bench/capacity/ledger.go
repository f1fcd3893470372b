package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// Section 2b: what the usage ledger costs inbound status processing. The same number of
// status webhooks, queued through an api-role process and then drained by a worker-role
// process as in 2, twice on one setup: (A) statuses without a pricing object, which never
// reach the ledger (the path before it), and (B) the same statuses priced (PMP, regular,
// marketing), each charged once. Every status reports on its own seeded `sent` message,
// so each B status is a new charge and A and B do the same work but the ledger's. The
// phases alternate A, B, B, A, A, B, ... (cfg.LedgerRounds drains of each): a drift
// through the run (the tables grow, the host's other load changes) then falls on both.

const ledgerSec = "2b ledger"

// ledgerPhase is one side of the comparison.
type ledgerPhase struct {
	label   string // A or B
	what    string
	pricing bool
}

var ledgerPhases = []ledgerPhase{
	{"A", "statuses without pricing (no ledger)", false},
	{"B", "statuses with pricing (1 ledger charge each)", true},
}

// ledgerTotals add up one phase's drains.
type ledgerTotals struct {
	queued, processed, failed, charges int
	seconds                            float64
}

func (t ledgerTotals) perSecond() float64 { return float64(t.processed) / max(t.seconds, 0.001) }

// ledgerWAMID is the wamid of the i-th seeded message of a phase's round.
func ledgerWAMID(round int, phase string, i int) string {
	return fmt.Sprintf("wamid.LEDGER.%d.%s.%d", round, phase, i)
}

func ledgerRuns(ctx context.Context, rep *harness.Report, cfg config, opts harness.ServerOptions, db *harness.DB,
	tenants []harness.Tenant, logf func(string, ...any)) error {
	rounds := max(cfg.LedgerRounds, 1)
	per := max(cfg.Ledger/rounds, 1) // webhooks of one drain

	// The messages the statuses report on: outbound, `sent`, one per status, in the
	// workspace of the number the status comes to (payload i goes to tenant i % len), on
	// the seeded contacts. The seeded history's outbound messages are not enough (25,000
	// in all for 50,000 messages, and runs 1 and 2 have already advanced and charged them).
	var wss []string
	var wamids []string
	for r := range rounds {
		for _, ph := range ledgerPhases {
			for i := range per {
				wss = append(wss, tenants[i%len(tenants)].WorkspaceID)
				wamids = append(wamids, ledgerWAMID(r, ph.label, i))
			}
		}
	}
	logf("ledger: seeding %d outbound messages", len(wamids))
	if _, err := db.Pool.Exec(ctx, `
		WITH c AS (
			SELECT workspace_id, id, row_number() OVER (PARTITION BY workspace_id ORDER BY id) - 1 AS k,
				count(*) OVER (PARTITION BY workspace_id) AS n
			FROM contacts),
		x AS (SELECT * FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS x (ws, wamid, ord))
		INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, wamid, created_at, sent_at)
		SELECT x.ws, gen_random_uuid(), c.id, 'history', 'outbound', 'template', '{"name":"promo"}', 'sent', x.wamid,
			now() - interval '1 hour', now() - interval '1 hour'
		FROM x JOIN c ON c.workspace_id = x.ws AND c.k = x.ord % c.n`, wss, wamids); err != nil {
		return fmt.Errorf("seed ledger messages: %w", err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE messages`); err != nil {
		return err
	}

	ao := opts
	ao.Name = "api-ledger"
	api, err := harness.StartServer(ctx, ao)
	if err != nil {
		return err
	}
	defer api.Kill()
	wo := workerOptions(cfg, opts)
	wo.Name = "worker-ledger"

	totals := make([]ledgerTotals, len(ledgerPhases))
	pairs := make([]string, 0, rounds) // B/A of each round's two drains, one after the other
	for r := range rounds {
		var rates [2]float64
		for _, p := range abOrder(r) {
			ph := ledgerPhases[p]
			t, err := ledgerDrain(ctx, rep, cfg, api.URL, wo, db, tenants, r, ph, per, logf)
			if err != nil {
				return err
			}
			rates[p] = t.perSecond()
			tt := &totals[p]
			tt.queued += t.queued
			tt.processed += t.processed
			tt.failed += t.failed
			tt.charges += t.charges
			tt.seconds += t.seconds
		}
		if rates[0] > 0 {
			pairs = append(pairs, fmt.Sprintf("%.2f", rates[1]/rates[0]))
		}
	}
	if err := api.Stop(); err != nil {
		logf("api-ledger stop: %v", err)
	}

	a, b := totals[0], totals[1]
	lastOutcome.ledger = totals
	for p, ph := range ledgerPhases {
		t := totals[p]
		rep.Add(ledgerSec, ph.label+": "+ph.what+", events/s", fmt.Sprintf("%.0f/s (%d of %d in %.1fs over %d drains)",
			t.perSecond(), t.processed, t.queued, t.seconds, rounds), "", "")
	}
	ratio := 0.0
	if a.perSecond() > 0 {
		ratio = b.perSecond() / a.perSecond()
	}
	complete := a.processed == a.queued && b.processed == b.queued && a.queued == per*rounds && b.queued == per*rounds
	rep.Add(ledgerSec, "ratio B / A", fmt.Sprintf("%.2f", ratio), ">= 0.90 (B within 10% of A)", harness.Verdict(complete && ratio >= 0.9))
	rep.Add(ledgerSec, "B / A of each round (adjacent drains)", strings.Join(pairs, ", "), "", "")
	rep.Add(ledgerSec, "ledger charge rows written in B / in A", fmt.Sprintf("%d / %d", b.charges, a.charges),
		fmt.Sprintf("%d / 0", per*rounds), harness.Check(b.charges == per*rounds && a.charges == 0))
	advanced, err := db.Count(ctx, `SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.LEDGER.%' AND status IN ('delivered', 'read')`)
	if err != nil {
		return err
	}
	lastOutcome.ledgerAdvanced = advanced
	rep.Add(ledgerSec, "seeded messages advanced (A and B)", strconv.Itoa(advanced), strconv.Itoa(2*per*rounds), harness.Check(advanced == 2*per*rounds))
	rep.Add(ledgerSec, "webhooks failed/retried", strconv.Itoa(a.failed+b.failed), "0", harness.Check(a.failed+b.failed == 0))
	rep.Note("2b: %d status webhooks (delivered, read) per phase, each of its own seeded `sent` message, in %d drains of %d (order A, B, B, A, ...); queued by %d clients through an api-role process, then drained by a fresh worker-role process (the settings of 2) after ANALYZE and CHECKPOINT; events/s = webhooks / (last finalized_at - first attempted_at of their jobs), summed over the drains",
		per*rounds, rounds, per, cfg.Conc)
	return nil
}

// workerOptions are the draining worker's settings of section 2.
func workerOptions(cfg config, opts harness.ServerOptions) harness.ServerOptions {
	wo := opts
	wo.Role, wo.Name, wo.MaxConns = "worker", "worker", 20
	if cfg.WebhookWorkers > 0 {
		wo.Env = make(map[string]string, len(opts.Env)+1)
		for k, v := range opts.Env {
			wo.Env[k] = v
		}
		wo.Env["WEBHOOK_WORKERS"] = strconv.Itoa(cfg.WebhookWorkers) // over any value in opts.Env
	}
	return wo
}

// ledgerDrain queues per status webhooks of phase ph, round r, then drains them with a
// worker process and measures the drain.
func ledgerDrain(ctx context.Context, rep *harness.Report, cfg config, apiURL string, wo harness.ServerOptions, db *harness.DB,
	tenants []harness.Tenant, r int, ph ledgerPhase, per int, logf func(string, ...any)) (ledgerTotals, error) {
	var t ledgerTotals
	mark, err := jobMark(ctx, db)
	if err != nil {
		return t, err
	}
	charges0, err := db.Count(ctx, `SELECT count(*) FROM billing_ledger WHERE kind = 'charge'`)
	if err != nil {
		return t, err
	}
	gen := harness.NewGenerator(tenants, 500, 1) // every webhook a status
	gen.StatusKinds = []string{"delivered", "read"}
	gen.NoPricing = !ph.pricing
	gen.StatusWAMID = func(i int, _ harness.Tenant) string { return ledgerWAMID(r, ph.label, i) }
	logf("ledger %s%d: queueing %d status webhooks (%s)", ph.label, r+1, per, ph.what)
	res := harness.Load(ctx, harness.LoadOptions{Targets: []string{apiURL}, Concurrency: cfg.Conc, Count: per, Gen: gen})
	if res.Acknowledged() != per {
		return t, fmt.Errorf("ledger %s%d: %d of %d webhooks acknowledged (statuses %v)", ph.label, r+1, res.Acknowledged(), per, res.Status)
	}
	if err := settleQueue(ctx, db, logf); err != nil {
		return t, err
	}
	if t.queued, err = queuedAfter(ctx, db, mark); err != nil {
		return t, err
	}
	worker, err := harness.StartServer(ctx, wo)
	if err != nil {
		return t, err
	}
	defer worker.Kill()
	open, err := db.WaitWebhooks(ctx, cfg.DrainLimit)
	if err != nil {
		return t, err
	}
	var first, last time.Time
	if t.processed, first, last, t.failed, err = drainedAfter(ctx, db, mark); err != nil {
		return t, err
	}
	t.seconds = last.Sub(first).Seconds()
	if err := worker.Stop(); err != nil {
		logf("worker-ledger stop: %v", err)
	}
	charges1, err := db.Count(ctx, `SELECT count(*) FROM billing_ledger WHERE kind = 'charge'`)
	if err != nil {
		return t, err
	}
	t.charges = charges1 - charges0
	v := fmt.Sprintf("%.0f/s (%d of %d in %.1fs), %d ledger rows", t.perSecond(), t.processed, t.queued, t.seconds, t.charges)
	if open > 0 {
		v += fmt.Sprintf("; %d webhooks still open after %s", open, cfg.DrainLimit)
	}
	rep.Add(ledgerSec, fmt.Sprintf("drain %s%d: %s", ph.label, r+1, ph.what), v, "", "")
	logf("ledger %s%d: %s", ph.label, r+1, v)
	return t, nil
}
