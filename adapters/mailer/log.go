package mailer

import (
	"context"
	"log/slog"

	appmail "github.com/wabaplatform/waba/application/mail"
)

// Log is the development mailer: it sends nothing and writes each message to the log,
// text included, since the text carries the invitation or reset link a developer follows.
// Never use it where the log is read by people who must not hold those links.
type Log struct {
	log *slog.Logger
}

// NewLog returns a mailer that writes to log.
func NewLog(log *slog.Logger) *Log { return &Log{log: log} }

// Send logs m and never fails.
func (l *Log) Send(ctx context.Context, m appmail.Message) error {
	l.log.InfoContext(ctx, "mail not sent (SMTP_URL is unset); logged instead",
		"to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
