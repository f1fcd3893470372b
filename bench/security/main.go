// Command security is `make security`: hostile requests against a `waba serve` process on
// loopback, each probe with how many variants were tried and how many were accepted (the
// latter must be 0), then the webhook fuzz targets for a bounded time. Exits non-zero if
// anything was accepted.
//
//	DATABASE_URL="$(scripts/postgres.sh)" go run ./bench/security [-fuzzexecs 500000]
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wabaplatform/waba/adapters/httpapi"
	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/bench/internal/harness"
)

type config struct {
	// FuzzExecs is each fuzz target's budget (0 skips fuzzing): a count, because a
	// -fuzztime duration races Go's fuzz coordinator and can fail with "context
	// deadline exceeded" having found nothing.
	FuzzExecs int
	// SkipExpiry leaves out the expired-ticket probe, which waits out a ticket's minute
	// (the smoke test: test/live_test.go checks expiry with a moved clock).
	SkipExpiry bool
	ResultsDir string
	Out        io.Writer
}

func main() {
	var cfg config
	flag.IntVar(&cfg.FuzzExecs, "fuzzexecs", 500_000, "executions of each fuzz target (0 skips)")
	flag.Parse()
	cfg.Out = os.Stdout
	harness.Main("security", 10*time.Minute, cfg.ResultsDir, func(ctx context.Context) (*harness.Report, error) {
		return run(ctx, cfg)
	})
}

// lastProbes are the probes of the last run (the smoke test reads them).
var lastProbes []*probe

// probe tallies one kind of attack.
type probe struct {
	name     string
	tried    int
	accepted int
	examples []string // the first few accepted requests, for the table
	all      []string // every accepted request (up to 500), for the JSON
}

func (p *probe) try(ok bool, what string) {
	p.tried++
	if !ok {
		p.accepted++
		if len(p.all) < 500 {
			p.all = append(p.all, what)
		}
		if len(p.examples) < 3 {
			p.examples = append(p.examples, what)
		}
	}
}

// tryCount is try on a count read from the database: a query that failed is counted as an
// accepted probe, with the error as its example, rather than read as a passing 0.
func (p *probe) tryCount(err error, ok bool, what string) {
	if err != nil {
		p.try(false, "count query failed: "+err.Error())
		return
	}
	p.try(ok, what)
}

// world is the running server and the two tenants the probes play against each other.
type world struct {
	srv      *harness.Server
	db       *harness.DB
	c        *harness.Client
	a, b     harness.User
	wsA, wsB string
	// B's resources, by the path parameter that names them.
	bContact, bKey, bNumber, bMessage string
	bInvitation, bInvitationToken     string // B's invitation of someone else
	aKeyRevoked                       string
	bContactName                      string
	markers                           []string // strings only B's data contains
	openapi                           map[string]map[string]any
}

