package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

// Section 2c: what keyword rules cost inbound processing (issue 19: "inbound processing
// with 50 active rules per workspace stays within 10% of today's events/s"). The same
// number of inbound message webhooks (no statuses), queued through an api-role process and
// drained by a fresh worker-role process as in 2, (A) with no automation rules and (B) with
// cfg.AutoRules enabled rules in every workspace, created through the API. The phases
// alternate A, B, B, A, ... as in 2b.
//
// The automations do not run in the webhook job: the "automation" event-log subscriber
// reads message.received after the inbound transaction, in the same worker process. So
// each drain has two figures: the webhooks' rate (queued -> processed, as in 2), and
// the rate including the automations: the same messages over the time from the drain's
// first job to the moment the subscriber's position (event_subscriptions) reached the last
// event the drain appended.

const autoSec = "2c automation"

// autoPhase is one side of the comparison.
type autoPhase struct {
	label string // A or B
	what  string
	rules bool
}

func autoPhases(n int) []autoPhase {
	return []autoPhase{
		{"A", "no automation rules", false},
		{"B", fmt.Sprintf("%d enabled rules per workspace", n), true},
	}
}

// autoTotals add up one phase's drains.
type autoTotals struct {
	queued, processed, failed int
	drain, caught, lag        float64 // seconds: first job to last job, first job to subscriber caught up, last job to caught up
	matched                   int     // automatic_replies rows written (the matching rule's handling)
	busy                      float64 // seconds the automation subscriber spent in Handle (the worker's metrics)
	subEvents                 int     // events it was handed
	caughtUp                  bool    // every drain's events were read by the subscriber in time
}

func (t autoTotals) drainPerSecond() float64  { return float64(t.processed) / max(t.drain, 0.001) }
func (t autoTotals) caughtPerSecond() float64 { return float64(t.processed) / max(t.caught, 0.001) }

// benchRule is a rule as POST /automation/rules takes it.
type benchRule struct {
	Name     string           `json:"name"`
	Match    string           `json:"match"`
	Keywords []string         `json:"keywords"`
	Actions  []map[string]any `json:"actions"`
	Priority int              `json:"priority"`
}

// MatchingTag is the tag the one matching rule adds.
const matchingTag = "interesado"

// benchRules are n rules of a realistic mix, none replying: exact, contains and regex
// keywords of a shop's inbox, none of which the generated texts (harness messageKinds:
// "Hola, ¿tienen envío a Monterrey? 🎉 pedido N", "Quiero más información N", the
// interactive title "Sí, confirmar", an image caption a rule does not read) contain, but
// one: the lowest priority rule, tried after all the others, contains "información" (every
// fifth webhook) and tags the contact.
func benchRules(n int) []benchRule {
	exact := []string{"precio", "horario", "stop", "baja", "agente", "humano", "menu", "catálogo", "ayuda", "gracias",
		"ubicación", "factura", "garantía", "devolución", "cancelar", "promociones", "whatsapp", "soporte"}
	contains := []string{"reembolso", "cotización", "mayoreo", "proveedor", "queja", "reclamo", "pago rechazado",
		"no llegó", "dañado", "talla", "color", "tarjeta", "transferencia", "meses sin intereses", "cupón", "descuento"}
	regex := []string{`(?i)^rastreo\s+[A-Z0-9]{8,12}$`, `(?i)\bcotizaci[oó]n\s+#?\d{4,}\b`, `^\+?\d{10,13}$`,
		`(?i)\b(cancel|anul)ar\s+orden\s+\d+\b`, `(?i)^(hi|hello|hey)\b`, `[\w.+-]+@[\w-]+\.[a-z]{2,}`,
		`(?i)\bfactura\s+[A-Z]{4}\d{6}[A-Z0-9]{3}\b`, `(?i)^(sí|si)\s+acepto$`}
	out := make([]benchRule, 0, n)
	for i := range n - 1 {
		r := benchRule{Name: fmt.Sprintf("bench rule %d", i), Priority: n - i,
			Actions: []map[string]any{{"type": "add_tag", "tag": fmt.Sprintf("regla-%d", i)}}}
		if i%4 == 3 {
			r.Actions = append(r.Actions, map[string]any{"type": "set_attribute", "key": "tema", "value": fmt.Sprintf("t%d", i)})
		}
		k := i / 3
		switch i % 3 {
		case 0:
			r.Match = "exact"
			r.Keywords = []string{exact[k%len(exact)], fmt.Sprintf("%s %d", exact[(k+1)%len(exact)], i)}
		case 1:
			r.Match = "contains"
			r.Keywords = []string{contains[k%len(contains)], fmt.Sprintf("%s %d", contains[(k+3)%len(contains)], i)}
		default:
			r.Match = "regex"
			r.Keywords = []string{regex[k%len(regex)]}
		}
		out = append(out, r)
	}
	if n > 0 {
		out = append(out, benchRule{Name: "interés", Match: "contains", Keywords: []string{"información", "info"},
			Actions: []map[string]any{{"type": "add_tag", "tag": matchingTag}}, Priority: -1})
	}
	return out
}

