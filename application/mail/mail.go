// Package mail is the port through which the product sends email (invitations, password
// reset links). Adapters: SMTP (SMTP_URL) and a development mailer that logs the message.
package mail

import "context"

// Message is one plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Sender delivers messages. An error means the message was not accepted for delivery
// and may be retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Queue sends mail durably from inside a transaction: the message goes out only if the
// transaction commits, and a worker retries it until the mail server accepts it.
type Queue interface {
	Enqueue(ctx context.Context, m Message) error
}