func run(ctx context.Context, cfg config) (*harness.Report, error) {
	rep := harness.NewReport("security", "probe", "tried", "accepted", "result", "accepted examples")
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Out, "security: "+format+"\n", args...) }
	prep, err := harness.Prepare(ctx, "security", logf)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(prep.Tmp)
	base, tmp, bin := prep.Base, prep.Tmp, prep.Bin
	db, err := harness.NewDB(ctx, base, "security", 4)
	if err != nil {
		return nil, err
	}
	defer db.Drop()
	// At info level: the reset probes read the links the log mailer writes.
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: bin, DatabaseURL: db.URL, Role: "all", LogDir: tmp, Name: "security",
		LogLevel: "info"})
	if err != nil {
		return nil, err
	}
	defer srv.Kill()
	w, err := setup(ctx, srv, db)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	logf("probing %s", srv.URL)
	// A stream ticket to try once it has expired: taken now, it ages behind the probes.
	expiry := w.expiringTicket(ctx)
	var probes []*probe
	add := func(p *probe) { probes = append(probes, p) }
	add(w.signatures(ctx))
	add(w.replays(ctx))
	add(w.poison(ctx))
	add(w.jwts(ctx))
	add(w.crossTenant(ctx))
	add(w.filters(ctx))
	add(w.hostileBodies(ctx))
	add(w.oversized(ctx))
	add(w.unchanged(ctx))
	add(w.stolenRefresh(ctx))
	add(w.invitationTokens(ctx))
	add(w.hostileTemplates(ctx))
	add(w.resetGuessing(ctx))
	timing, known, unknown := w.resetTiming(ctx, 40)
	add(timing)
	logf("password reset answer, median of 40 each: known email %v, unknown email %v", known, unknown)
	start := time.Now()
	for _, p := range w.liveEvents(ctx) {
		add(p)
	}
	logf("live event probes took %v", time.Since(start).Round(time.Millisecond))
	liveEnd := len(probes)
	start = time.Now()
	hm, err := hooksAndMedia(ctx, base, bin, tmp, logf)
	if err != nil {
		return nil, fmt.Errorf("webhooks, automation and media: %w", err)
	}
	for _, p := range hm {
		add(p)
	}
	logf("webhook, automation and media probes took %v", time.Since(start).Round(time.Millisecond))
	// The server must have survived all of it.
	alive := &probe{name: "server still ready after the probes"}
	alive.try(srv.WaitReady(ctx, 5*time.Second) == nil, "not ready")
	add(alive)
	five, err := countServerErrors(srv)
	fives := &probe{name: "5xx answers logged by the server", tried: 1}
	switch {
	case err != nil: // an unreadable log proves nothing: count it against the run
		fives.accepted = 1
		fives.examples = []string{"could not read the server log: " + err.Error()}
	case five > 0:
		fives.accepted = five
		fives.examples = []string{"see the server log"}
	}
	add(fives)
	if cfg.FuzzExecs > 0 {
		for _, f := range [][2]string{{"adapters/meta/webhook", "FuzzParse"}, {"adapters/meta/webhook", "FuzzVerifySignature"},
			{"domain", "FuzzValidateTemplate"}, {"application/contacts", "FuzzCSVReader"}} {
			logf("fuzzing %s for %d executions", f[1], cfg.FuzzExecs)
			add(fuzz(ctx, f[0], f[1], cfg.FuzzExecs))
		}
	}
	// After the fuzzers the ticket is past its 60 s; without them, this waits out the rest.
	if !cfg.SkipExpiry {
		probes = slices.Insert(probes, liveEnd, expiry(ctx, logf))
	}
	lastProbes = probes
	accepted := map[string][]string{}
	for _, p := range probes {
		if len(p.all) > 0 {
			accepted[p.name] = p.all
		}
		rep.Add(p.name, fmt.Sprint(p.tried), fmt.Sprint(p.accepted), harness.Check(p.accepted == 0), strings.Join(p.examples, "; "))
	}
	rep.Raw["accepted"] = accepted
	rep.Raw["reset_median_known_ms"] = float64(known.Microseconds()) / 1000
	rep.Raw["reset_median_unknown_ms"] = float64(unknown.Microseconds()) / 1000
	rep.Note("password reset answer time, median of 40 requests each: known email %v, unknown email %v", known.Round(time.Microsecond), unknown.Round(time.Microsecond))
	rep.Note("accepted = the server answered as if the request were legitimate (2xx), or 5xx where a 4xx is due, or leaked another tenant's data")
	return rep, nil
}

func setup(ctx context.Context, srv *harness.Server, db *harness.DB) (*world, error) {
	w := &world{srv: srv, db: db, c: harness.NewClient(srv.URL, 8)}
	var err error
	stamp := time.Now().UnixNano()
	if w.a, err = w.c.SignupLogin(ctx, fmt.Sprintf("alice-%d@example.com", stamp)); err != nil {
		return nil, err
	}
	if w.b, err = w.c.SignupLogin(ctx, fmt.Sprintf("bob-%d@example.com", stamp)); err != nil {
		return nil, err
	}
	if w.wsA, err = w.c.CreateWorkspace(ctx, w.a, "Alice Co", ""); err != nil {
		return nil, err
	}
	if w.wsB, err = w.c.CreateWorkspace(ctx, w.b, "Bob Secret Co", ""); err != nil {
		return nil, err
	}
	w.bContactName = fmt.Sprintf("BobSecretContact%d", stamp)
	m, err := w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+w.wsB+"/contacts", w.b.Token, map[string]any{"phone": "+14155550123", "name": w.bContactName, "tags": []string{"bob-secret-tag"}})
	if err != nil {
		return nil, err
	}
	w.bContact = m["id"].(string)
	if _, err := w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+w.wsA+"/contacts", w.a.Token, map[string]any{"phone": "+14155550124", "name": "Alice Contact"}); err != nil {
		return nil, err
	}
	if m, err = w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+w.wsB+"/api-keys", w.b.Token, map[string]string{"name": "bob key", "role": "agent"}); err != nil {
		return nil, err
	}
	w.bKey = m["id"].(string)
	// A's revoked key, for the authentication probes.
	if m, err = w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+w.wsA+"/api-keys", w.a.Token, map[string]string{"name": "old", "role": "owner"}); err != nil {
		return nil, err
	}
	w.aKeyRevoked = m["key"].(string)
	if _, err := w.c.Must(ctx, 204, "DELETE", "/v1/workspaces/"+w.wsA+"/api-keys/"+m["id"].(string), w.a.Token, nil); err != nil {
		return nil, err
	}
	// B's number and an inbound message on it (through a signed webhook).
	tb := harness.NewTenants(2)
	if w.bNumber, err = db.InsertNumber(ctx, w.wsB, tb[0].PhoneNumberID, tb[0].WABAID, tb[0].Display); err != nil {
		return nil, err
	}
	if _, err = db.InsertNumber(ctx, w.wsA, tb[1].PhoneNumberID, tb[1].WABAID, tb[1].Display); err != nil {
		return nil, err
	}
	p := harness.NewGenerator(tb[:1], 1, 0).At(0)
	if st, err := harness.PostWebhook(ctx, harness.NewHTTPClient(1, 10*time.Second), srv.URL, p.Body, p.Signature); err != nil || st != 200 {
		return nil, fmt.Errorf("webhook for B: %d %v", st, err)
	}
	if _, err := db.WaitWebhooks(ctx, 20*time.Second); err != nil {
		return nil, err
	}
	if err := db.Pool.QueryRow(ctx, `SELECT id::text FROM messages WHERE workspace_id = $1 LIMIT 1`, w.wsB).Scan(&w.bMessage); err != nil {
		return nil, fmt.Errorf("B's inbound message: %w", err)
	}
	if m, err = w.c.Must(ctx, 201, "POST", "/v1/workspaces/"+w.wsB+"/invitations", w.b.Token,
		map[string]string{"email": fmt.Sprintf("carol-%d@example.com", stamp), "role": "manager"}); err != nil {
		return nil, err
	}
	w.bInvitation, w.bInvitationToken = m["id"].(string), m["token"].(string)
	w.markers = []string{w.wsB, w.bContact, w.bContactName, w.bKey, w.bNumber, w.bMessage, w.b.ID, w.b.Email, "bob-secret-tag", "Bob Secret Co"}
	r, err := w.c.Do(ctx, "GET", "/v1/openapi.json", "", nil)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	w.openapi = doc.Paths
	return w, nil
}

