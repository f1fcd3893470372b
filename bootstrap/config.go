package bootstrap

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/adapters/mailer"
	"github.com/wabaplatform/waba/adapters/mediastore"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/domain"
)

// Config is the process configuration, read from the environment (API.md, Running).
type Config struct {
	DatabaseURL string
	DBMaxConns  int32
	HTTPAddr    string
	// PublicURL is where Meta (and browsers) reach this service, without a trailing
	// slash; empty when PUBLIC_URL is unset. WebhookURL derives from it.
	PublicURL        string
	MetaAppID        string
	MetaAppSecret    string
	MetaVerifyToken  string
	MetaGraphURL     string
	MetaGraphVersion string
	TokenMasterKey   []byte
	VaultKeyURL      string
	// Keys that sealed secrets before a rotation: still opened, never used to seal.
	PreviousMasterKeys [][]byte
	PreviousKeyURLs    []string
	JWTSecret          []byte
	AccessTokenTTL     time.Duration
	RedisURL           string
	CORSAllowedOrigins []string
	AdminToken         string
	LogLevel           slog.Level
	// LogFormat is LOG_FORMAT; empty when unset (NewLogger then picks by the terminal).
	LogFormat       LogFormat
	ShutdownTimeout time.Duration
	WebhookWorkers  int
	TokenCacheTTL   time.Duration
	// SMTPURL is where mail goes (smtp:// with STARTTLS, smtps:// with implicit TLS); empty
	// when SMTP_URL is unset, and mail is then written to the log.
	SMTPURL string
	// MailFrom is MAIL_FROM, or no-reply@ the host of PUBLIC_URL (localhost without it).
	MailFrom string
	// BillingCurrency is BILLING_DEFAULT_CURRENCY: new workspaces' wallets are in it.
	BillingCurrency string
	// MediaBucketURL is MEDIA_BUCKET_URL: the gocloud.dev/blob bucket of media files, by
	// default the media/ folder under the working directory (file://).
	MediaBucketURL string
	// Customer webhooks: what endpoints may point at (WEBHOOKS_ALLOW_HTTP,
	// WEBHOOKS_ALLOWED_CIDRS), the DNS server that resolves their hosts (WEBHOOKS_RESOLVER,
	// host:port; empty: the system's), and an attempt's time limit (10 s; tests may shorten it).
	WebhooksAllowHTTP    bool
	WebhooksAllowedCIDRs []netip.Prefix
	WebhooksResolver     string
	WebhooksTimeout      time.Duration
}

// WebhookURL is the Meta webhook endpoint as Meta reaches it (PUBLIC_URL + /webhooks/meta),
// empty without PUBLIC_URL.
func (c Config) WebhookURL() string {
	if c.PublicURL == "" {
		return ""
	}
	return c.PublicURL + "/webhooks/meta"
}

// ConsoleURL is where browsers reach the web console, for links in mail: PUBLIC_URL, or
// this machine's HTTP address without it.
func (c Config) ConsoleURL() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	port := "8080"
	if _, p, err := net.SplitHostPort(c.HTTPAddr); err == nil && p != "" && p != "0" {
		port = p
	}
	return "http://localhost:" + port
}

// ConfigError names the variable that stopped start-up.
type ConfigError struct {
	Var    string
	Reason string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Reason }

