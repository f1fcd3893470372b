package httpconsole

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

func serve(t *testing.T, cfg Config) (*echo.Echo, *Console) {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	c.Register(e)
	return e, c
}

func get(e *echo.Echo, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestIndexAndAssets(t *testing.T) {
	t.Parallel()
	e, c := serve(t, Config{SandboxURL: "http://127.0.0.1:8090"})

	res := get(e, "/", "Accept-Encoding", "gzip, br")
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, "gzip", res.Header().Get("Content-Encoding"))
	csp := res.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self';")
	require.Contains(t, csp, "style-src 'self';")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.Contains(t, csp, "connect-src 'self' http://127.0.0.1:8090;")
	require.NotContains(t, csp, "unsafe")
	require.Equal(t, "nosniff", res.Header().Get("X-Content-Type-Options"))
	require.Equal(t, "no-cache", res.Header().Get("Cache-Control"))
	zr, err := gzip.NewReader(bytes.NewReader(res.Body.Bytes()))
	require.NoError(t, err)
	page, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(page), `src="/console/`+c.Version()+`/js/app.js"`)
	require.Contains(t, string(page), `content="http://127.0.0.1:8090"`)
	require.NotRegexp(t, regexp.MustCompile(`<script>|<style>|\son\w+=`), string(page), "no inline script, style or handler")

	again := get(e, "/", "If-None-Match", res.Header().Get("ETag"))
	require.Equal(t, http.StatusNotModified, again.Code)

	plain := get(e, "/console/"+c.Version()+"/js/app.js")
	require.Equal(t, http.StatusOK, plain.Code)
	require.Empty(t, plain.Header().Get("Content-Encoding"))
	require.Equal(t, "text/javascript; charset=utf-8", plain.Header().Get("Content-Type"))
	require.Contains(t, plain.Header().Get("Cache-Control"), "immutable")

	require.Equal(t, http.StatusNotFound, get(e, "/console/000000000000/js/app.js").Code)
	require.Equal(t, http.StatusNotFound, get(e, "/console/"+c.Version()+"/js/nope.js").Code)
	require.Equal(t, http.StatusOK, get(e, "/reset-password?token=x").Code)
}

// No file of the console writes HTML from strings: text goes through text nodes.
func TestNoHTMLFromStrings(t *testing.T) {
	t.Parallel()
	names, err := files.ReadDir("web/js")
	require.NoError(t, err)
	for _, n := range names {
		b, err := files.ReadFile("web/js/" + n.Name())
		require.NoError(t, err)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			require.NotContains(t, string(b), bad, n.Name())
		}
	}
}

func TestWithoutSandbox(t *testing.T) {
	t.Parallel()
	e, _ := serve(t, Config{})
	res := get(e, "/", "Accept-Encoding", "gzip;q=0")
	require.Empty(t, res.Header().Get("Content-Encoding"))
	require.Contains(t, res.Header().Get("Content-Security-Policy"), "connect-src 'self';")
	require.True(t, strings.Contains(res.Body.String(), `name="sandbox-url" content=""`))
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]bool{"": false, "gzip": true, "br, gzip;q=0.5": true, "gzip;q=0": false, "identity": false, "*": true} {
		require.Equal(t, want, acceptsGzip(h), h)
	}
}