// --- webhooks -------------------------------------------------------------------------------

func (w *world) postSigned(ctx context.Context, body []byte, headers ...string) int {
	r, err := w.c.Raw(ctx, "POST", "/webhooks/meta", body, append([]string{"Content-Type", "application/json"}, headers...)...)
	if err != nil {
		return 0
	}
	return r.Status
}

func (w *world) signatures(ctx context.Context) *probe {
	p := &probe{name: "webhook: forged, missing, mismatched signatures"}
	gen := harness.NewGenerator(harness.NewTenants(1), 5, 3)
	secret := []byte(harness.AppSecret)
	var bodies [][]byte
	for i := range 3 {
		bodies = append(bodies, gen.At(i).Body)
	}
	for i, body := range bodies {
		other := bodies[(i+1)%len(bodies)]
		good := webhook.Sign(secret, body)
		sha1mac := hmac.New(sha1.New, secret)
		sha1mac.Write(body)
		variants := map[string][]string{
			"missing":                       nil,
			"empty":                         {"X-Hub-Signature-256", ""},
			"prefix only":                   {"X-Hub-Signature-256", "sha256="},
			"wrong secret":                  {"X-Hub-Signature-256", webhook.Sign([]byte("not-the-app-secret"), body)},
			"another body's signature":      {"X-Hub-Signature-256", webhook.Sign(secret, other)},
			"truncated":                     {"X-Hub-Signature-256", good[:len(good)-8]},
			"extended":                      {"X-Hub-Signature-256", good + "00"},
			"no prefix":                     {"X-Hub-Signature-256", strings.TrimPrefix(good, "sha256=")},
			"sha1 MAC in the 256 header":    {"X-Hub-Signature-256", "sha1=" + hex.EncodeToString(sha1mac.Sum(nil))},
			"sha1 header only":              {"X-Hub-Signature", "sha1=" + hex.EncodeToString(sha1mac.Sum(nil))},
			"garbage":                       {"X-Hub-Signature-256", "sha256=zzzz"},
			"signature of the empty body":   {"X-Hub-Signature-256", webhook.Sign(secret, nil)},
			"one flipped hex digit":         {"X-Hub-Signature-256", flipLast(good)},
			"base64 instead of hex":         {"X-Hub-Signature-256", "sha256=" + base64.StdEncoding.EncodeToString(mustHex(strings.TrimPrefix(good, "sha256=")))},
			"signed, then body re-encoded":  {"X-Hub-Signature-256", good, "x-body", "reencoded"},
			"signed, then trailing newline": {"X-Hub-Signature-256", good, "x-body", "newline"},
		}
		for name, h := range variants {
			b := body
			if len(h) == 4 {
				switch h[3] {
				case "reencoded":
					var v any
					_ = json.Unmarshal(body, &v)
					b, _ = json.Marshal(v)
				case "newline":
					b = append(slices.Clone(body), '\n')
				}
				h = h[:2]
			}
			st := w.postSigned(ctx, b, h...)
			p.try(st != http.StatusOK, fmt.Sprintf("%s -> %d", name, st))
		}
	}
	// And none of those bodies was queued.
	n, err := w.db.Count(ctx, `SELECT count(*) FROM (`+riveradapter.WebhookBodiesQuery+`) w
		WHERE position(convert_to($1, 'UTF8') IN w.raw) > 0`, gen.Tenants[0].WABAID)
	p.tryCount(err, n == 0, fmt.Sprintf("%d unsigned bodies queued", n))
	return p
}