func automationRuns(ctx context.Context, rep *harness.Report, cfg config, opts harness.ServerOptions, db *harness.DB,
	tenants []harness.Tenant, owner harness.User, logf func(string, ...any)) error {
	rounds := max(cfg.AutoRounds, 1)
	per := max(cfg.Automation/rounds, 1) // webhooks of one drain
	phases := autoPhases(cfg.AutoRules)

	wo := workerOptions(cfg, opts)
	wo.Name = "worker-automation"

	// The subscriber starts level with the log, so that no drain inherits the earlier
	// sections' events.
	skipped, err := autoLevel(ctx, cfg, db)
	if err != nil {
		return err
	}
	logf("automation: subscriber moved to the end of the log, past %d events of the earlier sections", skipped)

	ao := opts
	ao.Name = "api-automation"
	api, err := harness.StartServer(ctx, ao)
	if err != nil {
		return err
	}
	defer api.Kill()
	c := harness.NewClient(api.URL, 8)
	m, err := c.Must(ctx, 200, "POST", "/v1/auth/login", "", map[string]string{"email": owner.Email, "password": harness.Password})
	if err != nil {
		return err
	}
	token, _ := m["access_token"].(string)
	var wss []string
	for _, t := range tenants {
		if !slices.Contains(wss, t.WorkspaceID) {
			wss = append(wss, t.WorkspaceID)
		}
	}
	var ruleIDs []string // of the rules in place
	setRules := func(on bool) error {
		if on == (len(ruleIDs) > 0) || cfg.AutoRules == 0 {
			return nil
		}
		t0 := time.Now()
		if on {
			for _, ws := range wss {
				for _, r := range benchRules(cfg.AutoRules) {
					m, err := c.Must(ctx, 201, "POST", "/v1/workspaces/"+ws+"/automation/rules", token, r)
					if err != nil {
						return err
					}
					id, _ := m["id"].(string)
					ruleIDs = append(ruleIDs, ws+"/automation/rules/"+id)
				}
			}
			logf("automation: %d rules created through the API in %.1fs", len(ruleIDs), time.Since(t0).Seconds())
			return nil
		}
		for _, p := range ruleIDs {
			if _, err := c.Must(ctx, 204, "DELETE", "/v1/workspaces/"+p, token, nil); err != nil {
				return err
			}
		}
		logf("automation: %d rules deleted through the API in %.1fs", len(ruleIDs), time.Since(t0).Seconds())
		ruleIDs = nil
		return nil
	}

	totals := make([]autoTotals, len(phases))
	for p := range totals {
		totals[p].caughtUp = true
	}
	pairs := make([]string, 0, rounds)
	for r := range rounds {
		var rates [2]float64
		for _, p := range abOrder(r) {
			ph := phases[p]
			if err := setRules(ph.rules); err != nil {
				return err
			}
			t, err := autoDrain(ctx, rep, cfg, api.URL, wo, db, tenants, r, ph, per, logf)
			if err != nil {
				return err
			}
			rates[p] = t.caughtPerSecond()
			tt := &totals[p]
			tt.queued += t.queued
			tt.processed += t.processed
			tt.failed += t.failed
			tt.drain += t.drain
			tt.caught += t.caught
			tt.lag += t.lag
			tt.matched += t.matched
			tt.busy += t.busy
			tt.subEvents += t.subEvents
			tt.caughtUp = tt.caughtUp && t.caughtUp
		}
		if rates[0] > 0 {
			pairs = append(pairs, fmt.Sprintf("%.2f", rates[1]/rates[0]))
		}
	}
	if err := setRules(false); err != nil {
		return err
	}
	if err := api.Stop(); err != nil {
		logf("api-automation stop: %v", err)
	}

	lastOutcome.automation = totals
	for p, ph := range phases {
		t := totals[p]
		rep.Add(autoSec, ph.label+": "+ph.what+", webhooks/s (queued -> processed)", fmt.Sprintf("%.0f/s (%d of %d in %.1fs over %d drains)",
			t.drainPerSecond(), t.processed, t.queued, t.drain, rounds), "", "")
		rep.Add(autoSec, ph.label+": events/s including the automation subscriber", fmt.Sprintf("%.0f/s (caught up %.1fs after the first job; %.2fs after the last, per drain)",
			t.caughtPerSecond(), t.caught, t.lag/float64(rounds)), "", "")
	}
	for p, ph := range phases {
		t := totals[p]
		rep.Add(autoSec, ph.label+": automation subscriber's time in Handle (its own cost)", fmt.Sprintf("%.1fs for %d events, %.0f messages/s; %.0f%% of the drain's time",
			t.busy, t.subEvents, float64(t.processed)/max(t.busy, 0.001), 100*t.busy/max(t.drain, 0.001)), "", "")
	}
	a, b := totals[0], totals[1]
	complete := a.processed == a.queued && b.processed == b.queued && a.queued == per*rounds && b.queued == per*rounds &&
		a.caughtUp && b.caughtUp
	ratio := func(x, y float64) float64 {
		if y <= 0 {
			return 0
		}
		return x / y
	}
	rd, rc := ratio(b.drainPerSecond(), a.drainPerSecond()), ratio(b.caughtPerSecond(), a.caughtPerSecond())
	rep.Add(autoSec, "ratio B / A, webhooks/s", fmt.Sprintf("%.2f", rd), ">= 0.90 (within 10%)", harness.Verdict(complete && rd >= 0.9))
	rep.Add(autoSec, "ratio B / A, including the automations", fmt.Sprintf("%.2f", rc), ">= 0.90 (within 10%)", harness.Verdict(complete && rc >= 0.9))
	rep.Add(autoSec, "B / A including the automations, each round (adjacent drains)", strings.Join(pairs, ", "), "", "")
	// Every fifth generated webhook ("Quiero más información N") matches the one rule that
	// tags; its handling is recorded once per message.
	want := per / 5 // i%5 == 4 for i < per
	if cfg.AutoRules == 0 {
		want = 0
	}
	rep.Add(autoSec, "messages the matching rule handled in B / in A", fmt.Sprintf("%d / %d", b.matched, a.matched),
		fmt.Sprintf("%d / 0", want*rounds), harness.Check(b.matched == want*rounds && a.matched == 0))
	rep.Add(autoSec, "webhooks failed/retried", strconv.Itoa(a.failed+b.failed), "0", harness.Check(a.failed+b.failed == 0))
	rep.Note("2c: %d inbound message webhooks per phase (the mix of 1, no statuses) in %d drains of %d (order A, B, B, A, ...), queued through an api-role process, drained by a fresh worker-role process (the settings of 2) after ANALYZE and CHECKPOINT. B: %d rules per workspace created through the API (a third each exact, contains, regex; add_tag and set_attribute actions, no replies; the lowest-priority one contains \"información\", which every fifth message has, and tags the contact). Webhooks/s = webhooks / (last finalized_at - first attempted_at of their jobs); including the automations = the same webhooks / (the moment the \"automation\" subscriber's position reached the last event of the drain - first attempted_at), polled every 50 ms; the subscriber is asked to catch up every second (riveradapter.EventsEvery), which the time after the last job includes (before the drains its position is moved to the end of the log, past %d events of the earlier sections, of workspaces without rules), and it reads only events of transactions older than the cluster's oldest running one (pg_snapshot_xmin: another database's long transaction on the same Postgres holds it back too). The subscriber's time in Handle (waba_event_subscriber_seconds_total of the worker) is its own cost without that waiting: below 100%% of the drain's time it keeps up",
		per*rounds, rounds, per, cfg.AutoRules, skipped)
	return nil
}

