// Command send measures the outbound path end to end, in one process: the whole app (fx
// graph, API and River workers) against a throwaway database and an in-process Meta sandbox
// with no injected latency. It prints how many messages a second the API accepted, its
// latency percentiles, and how many a second the workers delivered to the sandbox.
//
//	DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/send [-n 8000] [-c 32] [-workspaces 4]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/bootstrap"
)

func main() {
	n := flag.Int("n", 8000, "messages to send")
	conc := flag.Int("c", 32, "concurrent API clients")
	nws := flag.Int("workspaces", 4, "workspaces (enterprise plan, one number each at 1,000 msg/s)")
	contactsPer := flag.Int("contacts", 200, "contacts per workspace")
	burst := flag.Bool("burst", false, "pause the send workers while the API accepts, then time the drain alone")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*n, *conc, *nws, *contactsPer, *burst); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(n, conc, nws, contactsPer int, burst bool) error {
	ctx := context.Background()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		return fmt.Errorf("DATABASE_URL is required (DATABASE_URL=\"$(scripts/postgres.sh)\" go run ./bench/send)")
	}
	dbURL, drop, err := scratchDatabase(ctx, base)
	if err != nil {
		return err
	}
	defer drop()
	// Migrate first: a fresh database must have River's tables before any client starts.
	mp, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	if _, err := postgres.Migrate(ctx, mp, riveradapter.MigrateSchema); err != nil {
		mp.Close()
		return err
	}
	mp.Close()

	sb := sandbox.New(sandbox.Config{AppID: "bench-app", AppSecret: "bench-secret", DefaultThroughput: 1000})
	defer sb.Close()
	sbSrv := httptest.NewServer(sb.Handler())
	defer sbSrv.Close()

	env := map[string]string{
		"DATABASE_URL": dbURL, "HTTP_ADDR": "127.0.0.1:0", "META_APP_ID": "bench-app", "META_APP_SECRET": "bench-secret",
		"META_VERIFY_TOKEN": "bench", "JWT_SECRET": "bench-jwt-secret-bench-jwt-secret-0123", "META_GRAPH_URL": sbSrv.URL,
		"TOKEN_MASTER_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), "LOG_LEVEL": "error",
		"REDIS_URL": os.Getenv("REDIS_URL"), "DB_MAX_CONNS": "40", "ADMIN_TOKEN": "bench-operator-token",
	}
	cfg, err := bootstrap.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	var e *echo.Echo
	var pool *pgxpool.Pool
	var rc *river.Client[pgx.Tx]
	app := fx.New(append(bootstrap.Options(cfg, bootstrap.Settings{Role: bootstrap.RoleAll, PasswordHashing: "fast"},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))), fx.Populate(&e, &pool, &rc), fx.NopLogger)...)
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = app.Stop(context.Background()) }()
	c := &client{base: "http://" + e.Listener.Addr().String(), hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}}

	// Set-up: workspaces on the enterprise plan, a connected number each, contacts.
	var tok string
	if _, err := c.do("POST", "/v1/auth/signup", "", map[string]string{"email": "bench@example.com", "password": "correct horse battery", "name": "Bench"}, 201); err != nil {
		return err
	}
	login, err := c.do("POST", "/v1/auth/login", "", map[string]string{"email": "bench@example.com", "password": "correct horse battery"}, 200)
	if err != nil {
		return err
	}
	tok = login["access_token"].(string)
	type target struct{ ws, contact string }
	var targets [][]target
	for i := range nws {
		w, err := c.do("POST", "/v1/workspaces", tok, map[string]string{"name": fmt.Sprintf("bench %d", i)}, 201)
		if err != nil {
			return err
		}
		ws := w["id"].(string)
		if _, err := c.do("PUT", "/admin/workspaces/"+ws+"/plan", env["ADMIN_TOKEN"], map[string]string{"plan": "enterprise"}, 200); err != nil {
			return err
		}
		acct, err := sb.CreateAccount(sandbox.AccountOptions{Throughput: 1000})
		if err != nil {
			return err
		}
		num, err := c.do("POST", "/v1/workspaces/"+ws+"/whatsapp/connect", tok, map[string]string{
			"access_token": acct.AccessToken, "waba_id": acct.WABAID, "phone_number_id": acct.PhoneNumberID}, 202)
		if err != nil {
			return err
		}
		numID := num["phone_number"].(map[string]any)["id"].(string)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			p, err := c.do("GET", "/v1/workspaces/"+ws+"/whatsapp/phone-numbers/"+numID, tok, nil, 200)
			if err != nil {
				return err
			}
			if p["status"] == "connected" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("number did not connect: %v", p)
			}
		}
		var ts []target
		for j := range contactsPer {
			ct, err := c.do("POST", "/v1/workspaces/"+ws+"/contacts", tok, map[string]any{"phone": fmt.Sprintf("+1415%03d%04d", 200+i, j)}, 201)
			if err != nil {
				return err
			}
			ts = append(ts, target{ws, ct["id"].(string)})
		}
		targets = append(targets, ts)
		// The catalogue, as a sync writes it: every template send is checked against it.
		if err := seedTemplates(ctx, pool, sb, ws, acct.WABAID); err != nil {
			return err
		}
	}
	// Contacts for the marketing phase: one per message, so each send pays the caps' lock
	// and count without reaching a cap (inserted directly: the API phase is what is timed).
	var promoTargets []target
	for i, ts := range targets {
		rows, err := pool.Query(ctx, `
			INSERT INTO contacts (workspace_id, id, phone, wa_id, created_at, updated_at)
			SELECT $1, gen_random_uuid(), '+1416' || lpad(($2::int)::text, 3, '0') || lpad(g::text, 6, '0'),
				'1416' || lpad(($2::int)::text, 3, '0') || lpad(g::text, 6, '0'), now(), now()
			FROM generate_series(1, $3) g RETURNING id::text`, ts[0].ws, 200+i, n/nws+1)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			promoTargets = append(promoTargets, target{ts[0].ws, id})
		}
	}

	// Phase 1: the API, with the workers sending at the same time (or paused, in burst mode).
	mode := "workers sending while the API accepts"
	if burst {
		mode = "burst: workers paused while the API accepts, then the drain alone"
		if err := rc.QueuePause(ctx, "outbound", nil); err != nil {
			return err
		}
	}
	fmt.Printf("sending %d template messages from %d clients to %d workspaces (sandbox: no latency, numbers at 1,000 msg/s; %s)\n", n, conc, nws, mode)
	send := func(template string, pick func(i int) target) (lat []time.Duration, failures int64, elapsed time.Duration) {
		lat = make([]time.Duration, n)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					tg := pick(i)
					t0 := time.Now()
					_, err := c.do("POST", "/v1/workspaces/"+tg.ws+"/messages", tok, map[string]any{"to": tg.contact, "type": "template",
						"template": map[string]any{"name": template, "language": map[string]string{"code": "en_US"}}}, 202)
					lat[i] = time.Since(t0)
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return lat, failed.Load(), time.Since(start)
	}
	start := time.Now()
	lat, failures, apiElapsed := send("hello_world", func(i int) target {
		ts := targets[i%nws]
		return ts[(i/nws)%len(ts)]
	})

	// Phase 2: wait until every accepted message has its wamid.
	accepted := n - int(failures)
	if burst {
		if err := rc.QueueResume(ctx, "outbound", nil); err != nil {
			return err
		}
	}
	var sentAtAPIEnd int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE wamid IS NOT NULL`).Scan(&sentAtAPIEnd)
	var last time.Time
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var sent int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE wamid IS NOT NULL`).Scan(&sent); err != nil {
			return err
		}
		if sent >= accepted {
			last = time.Now()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d sent after 5 minutes", sent, accepted)
		}
	}
	var firstSent, lastSent time.Time
	if err := pool.QueryRow(ctx, `SELECT min(sent_at), max(sent_at) FROM messages WHERE wamid IS NOT NULL`).Scan(&firstSent, &lastSent); err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Printf("API:  %d accepted, %d refused in %.2fs = %.0f msg/s accepted; latency p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms\n",
		accepted, failures, apiElapsed.Seconds(), float64(accepted)/apiElapsed.Seconds(),
		ms(pct(.50)), ms(pct(.90)), ms(pct(.99)), ms(lat[len(lat)-1]))
	fmt.Printf("Send: %d sent to the sandbox, first to last in %.2fs = %.0f msg/s sent (%d already sent when the API phase ended; all done %.2fs after the first request)\n",
		accepted, lastSent.Sub(firstSent).Seconds(), float64(accepted)/lastSent.Sub(firstSent).Seconds(), sentAtAPIEnd, last.Sub(start).Seconds())
	fmt.Printf("Sandbox: %d messages accepted by the simulated Graph API\n", len(sb.Messages()))

	// Phase 3: the same API load with a MARKETING template to distinct contacts, so every
	// send also takes the frequency caps' path (the contact's row lock and count), none
	// capped; the workers send meanwhile, or are paused again with -burst, as in phase 1.
	if burst { // the same conditions as phase 1: workers paused
		if err := rc.QueuePause(ctx, "outbound", nil); err != nil {
			return err
		}
	}
	plat, pfail, pElapsed := send("bench_promo", func(i int) target { return promoTargets[i%len(promoTargets)] })
	paccepted := n - int(pfail)
	slices.Sort(plat)
	ppct := func(p float64) time.Duration { return plat[min(len(plat)-1, int(float64(len(plat))*p))] }
	baseRate, mkt := float64(accepted)/apiElapsed.Seconds(), float64(paccepted)/pElapsed.Seconds()
	fmt.Printf("API marketing: %d accepted, %d refused in %.2fs = %.0f msg/s accepted; latency p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms\n",
		paccepted, pfail, pElapsed.Seconds(), mkt, ms(ppct(.50)), ms(ppct(.90)), ms(ppct(.99)), ms(plat[len(plat)-1]))
	fmt.Printf("Template+cap path: %.0f vs %.0f msg/s accepted = %.2f of the utility template path\n", mkt, baseRate, mkt/baseRate)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type client struct {
	base string
	hc   *http.Client
}

