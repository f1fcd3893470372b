// Command hooks measures the webhooks to customers' endpoints (issue 18) on one `waba serve
// --role=all` process, with the customers' receivers in this process on loopback:
//
//  1. Throughput: -events signed inbound-message webhooks are posted and processed while the
//     bench holds the webhook fan-out's position in the event log (its row lock), so their
//     message.received events wait in the log. Released, the time until one receiver has
//     every one of them, signature checked, gives the events delivered a second (fan-out,
//     signing, HTTP and recording included).
//
//  2. Isolation: two endpoints of one workspace, one healthy and one that times out on
//     every request (it answers nothing until the sender's 10 s are up); inbound messages
//     at -rate a second for -duration. The healthy endpoint's delivery latency (from its
//     delivery's creation, the fan-out, to its arrival) and the latency from the event
//     itself (its created_at) to the arrival.
//
//     DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/hooks [-events 20000] [-rate 200] [-duration 20s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

type config struct {
	Events     int           // messages whose events wait in the log for the throughput run
	Rate       float64       // inbound messages a second during the isolation run
	Duration   time.Duration // length of the isolation run
	DrainLimit time.Duration // longest wait for the last deliveries of a run
	ResultsDir string        // "" = bench/results
	Out        io.Writer
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Events, "events", 20_000, "events waiting in the log when the throughput run starts")
	flag.Float64Var(&cfg.Rate, "rate", 200, "inbound messages a second during the isolation run")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the isolation run")
	flag.DurationVar(&cfg.DrainLimit, "drain", 2*time.Minute, "longest wait for the last deliveries of a run")
	flag.Parse()
	cfg.Out = os.Stdout
	harness.Main("hooks", 10*time.Minute, cfg.ResultsDir, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, cfg)
	})
}

// outcome holds the figures the smoke test checks.
type outcome struct {
	throughputWanted, throughputGot int
	isolationWanted, isolationGot   int
	repeats, badSigs, slowRequests  int
}

var lastOutcome outcome

