// Command live measures the team inbox's live events (issue 15) on one `waba serve
// --role=all` process, which both serves the streams and processes the webhooks:
//
//  1. Memory: the process's RSS (/proc/<pid>/status VmRSS) idle, then with -subscribers
//     Server-Sent Events streams open and idle; the growth per stream. The Go heap and
//     stacks in use (/metrics) say where it went.
//
//  2. Delivery: while the streams stay open, signed inbound-message webhooks are posted at
//     -rate a second for -duration (paced, open loop, after an unmeasured warm-up). For
//     every message and every stream of its workspace, the time from the webhook's 200 to
//     the stream's `message.created` event carrying its wamid; percentiles over all those
//     deliveries, and how many were expected, received, missing or doubled. The latency is
//     split where the database says the message's processing transaction began.
//
// The streams are spread evenly over -workspaces workspaces, each with -users members
// (its owner and others added as manager, viewer or owner: all see every event), each
// member opening the same number of streams with their bearer token. The users are signed
// up through a separate api-role process that is stopped before the measured one starts,
// so that their password hashing (argon2, 64 MiB each) is not in the measured RSS. The
// clients run in this process, on the same CPUs: one goroutine and one bufio reader per
// stream, the wamid found with bytes.Index.
//
//	DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/live [-subscribers 1000] [-rate 500] [-duration 20s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wabaplatform/waba/bench/internal/harness"
)

type config struct {
	Subscribers int           // streams open on the process
	Workspaces  int           // the streams and the webhooks are spread evenly over them
	Users       int           // members per workspace (each opens Subscribers/(Workspaces*Users) streams)
	Rate        float64       // inbound messages a second
	Duration    time.Duration // measured load
	Warmup      time.Duration // load before it at the same rate, not measured (0: none)
	Settle      time.Duration // idle time before each RSS reading
	DrainLimit  time.Duration // longest wait for the last deliveries after the load
	History     int           // earlier messages seeded before the runs
	ServerEnv   string        // more KEY=VALUE,... for the measured process
	ResultsDir  string        // "" = bench/results
	Out         io.Writer
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Subscribers, "subscribers", 1000, "Server-Sent Events streams open on the process")
	flag.IntVar(&cfg.Workspaces, "workspaces", 10, "workspaces the streams and the messages are spread over")
	flag.IntVar(&cfg.Users, "users", 10, "members per workspace (owner, manager, viewer) opening the streams")
	flag.Float64Var(&cfg.Rate, "rate", 500, "inbound messages a second (signed webhooks, paced)")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the measured load")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load at the same rate before the measured one, not measured")
	flag.DurationVar(&cfg.Settle, "settle", 2*time.Second, "idle time before each RSS reading")
	flag.DurationVar(&cfg.DrainLimit, "drain", 30*time.Second, "longest wait for the last deliveries after the load")
	flag.IntVar(&cfg.History, "history", 20_000, "earlier messages seeded (and analyzed) before the runs")
	flag.StringVar(&cfg.ServerEnv, "server-env", "", "more environment for the measured process, KEY=VALUE,... (GOGC=200, say)")
	flag.Parse()
	cfg.Out = os.Stdout
	harness.Main("live", 10*time.Minute, cfg.ResultsDir, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, cfg)
	})
}

// outcome holds the figures the smoke test checks.
type outcome struct {
	opened             int // streams the server counted open
	load               harness.LoadResult
	expected, received int // deliveries of acknowledged messages
	missing, doubled   int
	ended              int // streams the server ended during the run
}

var lastOutcome outcome

// member is a user of a workspace with their access token.
type member struct {
	ws    int
	token string
}

