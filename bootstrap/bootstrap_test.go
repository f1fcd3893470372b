package bootstrap_test

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/mailer"
	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/bootstrap"
)

func validEnv() map[string]string {
	return map[string]string{
		"DATABASE_URL":      "postgres://postgres@127.0.0.1:5432/waba?sslmode=disable",
		"META_APP_ID":       "app",
		"META_APP_SECRET":   "secret",
		"META_VERIFY_TOKEN": "verify",
		"JWT_SECRET":        strings.Repeat("j", 32),
		"TOKEN_MASTER_KEY":  base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
}

func load(env map[string]string) (bootstrap.Config, error) {
	return bootstrap.LoadConfig(func(k string) string { return env[k] })
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(validEnv())
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.HTTPAddr)
	require.Equal(t, "https://graph.facebook.com", cfg.MetaGraphURL)
	require.Equal(t, "v25.0", cfg.MetaGraphVersion)
	require.Len(t, cfg.TokenMasterKey, 32)
	require.Empty(t, cfg.PublicURL)
	require.Empty(t, cfg.WebhookURL(), "without PUBLIC_URL, Meta uses the app's callback")

	env := validEnv()
	env["PUBLIC_URL"] = "https://waba.example.com/"
	cfg, err = load(env)
	require.NoError(t, err)
	require.Equal(t, "https://waba.example.com", cfg.PublicURL)
	require.Equal(t, "https://waba.example.com/webhooks/meta", cfg.WebhookURL())
	require.Equal(t, "no-reply@waba.example.com", cfg.MailFrom, "the public host names the sender")
}

func TestConfigMail(t *testing.T) {
	t.Parallel()
	cfg, err := load(validEnv())
	require.NoError(t, err)
	require.Empty(t, cfg.SMTPURL, "no SMTP_URL: mail goes to the log")
	require.Equal(t, "no-reply@localhost", cfg.MailFrom)

	env := validEnv()
	env["PUBLIC_URL"] = "http://127.0.0.1:8080"
	cfg, err = load(env)
	require.NoError(t, err)
	require.Equal(t, "no-reply@localhost", cfg.MailFrom, "an IP address is no mail domain")

	env = validEnv()
	env["SMTP_URL"] = "smtps://mailer%40example.com:s3cret@smtp.example.com"
	env["MAIL_FROM"] = "WABA <hello@example.com>"
	cfg, err = load(env)
	require.NoError(t, err)
	require.Equal(t, "smtps://mailer%40example.com:s3cret@smtp.example.com", cfg.SMTPURL)
	require.Equal(t, "WABA <hello@example.com>", cfg.MailFrom)

	// A bad SMTP_URL is named without echoing its password, however it is malformed.
	for _, bad := range []string{
		"http://user:s3cret@smtp.example.com",
		"smtp://user:s3cret@smtp.example.com:port",
		"smtp://user:s3cret@",
		"smtp://user:s3cret@smtp.example.com/inbox",
	} {
		env := validEnv()
		env["SMTP_URL"] = bad
		_, err := load(env)
		require.Error(t, err, bad)
		require.True(t, strings.HasPrefix(err.Error(), "SMTP_URL:"), "error %q should name SMTP_URL", err)
		require.NotContains(t, err.Error(), "s3cret", bad)
	}
}