// LoadConfig reads the environment through getenv (os.Getenv in production) and validates
// it. The first problem found is returned as a *ConfigError naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	cfg := Config{
		DatabaseURL:        r.required("DATABASE_URL"),
		DBMaxConns:         int32(r.intOr("DB_MAX_CONNS", 25, 4, 1000)),
		HTTPAddr:           r.or("HTTP_ADDR", ":8080"),
		PublicURL:          strings.TrimRight(r.or("PUBLIC_URL", ""), "/"),
		MetaAppID:          r.required("META_APP_ID"),
		MetaAppSecret:      r.required("META_APP_SECRET"),
		MetaVerifyToken:    r.required("META_VERIFY_TOKEN"),
		MetaGraphURL:       strings.TrimRight(r.or("META_GRAPH_URL", "https://graph.facebook.com"), "/"),
		MetaGraphVersion:   r.or("META_GRAPH_VERSION", "v25.0"),
		VaultKeyURL:        r.or("VAULT_KEY_URL", ""),
		PreviousKeyURLs:    splitList(r.or("VAULT_KEY_URL_PREVIOUS", "")),
		JWTSecret:          []byte(r.required("JWT_SECRET")),
		AccessTokenTTL:     r.durationOr("ACCESS_TOKEN_TTL", 15*time.Minute),
		RedisURL:           r.or("REDIS_URL", ""),
		CORSAllowedOrigins: splitList(r.or("CORS_ALLOWED_ORIGINS", "")),
		AdminToken:         r.or("ADMIN_TOKEN", ""),
		ShutdownTimeout:    r.durationOr("SHUTDOWN_TIMEOUT", 30*time.Second),
		WebhookWorkers:     r.intOr("WEBHOOK_WORKERS", 200, 1, 10000),
		TokenCacheTTL:      r.durationOr("TOKEN_CACHE_TTL", 5*time.Minute),
		SMTPURL:            r.or("SMTP_URL", ""),
		MailFrom:           r.or("MAIL_FROM", ""),
		BillingCurrency:    strings.ToUpper(r.or("BILLING_DEFAULT_CURRENCY", "USD")),
		MediaBucketURL:     r.or("MEDIA_BUCKET_URL", ""),
	}
	cfg.WebhooksTimeout = 10 * time.Second
	cfg.WebhooksResolver = r.or("WEBHOOKS_RESOLVER", "")
	cfg.LogLevel = r.logLevel("LOG_LEVEL")
	cfg.LogFormat = r.logFormat("LOG_FORMAT")
	if r.err != nil {
		return Config{}, r.err
	}
	if u, err := url.Parse(cfg.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return Config{}, &ConfigError{"DATABASE_URL", "must be a postgres:// URL"}
	}
	if u, err := url.Parse(cfg.MetaGraphURL); err != nil || u.Host == "" {
		return Config{}, &ConfigError{"META_GRAPH_URL", "must be an absolute URL"}
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return Config{}, &ConfigError{"PUBLIC_URL", "must be an absolute http(s) URL without query, such as https://waba.example.com"}
		}
	}
	if len(cfg.JWTSecret) < 32 {
		return Config{}, &ConfigError{"JWT_SECRET", "must be at least 32 bytes"}
	}
	key := getenv("TOKEN_MASTER_KEY")
	switch {
	case key == "" && cfg.VaultKeyURL == "":
		return Config{}, &ConfigError{"TOKEN_MASTER_KEY", "is required (or set VAULT_KEY_URL)"}
	case key != "":
		b, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(b) != 32 {
			return Config{}, &ConfigError{"TOKEN_MASTER_KEY", "must be base64 of exactly 32 bytes"}
		}
		cfg.TokenMasterKey = b
	}
	for _, k := range splitList(getenv("TOKEN_MASTER_KEY_PREVIOUS")) {
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != 32 {
			return Config{}, &ConfigError{"TOKEN_MASTER_KEY_PREVIOUS", "must be a comma-separated list of base64 32-byte keys"}
		}
		cfg.PreviousMasterKeys = append(cfg.PreviousMasterKeys, b)
	}
	if cfg.VaultKeyURL != "" {
		if err := vault.CheckKeyURL(cfg.VaultKeyURL); err != nil {
			return Config{}, &ConfigError{"VAULT_KEY_URL", err.Error()}
		}
	}
	for _, u := range cfg.PreviousKeyURLs {
		if err := vault.CheckKeyURL(u); err != nil {
			return Config{}, &ConfigError{"VAULT_KEY_URL_PREVIOUS", err.Error()}
		}
	}
	if cfg.SMTPURL != "" {
		if err := mailer.CheckURL(cfg.SMTPURL); err != nil {
			return Config{}, &ConfigError{"SMTP_URL", err.Error()}
		}
	}
	switch v := strings.ToLower(getenv("WEBHOOKS_ALLOW_HTTP")); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		cfg.WebhooksAllowHTTP = true
	default:
		return Config{}, &ConfigError{"WEBHOOKS_ALLOW_HTTP", "must be true or false"}
	}
	for _, c := range splitList(getenv("WEBHOOKS_ALLOWED_CIDRS")) {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return Config{}, &ConfigError{"WEBHOOKS_ALLOWED_CIDRS", "must be a comma-separated list of address ranges such as 127.0.0.0/8,::1/128"}
		}
		cfg.WebhooksAllowedCIDRs = append(cfg.WebhooksAllowedCIDRs, p.Masked())
	}
	if cfg.WebhooksResolver != "" {
		if _, port, err := net.SplitHostPort(cfg.WebhooksResolver); err != nil || port == "" {
			return Config{}, &ConfigError{"WEBHOOKS_RESOLVER", "must be host:port of a DNS server, such as 127.0.0.1:53"}
		}
	}
	if why := domain.CheckCurrency(cfg.BillingCurrency); why != "" {
		return Config{}, &ConfigError{"BILLING_DEFAULT_CURRENCY", why}
	}
	if cfg.MediaBucketURL == "" {
		wd, err := os.Getwd()
		if err != nil {
			return Config{}, &ConfigError{"MEDIA_BUCKET_URL", "is not set and the working directory is unknown: " + err.Error()}
		}
		cfg.MediaBucketURL = mediastore.DefaultURL(wd)
	}
	if err := mediastore.CheckURL(cfg.MediaBucketURL); err != nil {
		return Config{}, &ConfigError{"MEDIA_BUCKET_URL", err.Error()}
	}
	if cfg.MailFrom == "" {
		cfg.MailFrom = defaultMailFrom(cfg.PublicURL)
	} else if _, err := mail.ParseAddress(cfg.MailFrom); err != nil {
		return Config{}, &ConfigError{"MAIL_FROM", "must be an email address such as no-reply@example.com or WABA <no-reply@example.com>"}
	}
	return cfg, nil
}

