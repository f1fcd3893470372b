// Package meta is the driven adapter to Meta's WhatsApp Cloud API (the Graph API): a typed
// client for onboarding, sending, templates and media, plus the classification of Graph
// errors into what a caller should do next. Its sub-package sandbox simulates the Graph API
// for tests and local runs.
//
// Tokens are passed per call (each customer number has its own business token) and never
// appear in an error string: URLs are redacted before transport errors are wrapped.
package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by NewClient to zero ClientConfig fields.
const (
	DefaultBaseURL = "https://graph.facebook.com"
	DefaultVersion = "v25.0"
	DefaultTimeout = 30 * time.Second
)

// maxResponseBytes caps a JSON answer read into memory (template lists are the largest).
const maxResponseBytes = 16 << 20

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the Graph API root, default https://graph.facebook.com (the sandbox's
	// address in development and tests).
	BaseURL string
	// Version is the path segment after BaseURL, default v25.0.
	Version string
	// AppID and AppSecret identify our Meta app: ExchangeCode sends them, DebugToken
	// authorises with the app token "APPID|APPSECRET".
	AppID     string
	AppSecret string
	// Timeout bounds each call (for DownloadMedia: until the response headers arrive, the
	// body is streamed under the caller's context). Default 30s.
	Timeout time.Duration
	// HTTPClient replaces the default keep-alive pool (NewTransport). Its own Timeout, if
	// set, also applies.
	HTTPClient *http.Client
	// WebhookURL, when set, is our webhook endpoint as Meta reaches it: SubscribeApp gives
	// it to each WABA as override_callback_uri, with VerifyToken for the handshake Meta runs
	// on the spot, so the WABA's messages webhooks come to it whatever callback the app's
	// dashboard names. Empty: the app's callback is used.
	WebhookURL  string
	VerifyToken string
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	root      string // BaseURL + "/" + Version
	baseHost  string // scheme://host of BaseURL: media URLs there may be plain http
	appID     string
	appSecret string
	timeout   time.Duration
	hc        *http.Client
	// webhookURL and verifyToken: see ClientConfig.WebhookURL.
	webhookURL  string
	verifyToken string
}

// NewClient builds a Client, applying the defaults documented on ClientConfig.
func NewClient(cfg ClientConfig) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: NewTransport()}
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	c := &Client{
		root:      base + "/" + strings.Trim(cfg.Version, "/"),
		appID:     cfg.AppID,
		appSecret: cfg.AppSecret,
		timeout:   cfg.Timeout,
		hc:        hc,

		webhookURL:  cfg.WebhookURL,
		verifyToken: cfg.VerifyToken,
	}
	if u, err := url.Parse(base); err == nil {
		c.baseHost = u.Scheme + "://" + u.Host
	}
	return c
}

// NewTransport is the default transport: a keep-alive pool sized for about 1,000 sends per
// second to one host (at ~200 ms per call that is ~200 connections in flight over HTTP/1.1;
// HTTP/2 multiplexes them when the server offers it).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// endpoint builds {root}/{segments...}?{query}, escaping each segment.
func (c *Client) endpoint(query url.Values, segments ...string) string {
	var b strings.Builder
	b.WriteString(c.root)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if len(query) > 0 {
		b.WriteByte('?')
		b.WriteString(query.Encode())
	}
	return b.String()
}

// request is one Graph call.
type request struct {
	op          string // for error messages: "send message"
	method      string
	url         string
	token       string // bearer token; empty for none
	body        io.Reader
	contentType string
	secrets     []string // scrubbed from error strings besides the token
}

// do runs r and decodes a 2xx JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	return c.doWithin(ctx, c.timeout, r, out)
}

// doWithin is do with its own bound on the whole exchange (an upload streams its body
// within it).
func (c *Client) doWithin(ctx context.Context, timeout time.Duration, r request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return c.transportErr(r, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return wrapf(r.op, scrubError(parseError(resp.StatusCode, resp.Header, body), r.secrets, r.token))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("meta: %s: %w: %s", r.op, ErrUnexpectedResponse, redact(err.Error(), r.secrets, r.token))
	}
	return nil
}