func run(ctx context.Context, cfg config) (*harness.Report, error) {
	lastOutcome = outcome{}
	rep := harness.NewReport("hooks", "section", "measure", "value", "target", "result")
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Out, "hooks: "+format+"\n", args...) }
	prep, err := harness.Prepare(ctx, "hooks", logf)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(prep.Tmp)
	db, err := harness.NewDB(ctx, prep.Base, "hooks", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: prep.Bin, DatabaseURL: db.URL, Role: "all", MaxConns: 25,
		LogDir: prep.Tmp, Name: "hooks", Env: map[string]string{
			"WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOWED_CIDRS": "127.0.0.0/8"}})
	if err != nil {
		return nil, err
	}
	defer srv.Kill()
	c := harness.NewClient(srv.URL, 4)
	u, err := c.SignupLogin(ctx, fmt.Sprintf("hooks-%d@example.com", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	tenants := harness.NewTenants(2)
	for i := range tenants {
		if tenants[i].WorkspaceID, err = c.CreateWorkspace(ctx, u, fmt.Sprintf("Hooks %d", i), "enterprise"); err != nil {
			return nil, err
		}
		if _, err := db.InsertNumber(ctx, tenants[i].WorkspaceID, tenants[i].PhoneNumberID, tenants[i].WABAID, tenants[i].Display); err != nil {
			return nil, err
		}
	}
	if err := throughput(ctx, cfg, rep, logf, srv, db, c, u, tenants[0]); err != nil {
		return rep, err
	}
	if err := isolation(ctx, cfg, rep, logf, srv, db, c, u, tenants[1]); err != nil {
		return rep, err
	}
	rep.Note("one `waba serve --role=all` process (DB_MAX_CONNS 25); the receivers, the webhook poster and Postgres share its %s CPUs", rep.Host["cpus"])
	rep.Note("every arrival's Standard Webhooks signature is checked by the receiver with code written from the specification, not the server's signer")
	return rep, nil
}

// throughput holds the fan-out while cfg.Events messages are processed, then releases it
// and times the deliveries of the backlog to one receiver.
func throughput(ctx context.Context, cfg config, rep *harness.Report, logf func(string, ...any), srv *harness.Server,
	db *harness.DB, c *harness.Client, u harness.User, t harness.Tenant) error {
	const sec = "1 throughput"
	rcv, err := harness.StartHookReceiver("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer rcv.Close()
	_, secret, err := c.CreateEndpoint(ctx, u, t.WorkspaceID, rcv.URL, "message.received")
	if err != nil {
		return err
	}
	if err := rcv.Secret(secret); err != nil {
		return err
	}

	// Hold the fan-out's position: the dispatcher skips a subscriber whose row is locked.
	hold, err := db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer hold.Rollback(context.Background()) //nolint:errcheck // released below; this is for early returns
	if _, err := hold.Exec(ctx, `INSERT INTO event_subscriptions (name) VALUES ('hooks') ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	if _, err := hold.Exec(ctx, `SELECT 1 FROM event_subscriptions WHERE name = 'hooks' FOR UPDATE`); err != nil {
		return err
	}
	logf("throughput: %d inbound messages processed while the fan-out is held", cfg.Events)
	gen := harness.NewGenerator([]harness.Tenant{t}, 500, 0)
	load := harness.Load(ctx, harness.LoadOptions{Targets: []string{srv.URL}, Concurrency: 64, Count: cfg.Events, Gen: gen})
	acked := load.Acknowledged()
	if acked == 0 {
		return errors.New("no inbound webhook was acknowledged")
	}
	for start := time.Now(); ; {
		n, err := db.Count(ctx, `SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'message.received'`, t.WorkspaceID)
		if err != nil {
			return err
		}
		if n >= acked {
			break
		}
		if time.Since(start) > cfg.DrainLimit {
			return fmt.Errorf("only %d of %d messages processed after %s", n, acked, cfg.DrainLimit)
		}
		sleep(ctx, 100*time.Millisecond)
	}
	if got, _, _ := rcv.Counts(); got != 0 {
		return fmt.Errorf("%d events were delivered while the fan-out was held", got)
	}
	cpu0, _ := harness.CPUTime(srv.Pid())
	released := time.Now()
	if err := hold.Commit(ctx); err != nil {
		return err
	}
	logf("throughput: released; waiting for %d deliveries", acked)
	got := rcv.WaitDistinct(ctx, acked, 15*time.Second, cfg.DrainLimit)
	cpu1, _ := harness.CPUTime(srv.Pid())
	arr := rcv.Arrivals()
	var first, last time.Time
	for _, a := range arr {
		if first.IsZero() || a.At.Before(first) {
			first = a.At
		}
		if a.At.After(last) {
			last = a.At
		}
	}
	_, repeats, bad := rcv.Counts()
	lastOutcome.throughputWanted, lastOutcome.throughputGot = acked, got
	lastOutcome.repeats += repeats
	lastOutcome.badSigs += bad
	span := last.Sub(released)
	rate := float64(got) / max(span.Seconds(), 0.001)
	rep.Add(sec, "events waiting in the log (message.received of acknowledged webhooks)", fmt.Sprint(acked), "", "")
	rep.Add(sec, "delivered / repeated / bad signature", fmt.Sprintf("%d / %d / %d", got, repeats, bad), fmt.Sprintf("%d / - / 0", acked),
		harness.Check(got == acked && bad == 0))
	rep.Add(sec, "release -> first arrival", fmt.Sprintf("%.0f ms", ms(first.Sub(released))), "", "")
	rep.Add(sec, "release -> last arrival", fmt.Sprintf("%.2f s", span.Seconds()), "", "")
	rep.Add(sec, "events delivered a second to one receiver", fmt.Sprintf("%.0f/s", rate), ">= 2,000/s", harness.Verdict(rate >= 2000 && got == acked))
	if cpu1 > cpu0 && got > 0 {
		rep.Add(sec, "server CPU per 1,000 deliveries", fmt.Sprintf("%.0f ms", ms(cpu1-cpu0)/float64(got)*1000), "", "")
	}
	return nil
}

// isolation sends a steady flow of messages to a workspace with a healthy endpoint and one
// that times out on every request, and reads the healthy one's latencies.
func isolation(ctx context.Context, cfg config, rep *harness.Report, logf func(string, ...any), srv *harness.Server,
	db *harness.DB, c *harness.Client, u harness.User, t harness.Tenant) error {
	const sec = "2 isolation"
	healthy, err := harness.StartHookReceiver("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer healthy.Close()
	slow, err := harness.StartHookReceiver("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer slow.Close()
	slow.Hang.Store(true)
	healthyID, secret, err := c.CreateEndpoint(ctx, u, t.WorkspaceID, healthy.URL, "message.received")
	if err != nil {
		return err
	}
	if err := healthy.Secret(secret); err != nil {
		return err
	}
	slowID, _, err := c.CreateEndpoint(ctx, u, t.WorkspaceID, slow.URL, "*")
	if err != nil {
		return err
	}
	logf("isolation: %.0f messages/s for %s; the second endpoint times out on every request", cfg.Rate, cfg.Duration)
	gen := harness.NewGenerator([]harness.Tenant{t}, 500, 0)
	load := harness.Load(ctx, harness.LoadOptions{Targets: []string{srv.URL}, Concurrency: 64, Rate: cfg.Rate, Duration: cfg.Duration, Gen: gen})
	acked := load.Acknowledged()
	got := healthy.WaitDistinct(ctx, acked, 15*time.Second, cfg.DrainLimit)
	_, repeats, bad := healthy.Counts()
	lastOutcome.isolationWanted, lastOutcome.isolationGot = acked, got
	lastOutcome.repeats += repeats
	lastOutcome.badSigs += bad
	lastOutcome.slowRequests = int(slow.Requests())

	created := map[string]time.Time{}
	rows, err := db.Pool.Query(ctx, `SELECT event_id, created_at FROM webhook_deliveries WHERE endpoint_id = $1`, healthyID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return err
		}
		created[id] = at
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var fromDelivery, fromEvent []time.Duration
	for id, a := range healthy.Arrivals() {
		if at, ok := created[id]; ok {
			fromDelivery = append(fromDelivery, max(a.At.Sub(at), 0))
		}
		if !a.CreatedAt.IsZero() {
			fromEvent = append(fromEvent, max(a.At.Sub(a.CreatedAt), 0))
		}
	}
	slices.Sort(fromDelivery)
	slices.Sort(fromEvent)
	failed, err := db.Count(ctx, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status IN ('failed', 'dead')`, slowID)
	if err != nil {
		return err
	}
	rep.Add(sec, fmt.Sprintf("inbound messages paced at %.0f/s for %s", cfg.Rate, cfg.Duration), fmt.Sprintf("%d acknowledged", acked), "", "")
	rep.Add(sec, "healthy endpoint: delivered / repeated / bad signature", fmt.Sprintf("%d / %d / %d", got, repeats, bad),
		fmt.Sprintf("%d / - / 0", acked), harness.Check(got == acked && bad == 0))
	rep.Add(sec, "timing-out endpoint: requests it held / deliveries failed so far", fmt.Sprintf("%d / %d", slow.Requests(), failed), "", "")
	if len(fromDelivery) == 0 {
		rep.Add(sec, "healthy endpoint: delivery latency (fan-out -> arrival)", "no deliveries", "p99 <= 1 s", harness.NotMet)
		return nil
	}
	p99 := harness.Percentile(fromDelivery, .99)
	rep.Add(sec, "healthy endpoint: delivery latency (fan-out -> arrival)", pcts(fromDelivery), "p99 <= 1 s", harness.Verdict(p99 <= time.Second))
	if len(fromEvent) > 0 {
		rep.Add(sec, "healthy endpoint: event -> arrival (its created_at; includes the log subscriber's catching up)", pcts(fromEvent), "", "")
	}
	rep.Note("isolation latency: from the healthy endpoint's delivery row's created_at (written by the fan-out) to the receiver's first arrival of its webhook-id; the server and this process share one clock")
	return nil
}

func pcts(sorted []time.Duration) string {
	return fmt.Sprintf("p50 %.0f ms p95 %.0f ms p99 %.0f ms max %.0f ms", ms(harness.Percentile(sorted, .5)),
		ms(harness.Percentile(sorted, .95)), ms(harness.Percentile(sorted, .99)), ms(sorted[len(sorted)-1]))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