// defaultMailFrom is no-reply@ the public host. An IP address is no mail domain (and an
// IPv6 one no valid address), so it falls back to localhost, as does an unset PUBLIC_URL.
func defaultMailFrom(publicURL string) string {
	host := "localhost"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
		host = u.Hostname()
	}
	return "no-reply@" + host
}

// LoadConfigFromEnv is LoadConfig over the process environment.
func LoadConfigFromEnv() (Config, error) { return LoadConfig(os.Getenv) }

type envReader struct {
	getenv func(string) string
	err    error
}

func (r *envReader) fail(name, reason string) {
	if r.err == nil {
		r.err = &ConfigError{name, reason}
	}
}

func (r *envReader) required(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.fail(name, "is required")
	}
	return v
}

func (r *envReader) or(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) intOr(name string, def, lo, hi int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n
}

func (r *envReader) durationOr(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, "must be a positive duration such as 15m or 30s")
	}
	return d
}

func (r *envReader) logLevel(name string) slog.Level {
	var l slog.Level
	v := r.or(name, "info")
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, "must be debug, info, warn or error")
	}
	return l
}

func (r *envReader) logFormat(name string) LogFormat {
	f, err := ParseLogFormat(r.getenv(name))
	if err != nil {
		r.fail(name, err.Error())
	}
	return f
}

// ParseLogFormat reads a LOG_FORMAT value: text, json, or empty (chosen by the terminal).
func ParseLogFormat(s string) (LogFormat, error) {
	switch f := LogFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case "", LogText, LogJSON:
		return f, nil
	}
	return "", errors.New("must be text or json")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// IsConfigError reports whether err is a configuration problem (exit with its one line).
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}
