// Package sandbox simulates the parts of Meta's Graph API (WhatsApp Cloud API) this product
// uses, faithfully enough that the whole product runs against it: Embedded Signup code
// exchange, debug_token, phone numbers, webhook subscription, registration, sending with
// throughput limits and the 24-hour window, templates, media, and signed webhooks (message
// statuses, inbound messages, template reviews) POSTed to a callback URL.
//
// Responses and errors use Meta's shapes and codes (meta-cloud-api.md). Failures Meta reports
// asynchronously (131047 outside the window, 131026 undeliverable) are accepted with a wamid
// and then reported as a `failed` status webhook, as Meta does.
//
// Developer endpoints under /_sandbox/ create accounts, inject inbound messages and change
// behaviour at runtime; the same operations exist as Go methods for tests.
//
// It deliberately shares no code with the product: it re-implements Meta's rules (the
// 24-hour window, throughput, template review, error codes, webhook shapes and signing)
// from Meta's documentation on its own, so that it is an independent oracle. A rule the
// product gets wrong is then caught by the sandbox instead of being agreed with by the
// same code. Keep it that way: import nothing from domain, application or the other
// adapters.
package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Config configures a Sandbox. Zero values get the defaults named on each field.
type Config struct {
	// AppID and AppSecret are the Meta app's: the code exchange checks them, debug_token
	// accepts the app token "APPID|APPSECRET", and the secret signs every webhook.
	AppID     string
	AppSecret string
	// CallbackURL receives webhooks (the product's POST /webhooks/meta). Empty: none are sent.
	CallbackURL string
	// VerifyToken, when set, makes the sandbox run Meta's GET verification handshake against
	// a callback URL before its first delivery (and when an override URL is set); deliveries
	// wait (and retry) until the URL answers the challenge.
	VerifyToken string
	// Latency is added to every Graph call.
	Latency time.Duration
	// FailureRate is the fraction (0..1) of sends that fail with 131000 (HTTP 500).
	FailureRate float64
	// DefaultThroughput is each new number's send limit in messages per second (default 80).
	DefaultThroughput int
	// StatusDelay is the gap between an accepted send and `sent`, and between the following
	// statuses (default 50ms).
	StatusDelay time.Duration
	// Logger receives the sandbox's own logs (default: discarded). Tokens are never logged.
	Logger *slog.Logger
	// Now is the sandbox's clock for what expires (media download URLs); default time.Now.
	Now func() time.Time
	// MaxMessages is how many accepted sends Messages keeps, the oldest dropped first
	// (default 50,000): a benchmark that checks each of a larger campaign's recipients was
	// sent once keeps them all.
	MaxMessages int
}

// Sandbox is an in-memory Graph API simulator. It is safe for concurrent use.
type Sandbox struct {
	appID, appSecret  string
	callbackURL       string
	verifyToken       string
	defaultThroughput int
	log               *slog.Logger
	urlKey            []byte // signs media download URLs
	now               func() time.Time

	settingsMu  sync.RWMutex
	latency     time.Duration
	failureRate float64
	statusDelay time.Duration

	mu    sync.Mutex
	state state

	disp *dispatcher
	done chan struct{}
}

// New builds a Sandbox and starts its webhook delivery workers; Close stops them.
func New(cfg Config) *Sandbox {
	if cfg.DefaultThroughput <= 0 {
		cfg.DefaultThroughput = 80
	}
	if cfg.StatusDelay <= 0 {
		cfg.StatusDelay = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sandbox{
		appID:             cfg.AppID,
		appSecret:         cfg.AppSecret,
		callbackURL:       cfg.CallbackURL,
		verifyToken:       cfg.VerifyToken,
		defaultThroughput: cfg.DefaultThroughput,
		log:               cfg.Logger.With("component", "meta_sandbox"),
		urlKey:            key,
		now:               cfg.Now,
		latency:           cfg.Latency,
		failureRate:       clampRate(cfg.FailureRate),
		statusDelay:       cfg.StatusDelay,
		state:             newState(cmp.Or(cfg.MaxMessages, maxMessages)),
		done:              make(chan struct{}),
	}
	s.disp = newDispatcher(s)
	return s
}

// Close stops the webhook workers, abandoning deliveries not yet made. It waits for
// in-flight deliveries to be cancelled and is safe to call more than once.
func (s *Sandbox) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.disp.close()
}

// SetLatency changes the delay added to every Graph call.
func (s *Sandbox) SetLatency(d time.Duration) {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	s.latency = max(d, 0)
}

// SetFailureRate changes the fraction (0..1) of sends that fail with 131000.
func (s *Sandbox) SetFailureRate(f float64) {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	s.failureRate = clampRate(f)
}

// SetStatusDelay changes the gap between status webhooks (a zero or negative value means 1ms).
func (s *Sandbox) SetStatusDelay(d time.Duration) {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	s.statusDelay = max(d, time.Millisecond)
}