// The customer webhooks' settings: https only and public addresses only by default;
// WEBHOOKS_ALLOW_HTTP, WEBHOOKS_ALLOWED_CIDRS and WEBHOOKS_RESOLVER loosen or point them,
// and a malformed value is refused naming its variable.
func TestConfigWebhooks(t *testing.T) {
	t.Parallel()
	cfg, err := load(validEnv())
	require.NoError(t, err)
	require.False(t, cfg.WebhooksAllowHTTP)
	require.Empty(t, cfg.WebhooksAllowedCIDRs)
	require.Empty(t, cfg.WebhooksResolver, "the system's resolver")

	for v, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "false": false, "0": false,
		"no": false, "": false} {
		env := validEnv()
		env["WEBHOOKS_ALLOW_HTTP"] = v
		cfg, err := load(env)
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.WebhooksAllowHTTP, v)
	}

	env := validEnv()
	env["WEBHOOKS_ALLOWED_CIDRS"] = " 127.0.0.0/8, 10.1.2.3/16 ,::1/128"
	env["WEBHOOKS_RESOLVER"] = "127.0.0.1:5353"
	cfg, err = load(env)
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("::1/128")}, cfg.WebhooksAllowedCIDRs, "trimmed, and masked to the range")
	require.Equal(t, "127.0.0.1:5353", cfg.WebhooksResolver)
	env["WEBHOOKS_RESOLVER"] = "[::1]:53"
	cfg, err = load(env)
	require.NoError(t, err)
	require.Equal(t, "[::1]:53", cfg.WebhooksResolver)

	for name, bad := range map[string][]string{
		"WEBHOOKS_ALLOW_HTTP":    {"maybe", "on"},
		"WEBHOOKS_ALLOWED_CIDRS": {"127.0.0.1", "10.0.0.0/33", "127.0.0.0/8,localhost", "::1/129", "10.0.0.0/8;192.168.0.0/16"},
		"WEBHOOKS_RESOLVER":      {"127.0.0.1", "dns.example.com", "127.0.0.1:", "::1:53:x"},
	} {
		for _, v := range bad {
			env := validEnv()
			env[name] = v
			_, err := load(env)
			require.Error(t, err, "%s=%q", name, v)
			require.True(t, strings.HasPrefix(err.Error(), name+":"), "error %q should name %s", err, name)
		}
	}
}

// The mailer is the log without SMTP_URL and SMTP with it; either way one start-up line
// says which, and never the password.
func TestMailSender(t *testing.T) {
	t.Parallel()
	for smtpURL, want := range map[string]any{
		"": &mailer.Log{},
		"smtp://mailer:s3cret@smtp.example.com:587": &mailer.SMTP{},
	} {
		env := validEnv()
		env["SMTP_URL"] = smtpURL
		cfg, err := load(env)
		require.NoError(t, err)
		var out strings.Builder
		var s mail.Sender
		app := fx.New(bootstrap.MailModule, fx.Supply(cfg, bootstrap.NewLogger(&out, 0, bootstrap.LogText)), fx.Populate(&s), fx.NopLogger)
		require.NoError(t, app.Err(), smtpURL)
		require.IsType(t, want, s, smtpURL)
		require.Equal(t, 1, strings.Count(out.String(), "component=mail"), out.String())
		require.NotContains(t, out.String(), "s3cret")
	}
}

// A missing or malformed required value fails with an error naming the variable.
func TestConfigNamesTheBadVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]func(map[string]string){
		"DATABASE_URL":      func(e map[string]string) { delete(e, "DATABASE_URL") },
		"META_APP_SECRET":   func(e map[string]string) { e["META_APP_SECRET"] = " " },
		"META_VERIFY_TOKEN": func(e map[string]string) { delete(e, "META_VERIFY_TOKEN") },
		"JWT_SECRET":        func(e map[string]string) { e["JWT_SECRET"] = "short" },
		"TOKEN_MASTER_KEY":  func(e map[string]string) { e["TOKEN_MASTER_KEY"] = base64.StdEncoding.EncodeToString(make([]byte, 16)) },
		"LOG_LEVEL":         func(e map[string]string) { e["LOG_LEVEL"] = "loud" },
		"LOG_FORMAT":        func(e map[string]string) { e["LOG_FORMAT"] = "yaml" },
		"PUBLIC_URL":        func(e map[string]string) { e["PUBLIC_URL"] = "waba.example.com" },
		"META_GRAPH_URL":    func(e map[string]string) { e["META_GRAPH_URL"] = "not a url" },
		"ACCESS_TOKEN_TTL":  func(e map[string]string) { e["ACCESS_TOKEN_TTL"] = "forever" },
		"VAULT_KEY_URL":     func(e map[string]string) { e["VAULT_KEY_URL"] = "bogus://key" },
		"SMTP_URL":          func(e map[string]string) { e["SMTP_URL"] = "smtp.example.com:587" },
		"MAIL_FROM":         func(e map[string]string) { e["MAIL_FROM"] = "no-reply at example.com" },
		"VAULT_KEY_URL_PREVIOUS": func(e map[string]string) {
			e["VAULT_KEY_URL_PREVIOUS"] = "base64key://" + base64.URLEncoding.EncodeToString(make([]byte, 32)) + ",base64key://"
		},
	}
	for name, mutate := range cases {
		env := validEnv()
		mutate(env)
		_, err := load(env)
		require.Error(t, err, name)
		require.True(t, strings.HasPrefix(err.Error(), name+":"), "error %q should name %s", err, name)
	}
	env := validEnv()
	delete(env, "TOKEN_MASTER_KEY")
	env["VAULT_KEY_URL"] = "base64key://" + base64.URLEncoding.EncodeToString(make([]byte, 32))
	_, err := load(env)
	require.NoError(t, err, "a KMS URL replaces the local key")
}