func flipLast(sig string) string {
	b := []byte(sig)
	if b[len(b)-1] == '0' {
		b[len(b)-1] = '1'
	} else {
		b[len(b)-1] = '0'
	}
	return string(b)
}

func mustHex(s string) []byte { b, _ := hex.DecodeString(s); return b }

func (w *world) replays(ctx context.Context) *probe {
	p := &probe{name: "webhook: replayed identical payloads"}
	gen := harness.NewGenerator(harness.NewTenants(1), 5, 2)
	for i := range 5 {
		pl := gen.At(i)
		done := make(chan int, 10)
		for range 10 { // concurrently: the same batch or racing batches
			go func() { done <- w.postSigned(ctx, pl.Body, "X-Hub-Signature-256", pl.Signature) }()
		}
		for range 10 {
			<-done
		}
		for range 5 { // and again later
			w.postSigned(ctx, pl.Body, "X-Hub-Signature-256", pl.Signature)
		}
		n, err := w.db.Count(ctx, `SELECT count(*) FROM (`+riveradapter.WebhookBodiesQuery+`) w WHERE w.sha256 = $1`, pl.SHA256)
		if err != nil {
			p.tryCount(err, false, "")
			continue
		}
		// The original was queued exactly once: never means nothing was stored (or this
		// query no longer finds it), and then no replay below could show as accepted.
		p.try(n == 1, fmt.Sprintf("one payload queued %d times, want exactly 1", n))
		// 15 posts of one body: 14 replays; each extra time queued is an accepted replay.
		for k := range 14 {
			p.try(k >= n-1, fmt.Sprintf("one payload queued %d times", n))
		}
	}
	return p
}

// poison posts signed bodies that are valid enough for the endpoint but that Postgres's
// jsonb cannot hold (a \u0000 escape, invalid UTF-8, a lone surrogate), each together with
// ordinary webhooks that may share its group-commit batch. Meta signs whatever its users
// typed, so such a body is answered for good (200, or a 4xx), never with a 5xx that Meta
// would retry for days, and its neighbours are acknowledged as usual.
func (w *world) poison(ctx context.Context) *probe {
	p := &probe{name: "webhook: signed bodies jsonb cannot hold; their batch neighbours"}
	gen := harness.NewGenerator(harness.NewTenants(1), 5, 0)
	tmpl := string(gen.At(0).Body)
	bodies := map[string][]byte{
		`\u0000 in a text`:    []byte(strings.Replace(tmpl, "Hola", `Hola\u0000`, 1)),
		"invalid UTF-8 bytes": []byte(strings.Replace(tmpl, "Hola", "Hola\xff\xfe", 1)),
		"lone surrogate":      []byte(strings.Replace(tmpl, "Hola", `Hola\ud800`, 1)),
	}
	hc := harness.NewHTTPClient(16, 15*time.Second)
	for name, body := range bodies {
		for round := range 3 {
			type answer struct {
				poison bool
				status int
			}
			out := make(chan answer, 9)
			go func() {
				st, _ := harness.PostWebhook(ctx, hc, w.c.Base, body, webhook.Sign([]byte(harness.AppSecret), body))
				out <- answer{true, st}
			}()
			for k := range 8 {
				pl := gen.At(1 + round*100 + k + len(name)*1000)
				go func() {
					st, _ := harness.PostWebhook(ctx, hc, w.c.Base, pl.Body, pl.Signature)
					out <- answer{false, st}
				}()
			}
			for range 9 {
				a := <-out
				if a.poison {
					p.try(a.status == 200 || (a.status >= 400 && a.status < 500), fmt.Sprintf("%s -> %d", name, a.status))
				} else {
					p.try(a.status == 200, fmt.Sprintf("ordinary webhook next to %s -> %d", name, a.status))
				}
			}
		}
	}
	return p
}

// --- authentication -----------------------------------------------------------------------

