// Package hookhttp sends webhooks to customers' endpoints over HTTP, and checks endpoint
// URLs: the host is resolved here and every address checked against the policy at save
// and again at every dial (a DNS answer can change between the two: DNS rebinding), and
// only a checked address is dialled. Redirects are never followed.
package hookhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

// ErrRefused is a destination the address policy refuses.
var ErrRefused = errors.New("address not allowed")

// Client checks endpoint URLs and sends attempts.
type Client struct {
	policy   domain.HookAddressPolicy
	resolver *net.Resolver
	http     *http.Client
}

// Config sets a client up.
type Config struct {
	Policy domain.HookAddressPolicy
	// Resolver is host:port of a DNS server to ask instead of the system's (tests and
	// development); empty: the system resolver.
	Resolver string
	// Timeout bounds an attempt, answer included (10 s in production).
	Timeout time.Duration
}

// New returns a client.
func New(cfg Config) *Client {
	c := &Client{policy: cfg.Policy, resolver: net.DefaultResolver}
	if cfg.Resolver != "" {
		server := cfg.Resolver
		c.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
		// The second line: whatever reached the socket layer is checked again.
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || c.policy.CheckAddr(ap.Addr()) != "" {
				return fmt.Errorf("%w: %s", ErrRefused, address)
			}
			return nil
		}}
	transport := &http.Transport{
		Proxy: nil, // never through a proxy from the environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			addrs, err := c.resolve(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error
			for _, a := range addrs {
				conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
				if err == nil {
					return conn, nil
				}
				last = err
			}
			return nil, last
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   hooks.Concurrency, // keep-alive per endpoint: one per slot
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	c.http = &http.Client{Transport: transport, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
}

// resolve returns host's addresses if every one passes the policy (an address literal is
// its own answer); a name with any refused address is refused whole.
func (c *Client) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if why := c.policy.CheckAddr(a); why != "" {
			return nil, fmt.Errorf("%w: %s", ErrRefused, a)
		}
		return []netip.Addr{a}, nil
	}
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", host)
	}
	for i, a := range addrs {
		a = a.Unmap()
		if why := c.policy.CheckAddr(a); why != "" {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrRefused, host, a)
		}
		addrs[i] = a
	}
	return addrs, nil
}

// CheckURL implements hooks.Checker.
func (c *Client) CheckURL(ctx context.Context, raw string) error {
	target, why := c.policy.CheckURL(raw)
	if why == "" {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := c.resolve(ctx, target.Host); err != nil {
			why = "must resolve to a public address"
			if errors.Is(err, ErrRefused) {
				why = "must not point at a private, loopback, link-local or metadata address"
			}
		}
	}
	if why == "" {
		return nil
	}
	return &domain.Error{Kind: domain.KindValidation, Message: "the webhook URL cannot be used",
		Fields: []domain.FieldError{{Field: "url", Message: why}}}
}

// Send implements hooks.Sender: one POST, the answer's status and the start of its body.
func (c *Client) Send(ctx context.Context, r hooks.Request) hooks.Response {
	if _, why := c.policy.CheckURL(r.URL); why != "" {
		return hooks.Response{Err: fmt.Errorf("%w: the URL %s", ErrRefused, why)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return hooks.Response{Err: err}
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return hooks.Response{Err: errors.New("timed out")}
		}
		return hooks.Response{Err: err}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, domain.HookResponseLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // let the connection be reused
	return hooks.Response{Status: res.StatusCode, Body: string(body)}
}
