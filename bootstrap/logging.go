package bootstrap

import (
	"io"
	"log/slog"
	"strings"
)

// secretKeys are attribute names whose values never reach a log line, at any level.
var secretKeys = map[string]bool{
	"authorization": true, "password": true, "token": true, "access_token": true,
	"secret": true, "app_secret": true, "pin": true, "api_key": true, "key": true,
	"cookie": true, "jwt": true,
}

// NewLogger returns a JSON slog logger at the configured level that redacts attributes
// named like secrets.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if secretKeys[strings.ToLower(a.Key)] {
				return slog.String(a.Key, "[redacted]")
			}
			return a
		},
	}))
}
