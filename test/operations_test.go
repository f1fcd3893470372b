package test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/httpconsole"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/bootstrap"
)

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	app := startApp(t)

	require.Equal(t, 200, app.Do(t, "GET", "/healthz", "", nil).Status)
	require.Equal(t, 200, app.Do(t, "GET", "/readyz", "", nil).Status)

	metrics := string(app.Do(t, "GET", "/metrics", "", nil).Body)
	for _, m := range []string{"http_request_duration_seconds_bucket{", `route="/readyz"`, "go_goroutines", "process_resident_memory_bytes", "pgxpool_max_conns"} {
		require.Contains(t, metrics, m)
	}

	doc := app.Do(t, "GET", "/v1/openapi.json", "", nil)
	require.Equal(t, 200, doc.Status)
	require.Equal(t, "3.1.0", doc.JSON(t)["openapi"])

	nf := app.Do(t, "GET", "/v1/nope", "", nil)
	require.Equal(t, 404, nf.Status)
	require.Equal(t, "application/problem+json", nf.Header.Get("Content-Type"))
	require.Equal(t, "not_found", nf.Code(t))
	require.NotEmpty(t, nf.Header.Get("X-Request-Id"))

	big := app.Do(t, "POST", "/v1/auth/signup", "", strings.Repeat("x", 2<<20))
	require.Equal(t, 413, big.Status)
	require.Equal(t, "payload_too_large", big.Code(t))
}

// Every route Echo serves must be described in the OpenAPI document.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	app := startApp(t, withOperator)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(app.Do(t, "GET", "/v1/openapi.json", "", nil).Body, &doc))
	param := regexp.MustCompile(`:([a-z_]+)`)
	served := map[string]bool{}
	for _, r := range app.Echo.Routes() {
		if strings.HasPrefix(r.Path, "/admin/river") || r.Method == "echo_route_not_found" || strings.HasSuffix(r.Path, "*") {
			continue
		}
		// The web console's pages are files for browsers, not API routes (adapters/httpconsole).
		if slices.Contains(httpconsole.Pages, r.Path) {
			continue
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		served[strings.ToLower(r.Method)+" "+path] = true
		ops, ok := doc.Paths[path]
		require.True(t, ok, "route %s %s is missing from adapters/httpapi/openapi.json", r.Method, path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.True(t, ok, "method %s of %s is missing from adapters/httpapi/openapi.json", r.Method, path)
	}
	// And the other way: everything documented is served.
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			require.True(t, served[method+" "+path], "adapters/httpapi/openapi.json documents %s %s, which is not served", method, path)
			if strings.HasPrefix(path, "/v1/workspaces/{ws}") { // a malformed {ws} is 404 on every one of them
				responses, _ := ops[method].(map[string]any)["responses"].(map[string]any)
				require.Contains(t, responses, "404", "%s %s should document its 404", method, path)
			}
		}
	}
}

// /readyz answers 503 while the database is unreachable and recovers by itself. The
// server reaches Postgres through a proxy the test can cut and restore.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewURL(t)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	proxy := newCuttableProxy(t, u.Host)
	u.Host = proxy.Addr()
	app := startAppOn(t, u.String(), func(c *bootstrap.Config) { c.DBMaxConns = 8 })

	require.Equal(t, 200, app.Do(t, "GET", "/readyz", "", nil).Status)
	proxy.Cut()
	eventually(t, 10*time.Second, func() bool { return app.Do(t, "GET", "/readyz", "", nil).Status == 503 }, "readyz should turn 503")
	proxy.Restore()
	eventually(t, 20*time.Second, func() bool { return app.Do(t, "GET", "/readyz", "", nil).Status == 200 }, "readyz should recover")
}

// cuttableProxy forwards TCP to a target; Cut closes every connection and refuses new
// ones until Restore.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCuttableProxy(t testing.TB, target string) *cuttableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cuttableProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go p.serve()
	return p
}

func (p *cuttableProxy) Addr() string { return p.ln.Addr().String() }

func (p *cuttableProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go pipe(c, up)
		go pipe(up, c)
	}
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

func (p *cuttableProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// The first start on an empty database migrates before anything (River included) uses it.
func TestFirstStartOnAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	app := startAppOn(t, pgtest.NewEmptyURL(t), func(c *bootstrap.Config) { c.AdminToken = "x" })
	require.Equal(t, 200, app.Do(t, "GET", "/readyz", "", nil).Status)
	require.NotContains(t, app.Logs.String(), "does not exist")
}

// Input Postgres cannot store is refused at the edge with a 4xx, never a 500.
func TestUnstorableInputIsRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	for _, q := range []string{"action=%00", "action=a%00b", "resource_id=%FF%FE", "%00=x"} {
		res := a.Do(t, "GET", wsPath(tm, "/audit-logs?"+q), tm.Owner.Token, nil)
		require.Equal(t, 422, res.Status, q)
	}
	require.Equal(t, 422, a.Do(t, "GET", wsPath(tm, "/contacts?q=%00"), tm.Owner.Token, nil).Status)
	for name, body := range map[string]string{
		"NUL escape":   `{"name":"a\u0000b"}`,
		"invalid UTF8": "{\"name\":\"a\xff\xfeb\"}",
	} {
		res := a.Do(t, "PATCH", wsPath(tm, ""), tm.Owner.Token, body)
		require.Equal(t, 400, res.Status, name)
		require.Equal(t, "validation_failed", res.Code(t), name)
	}
	sent := a.Do(t, "POST", wsPath(tm, "/messages"), tm.Owner.Token, `{"to":"+14155550100","type":"text","text":{"body":"a\u0000b"}}`)
	require.Equal(t, 400, sent.Status, "the send API reads its body through the same guard")
	// A literal backslash followed by "u0000" is ordinary text.
	a.Must(t, 200, "PATCH", wsPath(tm, ""), tm.Owner.Token, `{"name":"back\\u0000slash"}`)

	// An oversized body sent chunked (no Content-Length) is 413 too.
	req, err := http.NewRequest("PATCH", a.URL+wsPath(tm, ""), io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tm.Owner.Token)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 413, res.StatusCode)
}