func run(ctx context.Context, cfg config) (*harness.Report, error) {
	lastOutcome = outcome{}
	measuredFrom.Store(1 << 62)
	measuredReceived.Store(0)
	if cfg.Workspaces < 1 || cfg.Users < 1 || cfg.Subscribers < cfg.Workspaces*cfg.Users {
		return nil, fmt.Errorf("need at least one stream per member: %d subscribers, %d workspaces x %d users",
			cfg.Subscribers, cfg.Workspaces, cfg.Users)
	}
	rep := harness.NewReport("live", "section", "measure", "value", "target", "result")
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Out, "live: "+format+"\n", args...) }
	if lim, err := raiseOpenFiles(uint64(cfg.Subscribers) + 1024); err != nil {
		return nil, err
	} else if cfg.Subscribers > 100 {
		logf("open files: soft limit %d", lim)
	}
	prep, err := harness.Prepare(ctx, "live", logf)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(prep.Tmp)
	db, err := harness.NewDB(ctx, prep.Base, "live", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()

	// Set-up through an api-role process of its own, stopped before the measured one starts.
	opts := harness.ServerOptions{Bin: prep.Bin, DatabaseURL: db.URL, Role: "api", LogDir: prep.Tmp, Name: "setup"}
	setup, err := harness.StartServer(ctx, opts)
	if err != nil {
		return nil, err
	}
	logf("set-up: %d workspaces, %d members each (signed up, argon2 at production cost)", cfg.Workspaces, cfg.Users)
	tenants, members, err := setupWorkspaces(ctx, setup.URL, db, cfg.Workspaces, cfg.Users)
	setup.Kill()
	if err != nil {
		return nil, err
	}
	if cfg.History > 0 {
		if _, err := db.SeedHistory(ctx, cfg.History); err != nil {
			return nil, err
		}
	}

	// The measured process: role all, the deployment's defaults.
	ao := opts
	ao.Role, ao.Name, ao.MaxConns = "all", "live", 25
	ao.Env = map[string]string{}
	for _, kv := range strings.Split(cfg.ServerEnv, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			ao.Env[k] = v
		}
	}
	srv, err := harness.StartServer(ctx, ao)
	if err != nil {
		return nil, err
	}
	defer srv.Kill()
	if len(ao.Env) > 0 {
		rep.Add("1 memory", "environment of the process", fmt.Sprint(ao.Env), "", "")
	}
	if n, err := maxOpenFiles(srv.Pid()); err == nil && n < uint64(cfg.Subscribers)+256 {
		return rep, fmt.Errorf("the server may open only %d files, fewer than %d streams need", n, cfg.Subscribers)
	}

	// 1. Memory: idle, then with the streams open and idle.
	sleep(ctx, cfg.Settle)
	before, err := sample(ctx, srv)
	if err != nil {
		return rep, err
	}
	logf("opening %d streams (%d workspaces x %d members)", cfg.Subscribers, cfg.Workspaces, cfg.Users)
	streamCtx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	subs, wait, err := openStreams(streamCtx, srv.URL, members, tenants, cfg.Subscribers)
	defer func() { stopStreams(); wait() }()
	if err != nil {
		return rep, err
	}
	opened, err := waitStreams(ctx, srv, cfg.Subscribers)
	lastOutcome.opened = opened
	if err != nil {
		return rep, err
	}
	sleep(ctx, cfg.Settle)
	idle, err := sample(ctx, srv)
	if err != nil {
		return rep, err
	}
	n := float64(cfg.Subscribers)
	perRSS := float64(idle.rss-before.rss) / n / 1024
	const sec1 = "1 memory"
	rep.Add(sec1, "streams open on the process (waba_live_streams)", fmt.Sprintf("%d (%d workspaces x %d members x %g streams)",
		opened, cfg.Workspaces, cfg.Users, float64(cfg.Subscribers)/float64(cfg.Workspaces*cfg.Users)), strconv.Itoa(cfg.Subscribers), harness.Check(opened == cfg.Subscribers))
	rep.Add(sec1, "server RSS idle, no streams", mib(before.rss), "", "")
	rep.Add(sec1, fmt.Sprintf("server RSS with %d idle streams (%s later)", cfg.Subscribers, cfg.Settle), mib(idle.rss), "", "")
	rep.Add(sec1, "RSS growth per idle stream", fmt.Sprintf("%.1f KiB", perRSS), "<= 64 KiB", harness.Verdict(perRSS <= 64))
	rep.Add(sec1, "  of which Go heap in use / stacks in use, per stream", fmt.Sprintf("%.1f KiB / %.1f KiB",
		float64(idle.heapInuse-before.heapInuse)/n/1024, float64(idle.stackInuse-before.stackInuse)/n/1024), "", "")
	rep.Add(sec1, "  goroutines per stream", fmt.Sprintf("%.2f (%d -> %d)", float64(idle.goroutines-before.goroutines)/n,
		before.goroutines, idle.goroutines), "", "")

	// 2. Delivery under load.
	const sec2 = "2 delivery"
	gen := harness.NewGenerator(tenants, 500, 0) // messages only
	slots := int(cfg.Rate*(cfg.Warmup+cfg.Duration).Seconds()*1.2) + 4096
	acks := newAckTimes(slots)
	conc := 256
	if cfg.Warmup > 0 {
		logf("warm-up: %.0f messages/s for %s (not measured)", cfg.Rate, cfg.Warmup)
		w := harness.Load(ctx, harness.LoadOptions{Targets: []string{srv.URL}, Concurrency: conc, Rate: cfg.Rate, Duration: cfg.Warmup, Gen: gen})
		measuredFrom.Store(int64(w.Requests)) // the measured run's messages are numbered from here
	} else {
		measuredFrom.Store(0)
	}
	cpu0, _ := harness.CPUTime(srv.Pid())
	var self0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	logf("load: %.0f messages/s for %s over %d workspaces", cfg.Rate, cfg.Duration, cfg.Workspaces)
	load := harness.Load(ctx, harness.LoadOptions{Targets: []string{srv.URL}, Concurrency: conc, Rate: cfg.Rate, Duration: cfg.Duration, Gen: gen,
		OnResult: func(p harness.Payload, status int, _ time.Time) {
			if status == http.StatusOK {
				acks.set(p.WAMID, time.Now())
			}
		}})
	lastOutcome.load = load
	cpu1, _ := harness.CPUTime(srv.Pid())
	var self1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	from := int(measuredFrom.Load())
	perWS := make([]int, len(tenants))
	for _, s := range subs {
		perWS[s.ws]++
	}
	expected := 0
	for i := from; i < from+load.Requests; i++ {
		if _, ok := acks.get(i); ok {
			expected += perWS[i%len(tenants)]
		}
	}
	logf("waiting for %d deliveries (up to %s)", expected, cfg.DrainLimit)
	drainStart := time.Now()
	for last, lastAt := int64(-1), time.Now(); ; {
		got := measuredReceived.Load()
		if got >= int64(expected) || time.Since(drainStart) > cfg.DrainLimit || ctx.Err() != nil {
			break
		}
		if got != last {
			last, lastAt = got, time.Now()
		} else if time.Since(lastAt) > 10*time.Second {
			break // nothing more is coming
		}
		sleep(ctx, 50*time.Millisecond)
	}
	end, _ := sample(ctx, srv)
	stopStreams()
	wait()
	appended, err := appendTimes(ctx, db, gen, from, load.Requests)
	if err != nil {
		return rep, err
	}

	// Match every delivery with its acknowledgement.
	var lat, toAppend, fromAppend []time.Duration // 200 -> delivery; 200 -> processing began, per message; began -> delivery
	for i, at := range appended {
		if ack, ok := acks.get(i); ok {
			toAppend = append(toAppend, max(time.Duration(at-ack), 0))
		}
	}
	received, doubled, early, ended := 0, 0, 0, 0
	for _, s := range subs {
		if s.endedEarly.Load() {
			ended++
		}
		seen := make(map[int32]struct{}, len(s.got))
		for _, d := range s.got {
			if int(d.i) < from || int(d.i) >= from+load.Requests {
				continue
			}
			ack, ok := acks.get(int(d.i))
			if !ok {
				continue // not acknowledged: not expected
			}
			if _, dup := seen[d.i]; dup {
				doubled++
				continue
			}
			seen[d.i] = struct{}{}
			received++
			l := time.Duration(d.at - ack)
			if l < 0 { // the event came before the client had read the 200
				early++
				l = 0
			}
			lat = append(lat, l)
			if at, ok := appended[int(d.i)]; ok {
				fromAppend = append(fromAppend, max(time.Duration(d.at-at), 0))
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(toAppend)
	slices.Sort(fromAppend)
	missing := expected - received
	lastOutcome.expected, lastOutcome.received, lastOutcome.missing, lastOutcome.doubled, lastOutcome.ended = expected, received, missing, doubled, ended
	non200 := load.Requests - load.Acknowledged()
	rep.Add(sec2, fmt.Sprintf("webhooks paced at %.0f/s for %s", cfg.Rate, cfg.Duration), fmt.Sprintf("%.0f ack/s p50 %.1fms p99 %.1fms (%d acked, %d not)",
		load.PerSecond(), harness.MS(load.Percentile(.5)), harness.MS(load.Percentile(.99)), load.Acknowledged(), non200), "", "")
	rep.Add(sec2, "deliveries expected / received (each stream of the workspace, each message)", fmt.Sprintf("%d / %d (%.0f/s)",
		expected, received, float64(received)/max(load.Elapsed.Seconds(), 0.001)), "", "")
	rep.Add(sec2, "deliveries missing / doubled", fmt.Sprintf("%d / %d", missing, doubled), "0 / 0", harness.Check(missing == 0 && doubled == 0))
	rep.Add(sec2, "streams ended by the server during the run", strconv.Itoa(ended), "0", harness.Check(ended == 0))
	p99 := harness.Percentile(lat, .99)
	if len(lat) > 0 {
		rep.Add(sec2, "latency webhook 200 -> event on the stream", fmt.Sprintf("p50 %.1fms p95 %.1fms p99 %.1fms max %.1fms",
			harness.MS(harness.Percentile(lat, .5)), harness.MS(harness.Percentile(lat, .95)), harness.MS(p99), harness.MS(lat[len(lat)-1])),
			"p99 <= 500ms", harness.Verdict(p99 <= 500*time.Millisecond && load.PerSecond() >= cfg.Rate*0.97))
	} else {
		rep.Add(sec2, "latency webhook 200 -> event on the stream", "no deliveries", "p99 <= 500ms", harness.NotMet)
	}
	if len(toAppend) > 0 && len(fromAppend) > 0 {
		rep.Add(sec2, "  of which 200 -> its processing transaction began (queue, batching), per message", pcts(toAppend), "", "")
		rep.Add(sec2, "  of which began -> on the stream (processing, commit, hub, stream), per delivery", pcts(fromAppend), "", "")
	}
	el := load.Elapsed.Seconds()
	if cpu1 > cpu0 && el > 0 {
		rep.Add(sec2, "server CPU during the load", fmt.Sprintf("%.0f%% of a core", (cpu1-cpu0).Seconds()/el*100), "", "")
	}
	selfCPU := time.Duration(self1.Utime.Nano()+self1.Stime.Nano()-self0.Utime.Nano()-self0.Stime.Nano()) * time.Nanosecond
	rep.Add(sec2, "bench process CPU during the load (streams' clients and webhook poster)", fmt.Sprintf("%.0f%% of a core", selfCPU.Seconds()/el*100), "", "")
	if end.rss > 0 {
		rep.Add(sec2, "server RSS at the end of the load", mib(end.rss), "", "")
	}

	rep.Note("one `waba serve --role=all` process (DB_MAX_CONNS 25, WEBHOOK_WORKERS 200) serves the streams and processes the webhooks; the streams' clients and the webhook poster are this process, on the same %s CPUs, and Postgres too", rep.Host["cpus"])
	rep.Note("%d streams over %d workspaces: %d streams and %.0f messages/s a workspace, so %.0f deliveries/s in all", cfg.Subscribers, cfg.Workspaces,
		cfg.Subscribers/cfg.Workspaces, cfg.Rate/float64(cfg.Workspaces), cfg.Rate*float64(cfg.Subscribers)/float64(cfg.Workspaces))
	rep.Note("latency: from the moment the poster read the webhook's 200 to the moment the stream's reader parsed the event's data line (time.Now() in both, one process); %d deliveries arrived before their 200 was read, counted as 0", early)
	rep.Note("the two legs of the latency meet at the event's created_at, the clock of the processing transaction as it began (before the batch's up to 50 bodies were applied and committed); Postgres, the server and this process share one clock")
	rep.Note("RSS: VmRSS of /proc/<pid>/status, %s after the process was ready and %s after the last stream opened; nothing forced (no GC, no FreeOSMemory)", cfg.Settle, cfg.Settle)
	if cfg.History > 0 {
		rep.Note("the database holds %d earlier messages and their contacts and conversations, analyzed, before the runs", cfg.History)
	}
	return rep, nil
}

// appendTimes reads, by message number, the created_at of each measured message's
// message.received event: the clock of its processing transaction, read as it begins
// (inbound.Service.process), before the batch's bodies are applied and committed.
func appendTimes(ctx context.Context, db *harness.DB, gen *harness.Generator, from, n int) (map[int]int64, error) {
	wamids := make([]string, n)
	for i := range n {
		wamids[i] = gen.At(from + i).WAMID
	}
	rows, err := db.Pool.Query(ctx, `SELECT payload->>'wamid', created_at FROM events
		WHERE kind = 'message.received' AND payload->>'wamid' = ANY($1)`, wamids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int]int64, n)
	for rows.Next() {
		var w string
		var at time.Time
		if err := rows.Scan(&w, &at); err != nil {
			return nil, err
		}
		if i, ok := wamidIndex([]byte(w)); ok {
			out[i] = at.UnixNano()
		}
	}
	return out, rows.Err()
}

func pcts(sorted []time.Duration) string {
	return fmt.Sprintf("p50 %.1fms p95 %.1fms p99 %.1fms max %.1fms", harness.MS(harness.Percentile(sorted, .5)),
		harness.MS(harness.Percentile(sorted, .95)), harness.MS(harness.Percentile(sorted, .99)), harness.MS(sorted[len(sorted)-1]))
}

// setupWorkspaces creates the workspaces, one number each registered for routing, and
// their members: the owner who creates it and users-1 more added as manager, viewer or
// owner in turn. It returns the tenants (one per workspace, in order) and the members.
func setupWorkspaces(ctx context.Context, apiURL string, db *harness.DB, workspaces, users int) ([]harness.Tenant, []member, error) {
	c := harness.NewClient(apiURL, 4)
	tenants := harness.NewTenants(workspaces)
	roles := []string{"manager", "viewer", "owner"}
	run := time.Now().UnixNano()
	members := make([][]member, workspaces)
	errs := make([]error, workspaces)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2) // argon2 at 64 MiB: two at once on two CPUs
	for w := range workspaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[w] = func() error {
				owner, err := c.SignupLogin(ctx, fmt.Sprintf("live-%d-w%d-owner@example.com", run, w))
				if err != nil {
					return err
				}
				ws, err := c.CreateWorkspace(ctx, owner, fmt.Sprintf("Live %d", w), "")
				if err != nil {
					return err
				}
				tenants[w].WorkspaceID = ws
				if _, err := db.InsertNumber(ctx, ws, tenants[w].PhoneNumberID, tenants[w].WABAID, tenants[w].Display); err != nil {
					return err
				}
				members[w] = append(members[w], member{ws: w, token: owner.Token})
				for j := 1; j < users; j++ {
					u, err := c.SignupLogin(ctx, fmt.Sprintf("live-%d-w%d-u%d@example.com", run, w, j))
					if err != nil {
						return err
					}
					if _, err := c.Must(ctx, 201, "POST", "/v1/workspaces/"+ws+"/members", owner.Token,
						map[string]string{"email": u.Email, "role": roles[(j-1)%len(roles)]}); err != nil {
						return err
					}
					members[w] = append(members[w], member{ws: w, token: u.Token})
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	var all []member
	for j := range users { // interleaved: stream i goes to member i mod len(all)
		for w := range workspaces {
			all = append(all, members[w][j])
		}
	}
	return tenants, all, nil
}

// delivery is one event received: the message's number in the generator and when.
type delivery struct {
	i  int32
	at int64 // UnixNano
}

// subscriber is one stream's client.
type subscriber struct {
	ws         int
	got        []delivery // written by its reader only; read after it ended
	endedEarly atomic.Bool
}

var (
	measuredFrom     atomic.Int64 // the first message of the measured run (all before: warm-up)
	measuredReceived atomic.Int64 // deliveries of measured messages so far
)

// openStreams opens n streams, stream i with member i mod len(members)'s token, 32 at a
// time, each ready once its ": connected" comment arrived (the server has subscribed it).
// wait returns once every reader has ended (after ctx ends).
func openStreams(ctx context.Context, base string, members []member, tenants []harness.Tenant, n int) ([]*subscriber, func(), error) {
	tr := &http.Transport{MaxConnsPerHost: n + 16, MaxIdleConns: n + 16, MaxIdleConnsPerHost: n + 16, DisableCompression: true,
		IdleConnTimeout: time.Minute, ResponseHeaderTimeout: 30 * time.Second}
	hc := &http.Client{Transport: tr} // no Timeout: a stream lasts
	subs := make([]*subscriber, n)
	var readers sync.WaitGroup
	wait := func() { readers.Wait(); tr.CloseIdleConnections() }
	errc := make(chan error, n)
	sem := make(chan struct{}, 32)
	var openers sync.WaitGroup
	for i := range n {
		m := members[i%len(members)]
		s := &subscriber{ws: m.ws}
		subs[i] = s
		openers.Add(1)
		sem <- struct{}{}
		go func() {
			defer openers.Done()
			defer func() { <-sem }()
			errc <- s.open(ctx, hc, base+"/v1/workspaces/"+tenants[m.ws].WorkspaceID+"/events", m.token, &readers)
		}()
	}
	openers.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return subs, wait, fmt.Errorf("%d of %d streams did not open; first: %w", len(errs), n, errs[0])
	}
	return subs, wait, nil
}

// open connects the stream and starts its reader; it returns once the stream is connected.
func (s *subscriber) open(ctx context.Context, hc *http.Client, url, token string, readers *sync.WaitGroup) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		res.Body.Close()
		return fmt.Errorf("GET %s: %d %s", url, res.StatusCode, b)
	}
	br := bufio.NewReaderSize(res.Body, 8192)
	line, err := br.ReadSlice('\n')
	if err != nil || !bytes.Equal(line, []byte(": connected\n")) {
		res.Body.Close()
		return fmt.Errorf("GET %s: first line %q: %v", url, line, err)
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		defer res.Body.Close()
		s.read(ctx, br)
	}()
	return nil
}

