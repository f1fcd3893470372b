package mailer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/mailer"
	appmail "github.com/wabaplatform/waba/application/mail"
)

const (
	testUser = "mailer@example.com"
	// Characters that must be percent-encoded in the URL: decoding is part of the test.
	testPass = "p@ss:w/rd%é"
)

// tlsMode is how the test server offers TLS.
type tlsMode int

const (
	startTLS    tlsMode = iota // plaintext greeting, STARTTLS offered
	noTLS                      // no STARTTLS at all (AUTH offered in the clear)
	implicitTLS                // TLS from the first byte (smtps)
)

// received is one message the server accepted.
type received struct {
	from, to, user string
	tls            bool
	data           string
}

// server is an in-process SMTP server that accepts testUser/testPass with PLAIN.
type server struct {
	addr string
	mu   sync.Mutex
	got  []received
}

func (s *server) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// url is the server's address under scheme, with userinfo when u is not nil.
func (s *server) url(scheme string, u *url.Userinfo) string {
	return (&url.URL{Scheme: scheme, User: u, Host: s.addr}).String()
}

func startServer(t *testing.T, mode tlsMode, cert tls.Certificate) *server {
	t.Helper()
	s := &server{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	switch mode {
	case startTLS:
		srv.TLSConfig = tlsConfig
	case noTLS:
		// Offer AUTH in the clear so the client's refusal is about STARTTLS alone.
		srv.AllowInsecureAuth = true
	case implicitTLS:
		srv.TLSConfig = tlsConfig
		ln = tls.NewListener(ln, tlsConfig)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type session struct {
	srv  *server
	conn *smtp.Conn
	user string
	from string
	to   string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != testUser || pass != testPass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *session) Reset()                                      { s.from, s.to = "", "" }
func (s *session) Logout() error                               { return nil }

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.got = append(s.srv.got, received{from: s.from, to: s.to, user: s.user, tls: isTLS, data: string(b)})
	return nil
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailer test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSMTP(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		cert  tls.Certificate
		roots *x509.CertPool
		creds *url.Userinfo
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		cert, roots := selfSigned(t)
		return &testBundle{cert: cert, roots: roots, creds: url.UserPassword(testUser, testPass)}
	}
	send := func(t *testing.T, b *testBundle, rawURL string, m appmail.Message) error {
		t.Helper()
		s, err := mailer.NewSMTP(rawURL, "WABA <no-reply@example.com>", mailer.WithTLSConfig(&tls.Config{RootCAs: b.roots}))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return s.Send(ctx, m)
	}
	msg := appmail.Message{
		To:      "ana@example.org",
		Subject: "Redefinição de senha",
		Text:    "Olá! Abra https://waba.example.com/reset?token=abc123 para escolher outra senha.",
	}

	t.Run("STARTTLS, AUTH and the message as written", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv := startServer(t, startTLS, b.cert)
		require.NoError(t, send(t, b, srv.url("smtp", b.creds), msg))

		got := srv.messages()
		require.Len(t, got, 1)
		require.True(t, got[0].tls, "the message went over TLS")
		require.Equal(t, testUser, got[0].user)
		require.Equal(t, "no-reply@example.com", got[0].from)
		require.Equal(t, msg.To, got[0].to)

		m, err := mail.ReadMessage(strings.NewReader(got[0].data))
		require.NoError(t, err)
		from, err := m.Header.AddressList("From")
		require.NoError(t, err)
		require.Equal(t, []*mail.Address{{Name: "WABA", Address: "no-reply@example.com"}}, from)
		to, err := m.Header.AddressList("To")
		require.NoError(t, err)
		require.Equal(t, msg.To, to[0].Address)
		subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		require.NoError(t, err)
		require.Equal(t, msg.Subject, subject)
		date, err := m.Header.Date()
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), date, time.Minute)
		require.Regexp(t, `^<[^@<>]+@example\.com>$`, m.Header.Get("Message-Id"))

		mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "text/plain", mediaType)
		require.Equal(t, "utf-8", strings.ToLower(params["charset"]))
		require.Equal(t, "quoted-printable", m.Header.Get("Content-Transfer-Encoding"))
		body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
		require.NoError(t, err)
		require.Equal(t, msg.Text, strings.TrimRight(string(body), "\r\n"))
	})

	t.Run("smtp:// refuses a server without STARTTLS", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv := startServer(t, noTLS, b.cert)
		err := send(t, b, srv.url("smtp", b.creds), msg)
		require.ErrorContains(t, err, "STARTTLS")
		require.NotContains(t, err.Error(), testPass)
		require.Empty(t, srv.messages())
	})

	t.Run("smtps:// speaks TLS from the start", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv := startServer(t, implicitTLS, b.cert)
		require.NoError(t, send(t, b, srv.url("smtps", b.creds), msg))
		got := srv.messages()
		require.Len(t, got, 1)
		require.True(t, got[0].tls)
		require.Equal(t, testUser, got[0].user)
	})

	t.Run("no credentials, no AUTH", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv := startServer(t, startTLS, b.cert)
		require.NoError(t, send(t, b, srv.url("smtp", nil), msg))
		got := srv.messages()
		require.Len(t, got, 1)
		require.Empty(t, got[0].user)
	})

	t.Run("a wrong password fails without quoting it", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv := startServer(t, startTLS, b.cert)
		const wrong = "not-the-password-42"
		err := send(t, b, srv.url("smtp", url.UserPassword(testUser, wrong)), msg)
		require.Error(t, err)
		require.NotContains(t, err.Error(), wrong)
		require.Empty(t, srv.messages())
	})

	t.Run("an untrusted certificate fails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv := startServer(t, startTLS, b.cert)
		s, err := mailer.NewSMTP(srv.url("smtp", b.creds), "no-reply@example.com") // system roots
		require.NoError(t, err)
		require.Error(t, s.Send(context.Background(), msg))
		require.Empty(t, srv.messages())
	})
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	const pass = "hunter2secret"
	for _, ok := range []string{
		"smtp://smtp.example.com",
		"smtps://smtp.example.com",
		"smtp://user:" + pass + "@smtp.example.com:2525",
		"smtps://user%40example.com:p%40ss@[::1]:465/",
	} {
		require.NoError(t, mailer.CheckURL(ok), ok)
	}
	for _, bad := range []string{
		"http://user:" + pass + "@smtp.example.com",
		"smtp.example.com:587",
		"smtp://user:" + pass + "@:587",
		"smtp://user:" + pass + "@smtp.example.com:bad",
		"smtp://user:" + pass + "@smtp.example.com:70000",
		"smtp://user:" + pass + "@smtp.example.com/path",
		"smtp://user:" + pass + "@smtp.example.com?tls=off",
		"smtp://:" + pass + "@smtp.example.com",
		"smtp://user:" + pass + "%zz@smtp.example.com",
	} {
		err := mailer.CheckURL(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), pass, bad)
	}
}

func TestLog(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	l := mailer.NewLog(slog.New(slog.NewTextHandler(&out, nil)))
	require.NoError(t, l.Send(context.Background(), appmail.Message{
		To: "ana@example.org", Subject: "Your invitation", Text: "Join: https://waba.example.com/invitations/tok123",
	}))
	line := out.String()
	require.Equal(t, 1, strings.Count(line, "\n"), "one line per message")
	for _, want := range []string{"ana@example.org", "Your invitation", "https://waba.example.com/invitations/tok123", "SMTP_URL"} {
		require.Contains(t, line, want)
	}
}
