// Package httpconsole is the web console's driving adapter: the single-page console served
// by the binary at / from files embedded with go:embed. It is an HTTP adapter beside
// httpapi, not part of it: it calls no use case and adds no API, it only hands a browser
// the files of a client of the API (plain ES modules, HTML and CSS written by hand; no
// build step). Every asset lives under /console/<version>/, where the version is a hash
// of all the files, so assets are cached for a year and a new binary is a new URL;
// index.html is revalidated by its ETag. Each response is gzipped once at start-up.
package httpconsole

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed web
var files embed.FS

// Prefix starts the path of every asset; index.html is served at "/" and at the paths of
// the links the API mails (a password reset, an invitation).
const Prefix = "/console/"

// Pages are the paths that answer index.html: the console routes by the URL's hash, except
// for the links in mail, which the server composes without one.
var Pages = []string{"/", "/reset-password", "/invitations/accept"}

// Config is what the console needs from the process configuration.
type Config struct {
	// SandboxURL is the Meta sandbox's base URL when the server talks to the sandbox rather
	// than to Meta (make run): the connect screen then offers a one-click sandbox account,
	// which the browser creates there. Empty in production.
	SandboxURL string
}

type file struct {
	body, gz    []byte
	contentType string
	etag        string
}

// Console serves the embedded files.
type Console struct {
	version string
	index   *file
	assets  map[string]*file
	csp     string
}

// New reads and compresses the embedded files once.
func New(cfg Config) (*Console, error) {
	c := &Console{assets: map[string]*file{}}
	raw := map[string][]byte{}
	err := fs.WalkDir(files, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		raw[strings.TrimPrefix(p, "web/")] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(raw[n]))
		h.Write(raw[n])
	}
	c.version = hex.EncodeToString(h.Sum(nil))[:12]

	connect := "'self'"
	if cfg.SandboxURL != "" {
		u, err := url.Parse(cfg.SandboxURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("console: sandbox URL %q is not a URL", cfg.SandboxURL)
		}
		connect += " " + u.Scheme + "://" + u.Host
	}
	// No inline script or style anywhere: every script is a module file of ours.
	c.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

	for _, n := range names {
		if n == "index.html" {
			continue
		}
		ct := mime.TypeByExtension(path.Ext(n))
		if strings.HasSuffix(n, ".js") {
			ct = "text/javascript; charset=utf-8" // whatever the host's mime table says
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.assets[n] = newFile(raw[n], ct)
	}
	index := strings.NewReplacer(
		"{{base}}", Prefix+c.version+"/",
		"{{sandbox}}", htmlAttr(cfg.SandboxURL),
	).Replace(string(raw["index.html"]))
	c.index = newFile([]byte(index), "text/html; charset=utf-8")
	return c, nil
}

func newFile(b []byte, contentType string) *file {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	sum := sha256.Sum256(b)
	return &file{body: b, gz: buf.Bytes(), contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func htmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Version is the hash the asset URLs carry.
func (c *Console) Version() string { return c.version }

// Register adds the console's routes to e.
func (c *Console) Register(e *echo.Echo) {
	for _, p := range Pages {
		e.GET(p, c.serveIndex)
	}
	e.GET(Prefix+":version/*", c.serveAsset)
}

func (c *Console) serveIndex(ctx echo.Context) error {
	// The page is small and names the current assets: always revalidated, by its ETag.
	return c.write(ctx, c.index, "no-cache")
}

func (c *Console) serveAsset(ctx echo.Context) error {
	f := c.assets[ctx.Param("*")]
	if f == nil || ctx.Param("version") != c.version {
		return echo.NewHTTPError(http.StatusNotFound) // an old version's file is gone: reload
	}
	return c.write(ctx, f, "public, max-age=31536000, immutable")
}

func (c *Console) write(ctx echo.Context, f *file, cacheControl string) error {
	hd := ctx.Response().Header()
	hd.Set("Content-Security-Policy", c.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", f.etag)
	hd.Set("Vary", "Accept-Encoding")
	if match := ctx.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		return ctx.NoContent(http.StatusNotModified)
	}
	body := f.body
	if acceptsGzip(ctx.Request().Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	return ctx.Blob(http.StatusOK, f.contentType, body)
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a quality above zero.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if name = strings.TrimSpace(name); !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}
