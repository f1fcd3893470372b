// Command importer measures contact imports end to end, in one process: the whole app (fx
// graph, API) against a scratch database, and a client that uploads a generated CSV
// through an io.Pipe, so the list exists nowhere whole, neither here nor in the server. For
// each size it imports the list (every contact new), then again with every name changed
// (every contact updated), then once more as it is (nothing to write), and prints rows a
// second and the process's peak heap in use while the import ran (sampled every 50 ms)
// over what it was before, and the peak RSS.
//
//	DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/importer [-rows 100000,1000000]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/bench/internal/harness"
	"github.com/wabaplatform/waba/bootstrap"
)

func main() {
	sizes := flag.String("rows", "100000,1000000", "comma-separated list sizes (data rows)")
	flag.Parse()
	if err := run(*sizes); err != nil {
		fmt.Fprintln(os.Stderr, "importer:", err)
		os.Exit(1)
	}
}

func run(sizes string) error {
	ctx := context.Background()
	base := harness.BaseDatabaseURL()
	db, err := harness.NewDB(ctx, base, "importer", 2)
	if err != nil {
		return err
	}
	defer db.Drop()
	env := map[string]string{
		"DATABASE_URL": db.URL, "HTTP_ADDR": "127.0.0.1:0", "META_APP_ID": "bench-app", "META_APP_SECRET": "bench-secret",
		"META_VERIFY_TOKEN": "bench", "JWT_SECRET": "bench-jwt-secret-bench-jwt-secret-0123",
		"TOKEN_MASTER_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), "LOG_LEVEL": "error",
	}
	cfg, err := bootstrap.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	var e *echo.Echo
	app := fx.New(append(bootstrap.Options(cfg, bootstrap.Settings{Role: bootstrap.RoleAll, PasswordHashing: "fast"},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))), fx.Populate(&e), fx.NopLogger)...)
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = app.Stop(context.Background()) }()
	api := harness.NewClient("http://"+e.Listener.Addr().String(), 1)
	u, err := api.SignupLogin(ctx, "importer@example.com")
	if err != nil {
		return err
	}

	fmt.Printf("contact import, whole app in one process (GOMAXPROCS %d), Postgres at %s\n", runtime.GOMAXPROCS(0), db.Name)
	fmt.Printf("%-9s %-10s %8s %10s %9s %9s %9s %11s %11s %9s\n", "rows", "pass", "seconds", "rows/s", "created", "updated",
		"unchanged", "heap before", "heap peak", "peak RSS")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-rows: %w", err)
		}
		ws, err := api.CreateWorkspace(ctx, u, fmt.Sprintf("import %d", n), "")
		if err != nil {
			return err
		}
		for _, pass := range []struct {
			name  string
			names string
		}{{"new", "a"}, {"changed", "b"}, {"same", "b"}} {
			r, err := measure(ctx, api.Base+"/v1/workspaces/"+ws+"/contacts/import", u.Token, n, pass.names)
			if err != nil {
				return err
			}
			fmt.Printf("%-9d %-10s %8.1f %10.0f %9d %9d %9d %10.1fM %10.1fM %8.0fM\n", n, pass.name, r.elapsed.Seconds(),
				float64(n)/r.elapsed.Seconds(), r.res.Created, r.res.Updated, r.res.Unchanged, mib(r.heapBefore), mib(r.heapPeak), mib(r.rss))
			if r.res.Accepted != n || r.res.RejectedCount != 0 {
				return fmt.Errorf("%d rows: accepted %d, rejected %d", n, r.res.Accepted, r.res.RejectedCount)
			}
		}
	}
	return nil
}

type result struct {
	Accepted, Created, Updated, Unchanged, Duplicates, RejectedCount int
}

type measured struct {
	res                  result
	elapsed              time.Duration
	heapBefore, heapPeak uint64
	rss                  uint64
}

// measure uploads n generated rows and samples the heap until the answer arrives.
func measure(ctx context.Context, url, token string, n int, names string) (measured, error) {
	var m measured
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heapBefore = ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(generate(pw, n, names)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		return m, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	m.elapsed = time.Since(start)
	close(stop)
	<-sampled
	m.heapPeak, m.rss = peak.Load(), peakRSS()
	if err != nil {
		return m, err
	}
	if res.StatusCode != http.StatusOK {
		return m, fmt.Errorf("import: %d %s", res.StatusCode, raw)
	}
	return m, json.Unmarshal(raw, &m.res)
}

// generate writes a list of n rows with distinct valid phones, names (suffixed by names),
// two tags and two attributes.
func generate(w io.Writer, n int, names string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("phone,name,tags,city,plan\n"); err != nil {
		return err
	}
	for i := range n {
		if _, err := fmt.Fprintf(bw, "+1415%03d%04d,Customer %d %s,imported;batch%d,City %d,gold\n",
			200+i/10_000, i%10_000, i, names, i%10, i%500); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// peakRSS is the process's peak resident set (Linux VmHWM), 0 elsewhere.
func peakRSS() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