// logEnd is the position of the last event in the log (tx as text, id).
func logEnd(ctx context.Context, db *harness.DB) (string, int64, error) {
	var tx string
	var id int64
	err := db.Pool.QueryRow(ctx, `SELECT coalesce((SELECT tx::text FROM events ORDER BY tx DESC, id DESC LIMIT 1), '0'),
		coalesce((SELECT id FROM events ORDER BY tx DESC, id DESC LIMIT 1), 0)`).Scan(&tx, &id)
	return tx, id, err
}

// waitSubscriber waits until the automation subscriber's position is at or past (tx, id)
// and returns the database's clock then.
func waitSubscriber(ctx context.Context, db *harness.DB, tx string, id int64, timeout time.Duration) (time.Time, bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		var done bool
		var at time.Time
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce((SELECT (s.tx, s.event_id) >= ($1::text::xid8, $2::bigint)
			FROM event_subscriptions s WHERE s.name = 'automation'), false), clock_timestamp()`, tx, id).Scan(&done, &at); err != nil {
			return at, false, err
		}
		if done || time.Now().After(deadline) {
			return at, done, nil
		}
		select {
		case <-ctx.Done():
			return at, false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// autoLevel moves the automation subscriber's position to the end of the log, so that no
// drain inherits the earlier sections' events (no workspace has rules or automatic replies
// before 2c: reading them would do nothing, but a host slower than the bench's sections
// leaves a backlog of them that takes minutes to read). It runs while no process of the
// bench is running, after every job of the earlier sections is done; it says how many
// events the subscriber skipped.
func autoLevel(ctx context.Context, cfg config, db *harness.DB) (int, error) {
	if _, err := db.WaitWebhooks(ctx, cfg.DrainLimit); err != nil {
		return 0, err
	}
	tx, id, err := logEnd(ctx, db)
	if err != nil || tx == "0" {
		return 0, err
	}
	n, err := db.Count(ctx, `SELECT count(*) FROM events e WHERE (e.tx, e.id) <= ($1::text::xid8, $2::bigint)
		AND (e.tx, e.id) > coalesce((SELECT (s.tx, s.event_id) FROM event_subscriptions s WHERE s.name = 'automation'), ('0'::xid8, 0::bigint))`, tx, id)
	if err != nil {
		return 0, err
	}
	_, err = db.Pool.Exec(ctx, `INSERT INTO event_subscriptions AS s (name, tx, event_id) VALUES ('automation', $1::text::xid8, $2)
		ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, event_id = excluded.event_id, updated_at = now()
		WHERE (s.tx, s.event_id) < (excluded.tx, excluded.event_id)`, tx, id)
	return n, err
}

// autoDrain queues per message webhooks of phase ph, round r, drains them with a worker
// process and measures the drain and the automation subscriber's catching up.
func autoDrain(ctx context.Context, rep *harness.Report, cfg config, apiURL string, wo harness.ServerOptions, db *harness.DB,
	tenants []harness.Tenant, r int, ph autoPhase, per int, logf func(string, ...any)) (autoTotals, error) {
	var t autoTotals
	mark, err := jobMark(ctx, db)
	if err != nil {
		return t, err
	}
	matched0, err := db.Count(ctx, `SELECT count(*) FROM automatic_replies`)
	if err != nil {
		return t, err
	}
	gen := harness.NewGenerator(tenants, 500, 0) // messages only
	logf("automation %s%d: queueing %d message webhooks (%s)", ph.label, r+1, per, ph.what)
	res := harness.Load(ctx, harness.LoadOptions{Targets: []string{apiURL}, Concurrency: cfg.Conc, Count: per, Gen: gen})
	if res.Acknowledged() != per {
		return t, fmt.Errorf("automation %s%d: %d of %d webhooks acknowledged (statuses %v)", ph.label, r+1, res.Acknowledged(), per, res.Status)
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
	tx, id, err := logEnd(ctx, db)
	if err != nil {
		return t, err
	}
	caughtAt, ok, err := waitSubscriber(ctx, db, tx, id, cfg.DrainLimit)
	if err != nil {
		return t, err
	}
	t.caughtUp = ok
	if m, err := worker.Metrics(ctx); err == nil {
		t.busy = m[`waba_event_subscriber_seconds_total{subscriber="automation"}`]
		t.subEvents = int(m[`waba_event_subscriber_events_total{subscriber="automation"}`])
	} else {
		logf("worker metrics: %v", err)
	}
	var first, last time.Time
	if t.processed, first, last, t.failed, err = drainedAfter(ctx, db, mark); err != nil {
		return t, err
	}
	t.drain, t.caught, t.lag = last.Sub(first).Seconds(), caughtAt.Sub(first).Seconds(), caughtAt.Sub(last).Seconds()
	if err := worker.Stop(); err != nil {
		logf("worker-automation stop: %v", err)
	}
	matched1, err := db.Count(ctx, `SELECT count(*) FROM automatic_replies`)
	if err != nil {
		return t, err
	}
	t.matched = matched1 - matched0
	v := fmt.Sprintf("%.0f webhooks/s (%d of %d in %.1fs); with the automations %.0f/s (subscriber caught up %.2fs after the last job; busy in Handle %.1fs for %d events)",
		t.drainPerSecond(), t.processed, t.queued, t.drain, t.caughtPerSecond(), t.lag, t.busy, t.subEvents)
	if open > 0 {
		v += fmt.Sprintf("; %d webhooks still open after %s", open, cfg.DrainLimit)
	}
	if !ok {
		v += fmt.Sprintf("; the subscriber had not caught up after %s", cfg.DrainLimit)
	}
	rep.Add(autoSec, fmt.Sprintf("drain %s%d: %s", ph.label, r+1, ph.what), v, "", "")
	logf("automation %s%d: %s", ph.label, r+1, v)
	return t, nil
}