// send performs the HTTP exchange and returns the raw response (any status).
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, r.body)
	if err != nil {
		return nil, fmt.Errorf("meta: %s: %w: %s", r.op, ErrInvalidRequest, redactURLs(err.Error(), r))
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportErr(r, err)
	}
	return resp, nil
}

// transportErr wraps a failure below HTTP, with the URL's secrets redacted in the message
// and inside the *url.Error callers may unwrap.
func (c *Client) transportErr(r request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(ue.URL)
	}
	msg := "meta: " + r.op + ": " + redactURLs(err.Error(), r)
	return &transportError{msg: msg, err: err}
}

// sensitiveParams are query parameters whose values are credentials.
var sensitiveParams = []string{"access_token", "input_token", "client_secret", "code", "appsecret_proof", "fb_exchange_token"}

// redactURL replaces the values of credential query parameters.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	q := u.Query()
	changed := false
	for _, k := range sensitiveParams {
		if q.Has(k) {
			q.Set(k, "REDACTED")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	u.User = nil
	return u.String()
}

// redactURLs scrubs the request's URL (raw and redacted forms), token and secrets from s.
func redactURLs(s string, r request) string {
	if r.url != "" {
		s = strings.ReplaceAll(s, r.url, redactURL(r.url))
	}
	return redact(s, r.secrets, r.token)
}

// redact replaces every occurrence of the given secrets (and their URL-escaped forms).
func redact(s string, secrets []string, token string) string {
	for _, sec := range append([]string{token}, secrets...) {
		if len(sec) < 4 { // too short to be a credential; replacing would mangle the text
			continue
		}
		s = strings.ReplaceAll(s, sec, "REDACTED")
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, "REDACTED")
		}
	}
	return s
}

// scrubError removes credentials from the text fields of a Graph error.
func scrubError(e *Error, secrets []string, token string) *Error {
	e.Message = redact(e.Message, secrets, token)
	e.Details = redact(e.Details, secrets, token)
	e.UserTitle = redact(e.UserTitle, secrets, token)
	e.UserMessage = redact(e.UserMessage, secrets, token)
	return e
}

// getJSON is a GET decoding into out.
func (c *Client) getJSON(ctx context.Context, op, token, u string, out any, secrets ...string) error {
	return c.do(ctx, request{op: op, method: http.MethodGet, url: u, token: token, secrets: secrets}, out)
}

// postJSON marshals in (nil for an empty body) and decodes the answer into out.
func (c *Client) postJSON(ctx context.Context, op, token, u string, in, out any) error {
	r := request{op: op, method: http.MethodPost, url: u, token: token}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("meta: %s: %w: %v", op, ErrInvalidRequest, err)
		}
		r.body = strings.NewReader(string(b))
		r.contentType = "application/json"
	}
	return c.do(ctx, r, out)
}

// successResponse is Graph's `{"success": true}`.
type successResponse struct {
	Success bool `json:"success"`
}

func (s successResponse) check(op string) error {
	if !s.Success {
		return fmt.Errorf("meta: %s: %w: success is false", op, ErrUnexpectedResponse)
	}
	return nil
}

// maxPages bounds cursor paging so a misbehaving server cannot loop us forever.
const maxPages = 1000

// listPage is one page of a Graph collection.
type listPage[T any] struct {
	Data   []T `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// getAll follows `paging.cursors.after` (by re-issuing our own URL with `after`, never the
// server-provided `next` URL) until a page has no `next`.
func getAll[T any](ctx context.Context, c *Client, op, token string, query url.Values, segments ...string) ([]T, error) {
	var all []T
	after := ""
	for range maxPages {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		if after != "" {
			q.Set("after", after)
		}
		var p listPage[T]
		if err := c.getJSON(ctx, op, token, c.endpoint(q, segments...), &p); err != nil {
			return nil, err
		}
		all = append(all, p.Data...)
		next := p.Paging.Cursors.After
		if p.Paging.Next == "" || next == "" || next == after || len(p.Data) == 0 {
			return all, nil
		}
		after = next
	}
	return nil, fmt.Errorf("meta: %s: %w: more than %d pages", op, ErrUnexpectedResponse, maxPages)
}