func (c *client) do(method, path, token string, body any, want int) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m, nil
}

// seedTemplates puts the templates the benchmark sends in the workspace's catalogue:
// hello_world (UTILITY, every sandbox WABA has it) and bench_promo (MARKETING, added to the
// sandbox WABA too).
func seedTemplates(ctx context.Context, pool *pgxpool.Pool, sb *sandbox.Sandbox, ws, wabaID string) error {
	if _, err := sb.AddTemplate(wabaID, sandbox.TemplateSpec{Name: "bench_promo", Language: "en_US", Category: "MARKETING",
		Components: json.RawMessage(`[{"type":"BODY","text":"Sale"}]`)}); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO templates (workspace_id, id, waba_id, name, language, category, status, components, updated_at)
		VALUES ($1, gen_random_uuid(), $2, 'hello_world', 'en_US', 'UTILITY', 'APPROVED', '[{"type":"BODY","text":"Hello World"}]', now()),
			($1, gen_random_uuid(), $2, 'bench_promo', 'en_US', 'MARKETING', 'APPROVED', '[{"type":"BODY","text":"Sale"}]', now())
		ON CONFLICT (workspace_id, waba_id, name, language) DO NOTHING`, ws, wabaID)
	return err
}

// scratchDatabase creates a fresh database on the server of base and returns its URL and
// a function dropping it.
func scratchDatabase(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "waba_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}, nil
}
