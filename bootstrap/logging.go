package bootstrap

import (
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
)

// LogFormat is how log lines are written: LogText for a person at a terminal, LogJSON
// for a log pipeline. The zero value picks by the writer (see NewLogger).
type LogFormat string

const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// secretKeys are attribute names whose values never reach a log line, at any level.
var secretKeys = map[string]bool{
	"authorization": true, "password": true, "token": true, "access_token": true,
	"secret": true, "app_secret": true, "pin": true, "api_key": true, "key": true,
	"cookie": true, "jwt": true,
}

// NewLogger returns a slog logger at level that redacts attributes named like secrets, in
// either format. An empty format means text when w is a terminal and JSON otherwise.
func NewLogger(w io.Writer, level slog.Level, format LogFormat) *slog.Logger {
	opts := &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if secretKeys[strings.ToLower(a.Key)] {
				return slog.String(a.Key, "[redacted]")
			}
			return a
		},
	}
	if format == "" {
		format = LogJSON
		if isTerminal(w) {
			format = LogText
		}
	}
	if format == LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a character device (a terminal, not a file or pipe).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// RedactURL returns a connection URL fit for a log line: the password in its user info
// and any password query parameter replaced, the rest kept so a person sees which server
// and database it is. A URL that does not parse is withheld entirely.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL withheld]"
	}
	q := u.Query()
	changed := false
	for k := range q {
		if secretKeys[strings.ToLower(k)] || strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
