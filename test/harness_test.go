// Package test holds the black-box end-to-end tests: the whole fx graph over real HTTP,
// real Postgres (a fresh database per test) and, where Meta is involved, the sandbox.
package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/bootstrap"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// App is a running server under test.
type App struct {
	URL   string
	Echo  *echo.Echo
	Pool  *pgxpool.Pool
	River *river.Client[pgx.Tx]
	Cfg   bootstrap.Config
	Logs  *syncBuffer
	// Clock is the time the app's rules read: real time until a test moves it.
	Clock *testClock
	app   *fx.App
	stop  sync.Once
}

// Stop stops the app (drains requests and jobs); later calls do nothing.
func (a *App) Stop(t testing.TB) {
	t.Helper()
	a.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, a.app.Stop(ctx))
	})
}

// testClock is real time moved forward by what a test has advanced it.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testConfig is a valid configuration for databaseURL.
func testConfig(t testing.TB, databaseURL string) bootstrap.Config {
	env := map[string]string{
		"DATABASE_URL":      databaseURL,
		"HTTP_ADDR":         "127.0.0.1:0",
		"META_APP_ID":       "test-app",
		"META_APP_SECRET":   "test-app-secret",
		"META_VERIFY_TOKEN": "test-verify-token",
		"JWT_SECRET":        "test-jwt-secret-test-jwt-secret-0123",
		"TOKEN_MASTER_KEY":  base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"SHUTDOWN_TIMEOUT":  "5s",
		"LOG_LEVEL":         "debug",
		"MEDIA_BUCKET_URL":  "file://" + t.TempDir(),
		// Several apps run at once (parallel tests, two-instance tests, other packages) on
		// a server that may allow only 100 connections (Postgres' default): the product's
		// 25 each once ran it out, and a send failed with "too many clients" (500).
		"DB_MAX_CONNS": "12",
	}
	cfg, err := bootstrap.LoadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	return cfg
}

// startApp runs the whole graph on a fresh database and stops it when t ends.
func startApp(t testing.TB, tweak ...func(*bootstrap.Config)) *App {
	t.Helper()
	return startAppOn(t, pgtest.NewURL(t), tweak...)
}

func startAppOn(t testing.TB, databaseURL string, tweak ...func(*bootstrap.Config)) *App {
	t.Helper()
	return startAppWith(t, databaseURL, func(*bootstrap.Settings) {}, tweak...)
}

// startAppWith is startAppOn with the settings tests may change (a shorter heartbeat).
func startAppWith(t testing.TB, databaseURL string, settings func(*bootstrap.Settings), tweak ...func(*bootstrap.Config)) *App {
	t.Helper()
	cfg := testConfig(t, databaseURL)
	for _, f := range tweak {
		f(&cfg)
	}
	logs := &syncBuffer{}
	log := bootstrap.NewLogger(logs, cfg.LogLevel, cfg.LogFormat)
	a := &App{Cfg: cfg, Logs: logs, Clock: &testClock{}}
	set := bootstrap.Settings{Role: bootstrap.RoleAll, Migrate: true, PasswordHashing: "fast", Clock: a.Clock.Now}
	settings(&set)
	opts := append(bootstrap.Options(cfg, set, log),
		fx.Populate(&a.Echo, &a.Pool, &a.River))
	a.app = fx.New(opts...)
	require.NoError(t, a.app.Err())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, a.app.Start(ctx))
	t.Cleanup(func() { a.Stop(t) })
	t.Cleanup(func() { a.logErrors(t) })
	a.URL = "http://" + a.Echo.Listener.Addr().String()
	return a
}

// logErrors prints the app's error lines when the test failed: a 500 says only that
// something went wrong, its log line says what. The app logs JSON here (its output is a
// buffer, not a terminal).
func (a *App) logErrors(t testing.TB) {
	if !t.Failed() {
		return
	}
	for line := range strings.Lines(a.Logs.String()) {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Log("app: " + strings.TrimSpace(line))
		}
	}
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// Code is the problem code of an error response.
func (r Response) Code(t testing.TB) string {
	t.Helper()
	s, _ := r.JSON(t)["code"].(string)
	return s
}

// CSV is a request body sent as it is, as text/csv.
type CSV string

// Do sends a request with an optional bearer token and body: JSON, or a string or bytes
// sent as they are (as JSON too, unless the string is a CSV).
func (a *App) Do(t testing.TB, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	r, err := a.Send(method, path, token, body, headers...)
	require.NoError(t, err, "%s %s", method, path)
	return r
}

// Send is Do without the test: it returns what went wrong instead of failing. Goroutines
// other than the test's use it (require there would only stop that goroutine) and leave
// the checks to the test once they are done.
func (a *App) Send(method, path, token string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case CSV:
		rd, contentType = strings.NewReader(string(b)), "text/csv"
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") == "text/event-stream" {
		return Response{Status: res.StatusCode, Header: res.Header}, nil // a stream never ends: its status is the answer
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}, nil
}

// Must sends a request and requires the status.
func (a *App) Must(t testing.TB, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	r := a.Do(t, method, path, token, body)
	require.Equal(t, want, r.Status, "%s %s: %s", method, path, r.Body)
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

// eventually polls cond until it holds or the timeout passes.
// It polls in the test's own goroutine, so a require inside cond fails the test at once
// (require.Eventually runs cond elsewhere, where a failure only shows as a timeout).
func eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
	}
}
