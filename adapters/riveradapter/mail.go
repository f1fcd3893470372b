package riveradapter

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/domain"
)

// MailVault seals the text of queued mail: its links carry tokens (invitations, password
// resets), and the job table must not hold them in plaintext.
type MailVault interface {
	Seal(ctx context.Context, plaintext []byte, b domain.SecretBinding) (domain.Sealed, error)
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

var mailBinding = domain.SecretBinding{Purpose: domain.PurposeMail}

// MailArgs sends one email.
type MailArgs struct {
	To      string        `json:"to"`
	Subject string        `json:"subject"`
	Text    domain.Sealed `json:"text"`
}

// Kind is stored in job rows: never change it.
func (MailArgs) Kind() string { return "mail.send" }

// InsertOpts gives mail our retry budget.
func (MailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: MaxAttempts}
}

// MailOutbox is a mail.Queue inside one transaction: the mail is sent only if the change
// that asks for it commits, and is retried until the mail server accepts it.
type MailOutbox struct {
	jobs  *TxJobs
	vault MailVault
}

// NewMailOutbox returns the outbox of the transaction jobs is bound to.
func NewMailOutbox(jobs *TxJobs, v MailVault) *MailOutbox { return &MailOutbox{jobs: jobs, vault: v} }

// Enqueue seals the text and inserts the job.
func (o *MailOutbox) Enqueue(ctx context.Context, m mail.Message) error {
	sealed, err := o.vault.Seal(ctx, []byte(m.Text), mailBinding)
	if err != nil {
		return err
	}
	_, err = o.jobs.client.InsertTx(ctx, o.jobs.tx, MailArgs{To: m.To, Subject: m.Subject, Text: sealed}, nil)
	return err
}

// MailWorker sends queued mail.
type MailWorker struct {
	river.WorkerDefaults[MailArgs]
	Sender mail.Sender
	Vault  MailVault
}

// Work opens the text and hands the message to the sender.
func (w *MailWorker) Work(ctx context.Context, job *river.Job[MailArgs]) error {
	text, err := w.Vault.Open(ctx, job.Args.Text, mailBinding)
	if err != nil {
		return err
	}
	return w.Sender.Send(ctx, mail.Message{To: job.Args.To, Subject: job.Args.Subject, Text: string(text)})
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *MailWorker) NextRetry(job *river.Job[MailArgs]) time.Time { return NextRetry(job.Errors) }

// Timeout bounds one delivery attempt.
func (w *MailWorker) Timeout(*river.Job[MailArgs]) time.Duration { return 30 * time.Second }

// PasswordResetArgs mails a reset link to an email, if it has an account. The request
// only enqueues this, so known and unknown emails answer alike.
type PasswordResetArgs struct {
	Email string `json:"email"`
}

// Kind is stored in job rows: never change it.
func (PasswordResetArgs) Kind() string { return "auth.password_reset" }

// InsertOpts gives the job our retry budget.
func (PasswordResetArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: MaxAttempts}
}

// EnqueuePasswordReset inserts the job in the transaction.
func (j *TxJobs) EnqueuePasswordReset(ctx context.Context, email string) error {
	_, err := j.client.InsertTx(ctx, j.tx, PasswordResetArgs{Email: email}, nil)
	return err
}

// PasswordResetWorker creates the reset token and queues its mail.
type PasswordResetWorker struct {
	river.WorkerDefaults[PasswordResetArgs]
	Identity *identity.Service
}

// Work sends the link (or nothing, for an email without an account).
func (w *PasswordResetWorker) Work(ctx context.Context, job *river.Job[PasswordResetArgs]) error {
	return w.Identity.SendPasswordReset(ctx, job.Args.Email)
}

// NextRetry follows the product's schedule (1s, 5s, 30s, 2m, 10m).
func (w *PasswordResetWorker) NextRetry(job *river.Job[PasswordResetArgs]) time.Time {
	return NextRetry(job.Errors)
}