func (w *world) jwts(ctx context.Context) *probe {
	p := &probe{name: "JWT: alg none, foreign key, expired, tampered, other alg, revoked key"}
	secret := []byte(harness.JWTSecret)
	now := time.Now()
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			panic(err)
		}
		return s
	}
	valid := jwt.MapClaims{"sub": w.a.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	parts := strings.Split(w.a.Token, ".")
	claimsB := jwt.MapClaims{"sub": w.b.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	tokens := map[string]string{
		"alg none":                     b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(valid) + ".",
		"alg None":                     b64(map[string]string{"alg": "None", "typ": "JWT"}) + "." + b64(valid) + ".",
		"alg none, real signature":     b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "." + parts[2],
		"foreign key":                  sign(jwt.SigningMethodHS256, []byte("someone-elses-secret-someone-elses-1"), valid),
		"expired":                      sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": w.a.ID, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}),
		"no exp":                       sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": w.a.ID, "iat": now.Unix()}),
		"issued in the future":         sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": w.a.ID, "iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()}),
		"tampered sub (alice's sig)":   parts[0] + "." + b64(claimsB) + "." + parts[2],
		"tampered header":              b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "../../x"}) + "." + parts[1] + "." + parts[2],
		"HS384 with the real secret":   sign(jwt.SigningMethodHS384, secret, valid),
		"HS512 with the real secret":   sign(jwt.SigningMethodHS512, secret, valid),
		"sub not a uuid":               sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "' OR 1=1 --", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"sub of nobody":                sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "01900000-0000-7000-8000-000000000000", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"signature stripped":           parts[0] + "." + parts[1] + ".",
		"garbage":                      "not.a.jwt",
		"empty":                        "",
		"revoked API key":              w.aKeyRevoked,
		"truncated token":              w.a.Token[:len(w.a.Token)-3],
		"token with trailing junk":     w.a.Token + "x",
		"two tokens":                   w.a.Token + " " + w.a.Token,
		"signature from another token": parts[0] + "." + parts[1] + "." + strings.Split(w.b.Token, ".")[2],
	}
	for name, tok := range tokens {
		for _, path := range []string{"/v1/me", "/v1/workspaces/" + w.wsA, "/v1/workspaces/" + w.wsA + "/contacts"} {
			r, err := w.c.Do(ctx, "GET", path, tok, nil)
			p.try(err == nil && (r.Status == 401 || r.Status == 403 || r.Status == 404), fmt.Sprintf("%s on %s -> %d", name, path, r.Status))
		}
	}
	return p
}

// --- tenancy --------------------------------------------------------------------------------

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// idFor names B's resource for a path parameter, by the path segment before it.
func (w *world) idFor(path, param string) string {
	switch {
	case param == "ws":
		return w.wsB
	case param == "user_id":
		return w.b.ID
	case strings.Contains(path, "/api-keys/{"+param+"}"):
		return w.bKey
	case strings.Contains(path, "/phone-numbers/{"+param+"}"):
		return w.bNumber
	case strings.Contains(path, "/messages/{"+param+"}"):
		return w.bMessage
	case strings.Contains(path, "/invitations/{"+param+"}"):
		return w.bInvitation
	default:
		return w.bContact
	}
}

// bodyFor is a valid-looking body for a route, so a missing check would succeed.
func (w *world) bodyFor(method, path string) any {
	switch {
	case method == "PATCH" && strings.HasSuffix(path, "/members/{user_id}"):
		return map[string]string{"role": "agent"}
	case method == "POST" && strings.HasSuffix(path, "/members"):
		return map[string]string{"email": w.a.Email, "role": "owner"}
	case method == "POST" && strings.HasSuffix(path, "/api-keys"):
		return map[string]string{"name": "x", "role": "owner"}
	case method == "POST" && strings.HasSuffix(path, "/contacts"):
		return map[string]any{"phone": "+14155550177", "name": "intruder"}
	case method == "PATCH" && strings.Contains(path, "/contacts/"):
		return map[string]any{"name": "pwned", "assigned_to": w.a.ID}
	case method == "POST" && strings.HasSuffix(path, "/connect"):
		return map[string]string{"access_token": "EAAx", "waba_id": "1", "phone_number_id": "2"}
	case method == "POST" && strings.HasSuffix(path, "/messages"):
		return map[string]any{"to": w.bContact, "type": "text", "text": map[string]string{"body": "hi"}}
	case method == "PATCH":
		return map[string]string{"name": "pwned", "plan": "enterprise"}
	case method == "POST" || method == "PUT":
		return map[string]string{}
	}
	return nil
}

type route struct {
	method, path string
	csv          bool // the body is text/csv (a contact import), not JSON
}

func (w *world) tenantRoutes() []route {
	var rs []route
	for path, ops := range w.openapi {
		if !strings.HasPrefix(path, "/v1/workspaces/{ws}") {
			continue
		}
		for m := range ops {
			switch m := strings.ToUpper(m); m {
			case "GET", "POST", "PUT", "PATCH", "DELETE":
				rs = append(rs, route{method: m, path: path})
			}
		}
	}
	// Deletions last, so they cannot hide what the other probes would have done.
	slices.SortFunc(rs, func(a, b route) int {
		da, db := a.method == "DELETE", b.method == "DELETE"
		switch {
		case da && !db:
			return 1
		case db && !da:
			return -1
		}
		return strings.Compare(a.method+a.path, b.method+b.path)
	})
	return rs
}