var (
	eventCreated = []byte("event: message.created\n")
	dataPrefix   = []byte("data: ")
	wamidKey     = []byte(`"wamid":"`)
)

// read reads events until the stream ends, recording each message.created with a wamid
// of this run.
func (s *subscriber) read(ctx context.Context, br *bufio.Reader) {
	created := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a line longer than the buffer: not ours
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			created = false
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				s.endedEarly.Store(true)
			}
			return
		}
		switch {
		case len(line) <= 2: // the blank line ending an event
			created = false
		case line[0] == 'e':
			created = bytes.Equal(line, eventCreated)
		case created && bytes.HasPrefix(line, dataPrefix):
			at := time.Now().UnixNano()
			if i, ok := wamidNumber(line); ok {
				s.got = append(s.got, delivery{i: int32(i), at: at})
				if int64(i) >= measuredFrom.Load() {
					measuredReceived.Add(1)
				}
			}
		}
	}
}

// wamidNumber finds the wamid in an event's data line and returns the generator's number
// of its message (harness.Generator: "wamid." + base64 of "\x15\x02BENCH<run><12 digits>").
func wamidNumber(line []byte) (int, bool) {
	k := bytes.Index(line, wamidKey)
	if k < 0 {
		return 0, false
	}
	v := line[k+len(wamidKey):]
	e := bytes.IndexByte(v, '"')
	if e < 0 {
		return 0, false
	}
	return wamidIndex(v[:e])
}