// The whole graph is satisfiable in every role, without running any constructor.
func TestGraphIsComplete(t *testing.T) {
	t.Parallel()
	cfg, err := load(validEnv())
	require.NoError(t, err)
	log := bootstrap.NewLogger(io.Discard, 0, "")
	for _, role := range []bootstrap.Role{bootstrap.RoleAll, bootstrap.RoleAPI, bootstrap.RoleWorker} {
		require.NoError(t, fx.ValidateApp(bootstrap.Options(cfg, bootstrap.Settings{Role: role, Migrate: true}, log)...), role)
	}
}

func TestLoggerRedactsSecrets(t *testing.T) {
	t.Parallel()
	for _, format := range []bootstrap.LogFormat{bootstrap.LogJSON, bootstrap.LogText, ""} {
		var b strings.Builder
		log := bootstrap.NewLogger(&b, 0, format)
		log.Info("x", "password", "hunter2hunter2", "Authorization", "Bearer abc", "access_token", "EAAG123", "email", "a@b.c")
		// Grouped and derived loggers go through the same replacement.
		log.With("component", "vault").WithGroup("req").Info("y", "token", "tok-secret-1", slog.Group("meta", "app_secret", "s3cr3t-app"))
		out := b.String()
		for _, secret := range []string{"hunter2hunter2", "Bearer abc", "EAAG123", "tok-secret-1", "s3cr3t-app"} {
			require.NotContains(t, out, secret, "format %q", format)
		}
		require.Contains(t, out, "a@b.c")
		require.Contains(t, out, "[redacted]")
		if format == bootstrap.LogText {
			require.Contains(t, out, "level=INFO msg=x")
		} else {
			// A strings.Builder is not a terminal: the default is JSON.
			require.True(t, strings.HasPrefix(out, `{"time":`), "format %q: %s", format, out)
		}
	}
}

func TestConfigLogFormat(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bootstrap.LogFormat{"": "", "text": bootstrap.LogText, "JSON": bootstrap.LogJSON, " json ": bootstrap.LogJSON} {
		env := validEnv()
		env["LOG_FORMAT"] = v
		cfg, err := load(env)
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.LogFormat, v)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://waba:s3cret@db.internal:5432/waba?sslmode=require": "postgres://waba:xxxxx@db.internal:5432/waba?sslmode=require",
		"postgres://postgres@127.0.0.1:5432/waba?sslmode=disable":      "postgres://postgres@127.0.0.1:5432/waba?sslmode=disable",
		"postgres://db/waba?user=waba&password=s3cret":                 "postgres://db/waba?password=xxxxx&user=waba",
		"postgres://%zz": "[unparseable URL withheld]",
	} {
		got := bootstrap.RedactURL(in)
		require.Equal(t, want, got, in)
		require.NotContains(t, got, "s3cret")
	}
}
