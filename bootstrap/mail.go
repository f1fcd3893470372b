package bootstrap

import (
	"log/slog"

	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/mailer"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/adapters/vault"
	"github.com/wabaplatform/waba/application/mail"
)

// MailModule provides the mail sender (SMTP with SMTP_URL, else the log) and the worker
// that sends queued mail through it.
var MailModule = fx.Module("mail",
	fx.Provide(
		newMailSender,
		fx.Annotate(func(s mail.Sender, v *vault.Tokens) WorkerRegistration {
			return func(w *river.Workers) { river.AddWorker(w, &riveradapter.MailWorker{Sender: s, Vault: v}) }
		}, fx.ResultTags(`group:"workers"`)),
	),
)

// newMailSender picks the sender and says which, once: a person starting the server
// without SMTP_URL learns why no mail arrives and where the links are.
func newMailSender(cfg Config, log *slog.Logger) (mail.Sender, error) {
	log = log.With("component", "mail")
	if cfg.SMTPURL == "" {
		log.Info("mail is written to this log, not sent: SMTP_URL is unset", "from", cfg.MailFrom)
		return mailer.NewLog(log), nil
	}
	s, err := mailer.NewSMTP(cfg.SMTPURL, cfg.MailFrom)
	if err != nil {
		return nil, err
	}
	log.Info("mail goes out through SMTP", "server", RedactURL(cfg.SMTPURL), "from", cfg.MailFrom)
	return s, nil
}