// Settings is the runtime-adjustable behaviour (GET/POST /_sandbox/config).
type Settings struct {
	LatencyMS     int64   `json:"latency_ms"`
	FailureRate   float64 `json:"failure_rate"`
	StatusDelayMS int64   `json:"status_delay_ms"`
}

func (s *Sandbox) settings() (latency time.Duration, failureRate float64, statusDelay time.Duration) {
	s.settingsMu.RLock()
	defer s.settingsMu.RUnlock()
	return s.latency, s.failureRate, s.statusDelay
}

func clampRate(f float64) float64 { return min(max(f, 0), 1) }

var versionRE = regexp.MustCompile(`^v\d+\.\d+$`)

// Handler serves the Graph API under /vNN.N/..., media downloads, and the developer API
// under /_sandbox/.
func (s *Sandbox) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.Trim(r.URL.Path, "/")
		segs := strings.Split(path, "/")
		switch {
		case segs[0] == "_sandbox":
			if !allowBrowsers(w, r) {
				s.serveDev(w, r, segs[1:])
			}
		case path == "whatsapp_business/attachments":
			s.serveDownload(w, r)
		case versionRE.MatchString(segs[0]):
			s.serveGraph(w, r, segs[1:])
		default:
			gr := s.newGraphRequest(w, r)
			gr.fail(http.StatusBadRequest, 2500, 0, "OAuthException", "Unknown path components: /"+path, "")
			s.recordCall(gr)
		}
	})
}

// graphRequest carries one Graph call through its handler and into the call log.
type graphRequest struct {
	w       http.ResponseWriter
	r       *http.Request
	at      time.Time
	status  int
	code    int
	phoneID string
	wabaID  string
	acct    *account
}

func (s *Sandbox) newGraphRequest(w http.ResponseWriter, r *http.Request) *graphRequest {
	return &graphRequest{w: w, r: r, at: time.Now()}
}

// graphError is Meta's error object.
type graphError struct {
	Message     string     `json:"message"`
	Type        string     `json:"type"`
	Code        int        `json:"code"`
	Subcode     int        `json:"error_subcode,omitempty"`
	IsTransient *bool      `json:"is_transient,omitempty"`
	UserTitle   string     `json:"error_user_title,omitempty"`
	UserMessage string     `json:"error_user_msg,omitempty"`
	ErrorData   *errorData `json:"error_data,omitempty"`
	FBTraceID   string     `json:"fbtrace_id"`
}

type errorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

// fail answers with a Graph error. details non-empty adds WhatsApp's error_data.
func (gr *graphRequest) fail(status, code, subcode int, typ, message, details string) {
	ge := graphError{Message: message, Type: typ, Code: code, Subcode: subcode, FBTraceID: newTraceID()}
	if details != "" {
		ge.ErrorData = &errorData{MessagingProduct: "whatsapp", Details: details}
	}
	gr.failWith(status, ge)
}

func (gr *graphRequest) failWith(status int, ge graphError) {
	if ge.FBTraceID == "" {
		ge.FBTraceID = newTraceID()
	}
	gr.code = ge.Code
	gr.w.Header().Set("X-FB-Trace-ID", ge.FBTraceID)
	if status == http.StatusUnauthorized {
		gr.w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+strings.ReplaceAll(ge.Message, `"`, `'`)+`"`)
	}
	gr.reply(status, map[string]graphError{"error": ge})
}

// waFail answers a WhatsApp error: message "(#code) title", details in error_data.
func (gr *graphRequest) waFail(status, code int, title, details string) {
	gr.fail(status, code, 0, "OAuthException", fmt.Sprintf("(#%d) %s", code, title), details)
}

// invalidParam is Graph's generic (#100) error.
func (gr *graphRequest) invalidParam(details string) {
	gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", details)
}

// noObject is Meta's answer for an unknown id or one the token may not use.
func (gr *graphRequest) noObject(id string) {
	gr.fail(http.StatusBadRequest, 100, 33, "GraphMethodException", fmt.Sprintf(
		"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
		strings.ToLower(gr.r.Method), id), "")
}

// badToken is the answer for a missing, unknown or revoked token.
func (gr *graphRequest) badToken() {
	gr.fail(http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
}

func (gr *graphRequest) reply(status int, v any) {
	gr.status = status
	writeJSON(gr.w, status, v)
}

func (gr *graphRequest) success() { gr.reply(http.StatusOK, map[string]bool{"success": true}) }

// writeJSON answers with Meta's serialization (see Marshal).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := Marshal(v)
	if err != nil {
		http.Error(w, "sandbox: encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bearer is the token of a request: the Authorization header, else access_token in the query.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		if t, ok := strings.CutPrefix(h, "OAuth "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}

// sleep waits d unless the request or the sandbox ends first.
func (s *Sandbox) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.done:
	}
}

// decodeJSON reads a JSON request body (at most 8 MiB).
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	dec.UseNumber()
	return dec.Decode(v)
}