// wamidIndex reads the generator's number of a wamid it made.
func wamidIndex(w []byte) (int, bool) {
	w, ok := bytes.CutPrefix(w, []byte("wamid."))
	if !ok {
		return 0, false
	}
	if bytes.IndexByte(w, '\\') >= 0 { // JSON may escape '/' as "\/"
		w = bytes.ReplaceAll(w, []byte(`\/`), []byte(`/`))
	}
	var buf [96]byte
	if base64.StdEncoding.DecodedLen(len(w)) > len(buf) {
		return 0, false
	}
	n, err := base64.StdEncoding.Decode(buf[:], w)
	if err != nil || n < 12 || !bytes.HasPrefix(buf[:n], []byte("\x15\x02BENCH")) {
		return 0, false
	}
	i, err := strconv.Atoi(string(buf[n-12 : n]))
	return i, err == nil
}

// ackTimes holds, by message number, when its webhook's 200 was read.
type ackTimes struct{ at []atomic.Int64 }

func newAckTimes(n int) *ackTimes { return &ackTimes{at: make([]atomic.Int64, n)} }

func (a *ackTimes) set(wamid string, t time.Time) {
	if i, ok := wamidIndex([]byte(wamid)); ok && i < len(a.at) {
		a.at[i].Store(t.UnixNano())
	}
}