func (w *world) crossTenant(ctx context.Context) *probe {
	p := &probe{name: "tenancy: every /v1/workspaces/{ws} route with another workspace's ids"}
	for _, rt := range w.tenantRoutes() {
		// 1. B's workspace and B's ids, as A's owner.
		path := pathParam.ReplaceAllStringFunc(rt.path, func(m string) string { return w.idFor(rt.path, m[1:len(m)-1]) })
		r, err := w.c.Do(ctx, rt.method, path, w.a.Token, w.bodyFor(rt.method, rt.path))
		p.try(err == nil && (r.Status < 200 || r.Status > 299), fmt.Sprintf("%s %s (B's workspace) -> %d", rt.method, rt.path, r.Status))
		// 2. A's own workspace with B's ids in the path (or the body, for sends).
		if strings.Count(rt.path, "{") > 1 || (rt.method == "POST" && strings.HasSuffix(rt.path, "/messages")) {
			path := pathParam.ReplaceAllStringFunc(rt.path, func(m string) string {
				if m == "{ws}" {
					return w.wsA
				}
				return w.idFor(rt.path, m[1:len(m)-1])
			})
			r, err := w.c.Do(ctx, rt.method, path, w.a.Token, w.bodyFor(rt.method, rt.path))
			p.try(err == nil && (r.Status < 200 || r.Status > 299), fmt.Sprintf("%s %s (A's workspace, B's id) -> %d", rt.method, rt.path, r.Status))
		}
	}
	return p
}

// unchanged checks B's data after the tenancy probes.
func (w *world) unchanged(ctx context.Context) *probe {
	p := &probe{name: "tenancy: B's data unchanged afterwards"}
	m, err := w.c.Must(ctx, 200, "GET", "/v1/workspaces/"+w.wsB+"/contacts/"+w.bContact, w.b.Token, nil)
	p.try(err == nil && m["name"] == w.bContactName, fmt.Sprintf("B's contact: %v %v", err, m["name"]))
	m, err = w.c.Must(ctx, 200, "GET", "/v1/workspaces/"+w.wsB, w.b.Token, nil)
	p.try(err == nil && m["name"] == "Bob Secret Co" && m["plan"] == "free", fmt.Sprintf("B's workspace: %v %v %v", err, m["name"], m["plan"]))
	n, err := w.db.Count(ctx, `SELECT count(*) FROM api_keys WHERE id = $1 AND revoked_at IS NULL`, w.bKey)
	p.tryCount(err, n == 1, "B's API key revoked")
	n, err = w.db.Count(ctx, `SELECT count(*) FROM memberships WHERE workspace_id = $1`, w.wsB)
	p.tryCount(err, n == 1, fmt.Sprintf("B has %d members", n))
	n, err = w.db.Count(ctx, `SELECT count(*) FROM messages WHERE workspace_id = $1 AND direction = 'outbound'`, w.wsB)
	p.tryCount(err, n == 0, fmt.Sprintf("%d messages queued in B", n))
	return p
}

// --- hostile input --------------------------------------------------------------------------

