// Package mailer holds the adapters of the mail port: SMTP for real delivery, and Log for
// development, where the link in the message is all a person needs.
package mailer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	appmail "github.com/wabaplatform/waba/application/mail"
)

// Timeout bounds connecting and each SMTP command, so a stalled server fails the attempt
// (and River retries it) instead of holding a worker.
const Timeout = 15 * time.Second

// SMTP sends each message over its own TLS connection to the server of an SMTP URL:
// smtp:// upgrades with STARTTLS and refuses a server without it; smtps:// speaks TLS from
// the first byte. Safe for concurrent use.
type SMTP struct {
	host     string
	port     int
	implicit bool
	user     *url.Userinfo // nil: no SMTP AUTH
	from     string
	domain   string // of from: names our Message-IDs
	tls      *tls.Config
}

// SMTPOption adjusts an SMTP sender.
type SMTPOption func(*SMTP)

// WithTLSConfig replaces the TLS settings (the system's roots, TLS 1.2 or later): tests
// pass the roots of their self-signed server. An empty ServerName is the URL's host.
func WithTLSConfig(c *tls.Config) SMTPOption {
	return func(s *SMTP) {
		if c != nil {
			s.tls = c.Clone()
		}
	}
}

// NewSMTP returns a sender for rawURL (smtp://user:pass@host:port or smtps://...; the user
// and password percent-encoded, AUTH only when they are given; ports default to 587 and
// 465) that sends as from. Errors never quote the URL.
func NewSMTP(rawURL, from string, opts ...SMTPOption) (*SMTP, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from %q is not an address", from)
	}
	s := &SMTP{
		host:     u.Hostname(),
		implicit: u.Scheme == "smtps",
		user:     u.User,
		from:     addr.String(),
		domain:   addr.Address[strings.LastIndexByte(addr.Address, '@')+1:],
		tls:      &tls.Config{MinVersion: tls.VersionTLS12},
	}
	s.port = 587
	if s.implicit {
		s.port = 465
	}
	if p := u.Port(); p != "" {
		s.port, _ = strconv.Atoi(p) // checked by parseURL
	}
	for _, o := range opts {
		o(s)
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// CheckURL reports whether raw is an SMTP URL NewSMTP accepts. The error never quotes the
// URL, which may hold a password.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: do not wrap it.
		return nil, errors.New("must be a URL such as smtp://user:pass@host:587 (percent-encode special characters in the user and password)")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("scheme %q must be smtp (STARTTLS) or smtps (implicit TLS)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("must name a host, as in smtp://user:pass@host:587")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("port must be from 1 to 65535")
		}
	}
	if u.User != nil && u.User.Username() == "" {
		return nil, errors.New("credentials need a user name")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("must have no path or query: only user, password, host and port")
	}
	return u, nil
}

// Send delivers m, or returns why the server did not take it.
func (s *SMTP) Send(ctx context.Context, m appmail.Message) error {
	msg := gomail.NewMsg() // UTF-8, quoted-printable
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// Named after our domain rather than this container's host name, which means nothing
	// to the recipient's server.
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)

	// One client per message: a go-mail client holds connection state, and River runs
	// several mail jobs at once.
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(Timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithTLSPolicy(gomail.TLSMandatory), // smtp:// never falls back to plaintext
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	}
	if s.user != nil {
		pass, _ := s.user.Password()
		// Auto-discovery picks the strongest mechanism the server offers, PLAIN and LOGIN
		// included; it offers them only over TLS, which is all we speak.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.user.Username()), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", net.JoinHostPort(s.host, strconv.Itoa(s.port)), err)
	}
	return nil
}