func (a *ackTimes) get(i int) (int64, bool) {
	if i < 0 || i >= len(a.at) {
		return 0, false
	}
	v := a.at[i].Load()
	return v, v != 0
}

// waitStreams waits until the server counts want streams open (waba_live_streams).
func waitStreams(ctx context.Context, srv *harness.Server, want int) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := srv.Metrics(ctx)
		if err != nil {
			return 0, err
		}
		got := int(m["waba_live_streams"])
		if got == want {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("the server counts %d streams open, not %d", got, want)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// snapshot is the server's memory at one moment.
type snapshot struct {
	rss                   int64 // bytes
	heapInuse, stackInuse int64
	goroutines            int64
}

func sample(ctx context.Context, srv *harness.Server) (snapshot, error) {
	rss, err := harness.ProcStatus(srv.Pid(), "VmRSS")
	if err != nil {
		return snapshot{}, err
	}
	m, err := srv.Metrics(ctx)
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{rss: rss, heapInuse: int64(m["go_memstats_heap_inuse_bytes"]), stackInuse: int64(m["go_memstats_stack_inuse_bytes"]),
		goroutines: int64(m["go_goroutines"])}, nil
}

// maxOpenFiles reads the soft limit of open files of a process (/proc/<pid>/limits).
func maxOpenFiles(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseUint(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no open files limit")
}

// raiseOpenFiles raises this process's soft limit of open files to need (at most the hard
// limit) and returns it; an error when even the hard limit is below need.
func raiseOpenFiles(need uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur >= need {
		return rl.Cur, nil
	}
	if rl.Max < need {
		return rl.Cur, fmt.Errorf("open files: hard limit %d is below the %d the streams need (ulimit -Hn)", rl.Max, need)
	}
	rl.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