func (w *world) hostileValues() []string {
	return []string{
		"'", "''", `"`, `\`, "%", "_", "%_%", "*", "' OR '1'='1", "' OR 1=1 --", "'; DROP TABLE contacts; --",
		"1) OR (1=1", `") OR ("1"="1`, "$1", "::text", "' UNION SELECT id, name FROM workspaces --", "\x00", "a\x00b",
		"\xff\xfe", "\xc3\x28", "ſtop", "-1", "0", "99999999999999999999", "1e309", "NaN", "true'", "null", "[]", "{}",
		"2026-13-45T99:99:99Z", strings.Repeat("a", 5000), strings.Repeat("%27", 20000), strings.Repeat("é", 30000),
		w.wsB, w.bContact, w.b.ID, w.bKey, w.bContactName, "bob-secret-tag",
	}
}

func (w *world) filters(ctx context.Context) *probe {
	p := &probe{name: "filters: SQL metacharacters, long values, B's ids in every list parameter"}
	for path, ops := range w.openapi {
		if !strings.HasPrefix(path, "/v1/workspaces/{ws}") {
			continue
		}
		get, ok := ops["get"].(map[string]any)
		if !ok {
			continue
		}
		var params []string
		ps, _ := get["parameters"].([]any)
		for _, x := range ps {
			if m, ok := x.(map[string]any); ok && m["in"] == "query" {
				params = append(params, m["name"].(string))
			}
		}
		if len(params) == 0 {
			continue
		}
		concrete := pathParam.ReplaceAllStringFunc(path, func(m string) string {
			if m == "{ws}" {
				return w.wsA
			}
			return w.aContact(ctx)
		})
		for _, param := range params {
			for _, v := range w.hostileValues() {
				r, err := w.c.Do(ctx, "GET", concrete+"?"+param+"="+url.QueryEscape(v), w.a.Token, nil)
				leak := ""
				if err == nil && r.Status >= 200 && r.Status < 300 {
					for _, mk := range w.markers {
						if mk != v && bytes.Contains(r.Body, []byte(mk)) {
							leak = mk
						}
					}
				}
				ok := err == nil && r.Status < 500 && leak == ""
				p.try(ok, fmt.Sprintf("%s?%s=%.20q -> %d %s", path, param, v, r.Status, leak))
			}
		}
	}
	return p
}

var aContactID string

func (w *world) aContact(ctx context.Context) string {
	if aContactID == "" {
		_ = w.db.Pool.QueryRow(ctx, `SELECT id::text FROM contacts WHERE workspace_id = $1 LIMIT 1`, w.wsA).Scan(&aContactID)
	}
	return aContactID
}

// bodyRoutes are every POST, PUT and PATCH route that takes a body, with A's workspace
// and ids.
func (w *world) bodyRoutes(ctx context.Context) []route {
	var rs []route
	for path, ops := range w.openapi {
		if strings.HasPrefix(path, "/webhooks/") {
			continue
		}
		for m, op := range ops {
			o, ok := op.(map[string]any)
			if !ok || o["requestBody"] == nil {
				continue // a route without a body ignores one
			}
			content, _ := o["requestBody"].(map[string]any)["content"].(map[string]any)
			_, csv := content["text/csv"]
			switch m := strings.ToUpper(m); m {
			case "POST", "PUT", "PATCH":
				concrete := pathParam.ReplaceAllStringFunc(path, func(s string) string {
					switch s {
					case "{ws}":
						return w.wsA
					case "{user_id}":
						return w.a.ID
					}
					return w.aContact(ctx)
				})
				rs = append(rs, route{m, concrete, csv})
			}
		}
	}
	slices.SortFunc(rs, func(a, b route) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	return rs
}

func (w *world) hostileBodies(ctx context.Context) *probe {
	p := &probe{name: "bodies: invalid UTF-8, deeply nested JSON, not JSON -> 4xx"}
	bodies := map[string][]byte{
		"invalid UTF-8 in a string":   []byte("{\"name\":\"\xff\xfe\xfd\",\"email\":\"a\xc3\x28@example.com\",\"phone\":\"+1415\xff\",\"password\":\"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\",\"to\":\"\xff\",\"type\":\"text\",\"text\":{\"body\":\"\xff\"}}"),
		"invalid UTF-8 outside":       []byte("{\xff\"name\":\"x\"}"),
		"nested 10,000 deep arrays":   []byte(`{"name":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`),
		"nested 100,000 deep objects": []byte(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)),
		"truncated JSON":              []byte(`{"name":"x"`),
		"JSON array":                  []byte(`[1,2,3]`),
		"not JSON":                    []byte(`name=x&role=owner`),
		"NUL bytes":                   []byte("{\"name\":\"x\x00y\"}"),
		"wrong types":                 []byte(`{"name":123,"email":[],"role":{},"phone":true,"to":1,"type":[]}`),
	}
	for _, rt := range w.bodyRoutes(ctx) {
		for name, b := range bodies {
			r, err := w.c.Raw(ctx, rt.method, rt.path, b, "Content-Type", "application/json", "Authorization", w.bearer(rt.path))
			p.try(err == nil && r.Status >= 400 && r.Status < 500, fmt.Sprintf("%s %s %s -> %d", name, rt.method, rt.path, r.Status))
		}
	}
	return p
}

// bearer is the Authorization header that gets a body probe past authentication: the
// operator's token on the operator's routes, user a's token elsewhere.
func (w *world) bearer(path string) string {
	if strings.HasPrefix(path, "/admin/") {
		return "Bearer " + harness.AdminToken
	}
	return "Bearer " + w.a.Token
}

func (w *world) oversized(ctx context.Context) *probe {
	p := &probe{name: "bodies: oversized -> 413"}
	big := []byte(`{"name":"` + strings.Repeat("a", 3<<19) + `"}`) // 1.5 MiB: over the API's 1 MiB cap
	for _, rt := range w.bodyRoutes(ctx) {
		if rt.csv {
			w.oversizedCSV(ctx, p, rt)
			continue
		}
		// A media upload is multipart with caps of its own (413 past the type's limit, probed
		// with the media probes): a JSON body of any size is refused (422) unread.
		tooLarge := func(st int) bool {
			if rt.method == "POST" && strings.HasSuffix(rt.path, "/media") {
				return st == http.StatusRequestEntityTooLarge || st == http.StatusUnprocessableEntity
			}
			return st == http.StatusRequestEntityTooLarge
		}
		r, err := w.c.Raw(ctx, rt.method, rt.path, big, "Content-Type", "application/json", "Authorization", w.bearer(rt.path))
		p.try(err == nil && tooLarge(r.Status), fmt.Sprintf("%s %s -> %d", rt.method, rt.path, r.Status))
		// Without a Content-Length (chunked): the cap must hold while reading.
		r2, err := w.chunked(ctx, rt.method, rt.path, big, "Authorization", w.bearer(rt.path))
		p.try(err == nil && tooLarge(r2), fmt.Sprintf("chunked %s %s -> %d", rt.method, rt.path, r2))
	}
	huge := append([]byte(`{"object":"whatsapp_business_account","entry":[],"pad":"`), bytes.Repeat([]byte("a"), 4<<20)...)
	huge = append(huge, `"}`...)
	sig := webhook.Sign([]byte(harness.AppSecret), huge)
	st := w.postSigned(ctx, huge, "X-Hub-Signature-256", sig)
	p.try(st == http.StatusRequestEntityTooLarge, fmt.Sprintf("signed 4 MiB+ webhook -> %d", st))
	st = w.postSigned(ctx, huge)
	p.try(st == http.StatusRequestEntityTooLarge || st == http.StatusUnauthorized, fmt.Sprintf("unsigned 4 MiB+ webhook -> %d", st))
	st2, _ := w.chunked(ctx, "POST", "/webhooks/meta", huge, "X-Hub-Signature-256", sig)
	p.try(st2 == http.StatusRequestEntityTooLarge, fmt.Sprintf("chunked signed 4 MiB+ webhook -> %d", st2))
	return p
}

// oversizedCSV tries a CSV upload's own cap (httpapi.MaxImportBytes, far above the API's
// 1 MiB): declared, and found while reading a chunked body (of lines refused at once).
func (w *world) oversizedCSV(ctx context.Context, p *probe, rt route) {
	const header = "phone\n"
	for _, length := range []int64{httpapi.MaxImportBytes + 1, -1} {
		body := io.MultiReader(strings.NewReader(header), &junkLines{left: httpapi.MaxImportBytes + 1 - int64(len(header))})
		req, err := http.NewRequestWithContext(ctx, rt.method, w.c.Base+rt.path, body)
		if err != nil {
			p.try(false, err.Error())
			continue
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", w.bearer(rt.path))
		st := 0
		res, err := w.c.HC.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			st = res.StatusCode
		}
		// The probe's campaign id is a contact's, so no campaign has it: a recipient upload
		// answers 404 before it reads a byte of the body, as safe as the cap.
		ok := st == http.StatusRequestEntityTooLarge || st == http.StatusNotFound && strings.Contains(rt.path, "/campaigns/")
		p.try(err == nil && ok,
			fmt.Sprintf("%s %s, %d bytes of CSV (Content-Length %d) -> %d %v", rt.method, rt.path, httpapi.MaxImportBytes+1, length, st, err))
	}
}

// junkLines reads as left bytes of 32 KiB lines of x.
type junkLines struct{ left int64 }

func (j *junkLines) Read(b []byte) (int, error) {
	if j.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(b)), j.left)
	for i := range b[:n] {
		b[i] = 'x'
		if (j.left-int64(i))%(32<<10) == 0 {
			b[i] = '\n'
		}
	}
	j.left -= n
	return int(n), nil
}

// chunked sends body without a Content-Length.
func (w *world) chunked(ctx context.Context, method, path string, body []byte, headers ...string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, w.c.Base+path, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		return 0, err
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := w.c.HC.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// countServerErrors counts request log lines with a 5xx status.
func countServerErrors(s *harness.Server) (int, error) {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var m struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "http request" && m.Status >= 500 {
			n++
		}
	}
	return n, nil
}

// --- fuzzing --------------------------------------------------------------------------------

var execsRE = regexp.MustCompile(`execs: (\d+)`)

func fuzz(ctx context.Context, pkg, target string, execs int) *probe {
	p := &probe{name: "fuzz " + pkg + " " + target}
	root, err := harness.ModuleRoot()
	if err != nil {
		p.try(false, err.Error())
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+target+"$", "-fuzztime", strconv.Itoa(execs)+"x", "./"+pkg+"/")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	ran := "?"
	if m := execsRE.FindAllStringSubmatch(string(out), -1); len(m) > 0 {
		ran = m[len(m)-1][1]
	}
	p.name += " (" + ran + " execs)"
	p.tried = 1
	if err != nil {
		p.accepted = 1
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		p.examples = []string{strings.Join(lines[max(0, len(lines)-3):], " | ")}
	}
	return p
}
