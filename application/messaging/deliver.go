package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// MessageToSend is what delivery needs about a queued message, read in one query.
type MessageToSend struct {
	ID          domain.ID
	WorkspaceID domain.ID
	ContactID   domain.ID
	Type        string
	Content     json.RawMessage
	Status      domain.MessageStatus
	Purpose     domain.MessagePurpose
	WAMID       string
	// The recipient: wa_id digits, or a BSUID for a username-only contact.
	To    string
	BSUID string
	// The contact's opt-outs as they are now (they may have changed since the send was queued).
	OptedOut          bool
	MarketingOptedOut bool
	// TemplateCategory is the template's category when our catalogue knows it.
	TemplateCategory string
	// Number is the business number named by the message (zero ID when it is gone).
	Number domain.PhoneNumber
	// CampaignID is the campaign that queued the message (nil for any other).
	CampaignID *domain.ID
	// AttemptedAt is when a Graph call for it began that Meta did not answer with a
	// refusal (nil: none): it may have been sent.
	AttemptedAt *time.Time
}

// Outbound is the message as it goes to Meta.
func (m MessageToSend) Outbound() domain.OutboundMessage {
	return domain.OutboundMessage{ID: m.ID, Type: m.Type, Content: m.Content, To: m.To, BSUID: m.BSUID, Purpose: m.Purpose}
}

// Outbox reads queued messages and records what became of them.
type Outbox interface {
	// ToSend reads a message for delivery; KindNotFound when it is gone.
	ToSend(ctx context.Context, workspaceID, id domain.ID) (MessageToSend, error)
	// Attempt records that a Graph call for the message begins at `at`, when it is still
	// queued without a wamid and the attempt recorded is still prev (nil: none); ok is
	// false otherwise. It is committed before the call.
	Attempt(ctx context.Context, workspaceID, id domain.ID, prev *time.Time, at time.Time) (ok bool, err error)
	// ClearAttempt forgets the attempt: Meta refused it, so nothing was sent.
	ClearAttempt(ctx context.Context, workspaceID, id domain.ID) error
	// MarkSent stores the wamid and moves the status from `from` to `to` (from.Advance(sent));
	// ok is false when the status is no longer `from`: read and retry. early lists the status
	// webhooks recorded for that wamid before it was stored (Meta can report faster than we
	// commit), for the caller to fold in with ApplyReported.
	MarkSent(ctx context.Context, workspaceID, id domain.ID, wamid string, at time.Time, from, to domain.MessageStatus) (ok bool, early []ReportedStatus, err error)
	// ApplyReported writes u when the status is still `from`.
	ApplyReported(ctx context.Context, workspaceID, id domain.ID, from domain.MessageStatus, u DeliveryUpdate) error
	// MarkFailed records Meta's reason unless the message already failed or was received,
	// and then appends ev and, when holdUntil is set, holds the message's contact from
	// marketing templates until then (Meta's 131049), in one transaction.
	MarkFailed(ctx context.Context, workspaceID, id domain.ID, e domain.MessageError, at time.Time, ev domain.Occurrence, holdUntil time.Time) error
	// Status reads the current status.
	Status(ctx context.Context, workspaceID, id domain.ID) (domain.MessageStatus, error)
	// FlagReconnect marks a connected number needs_reconnect with a reason.
	FlagReconnect(ctx context.Context, workspaceID, numberID domain.ID, reason string) error
}

// ReportedStatus is a status webhook recorded for a wamid.
type ReportedStatus struct {
	Status string // Meta's word
	At     time.Time
	Error  *domain.MessageError // Meta's first error, for failed
}

// DeliveryUpdate is the status and timestamps after folding in reported statuses.
type DeliveryUpdate struct {
	Status                        domain.MessageStatus
	DeliveredAt, ReadAt, FailedAt *time.Time
	Error                         *domain.MessageError
}

// Graph sends a message through Meta's Graph API (the adapter builds Graph's payload).
// Failures are *domain.MetaError.
type Graph interface {
	SendMessage(ctx context.Context, token, phoneNumberID string, m domain.OutboundMessage) (wamid string, err error)
}

// Vault opens sealed access tokens (cached behind it).
type Vault interface {
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

// Pacer spaces sends on a counter shared by every worker instance.
type Pacer interface {
	// Take claims one send on key at perSecond. wait is zero when the send may go now, else
	// how long until the slot it was given.
	Take(ctx context.Context, key string, perSecond int) (wait time.Duration, err error)
	// Strike counts one pair-limit refusal for key (a number and a recipient) and returns
	// how many there were in the last minutes, this one included.
	Strike(ctx context.Context, key string) (int, error)
}

// Throughput of a number in messages a second (meta-cloud-api.md section 7).
const (
	DefaultThroughput = 80
	HighThroughput    = 1000
)

// An attempt Meta did not answer (the process died during it, or the answer was lost) may
// have sent the message. Meta's status webhook for a message it took names our message and
// gives it its wamid, within a second when the receiver is up; the job waits for it,
// looking again every OutcomeCheck, for OutcomeWait after the later of the attempt and the
// dispatcher's start (the webhooks Meta could not deliver while the process was down come
// once it is back, and Meta retries at once and then after seconds). With no word from Meta
// by then, the attempt did not reach it, and the message is sent: a dead process's sends
// go out within seconds of a restart (15 s at most is the promise).
const (
	OutcomeWait  = 8 * time.Second
	OutcomeCheck = time.Second
)

// maxPairStrikes bounds the pair-limit waits (4^n s, capped at 15 min): past it the message fails.
const maxPairStrikes = 8

// Result is what a delivery attempt came to.
type Result string

const (
	ResultSent    Result = "sent"
	ResultSkipped Result = "skipped" // already sent, or gone: nothing to do
	ResultFailed  Result = "failed"  // recorded as failed: do not retry
	ResultSnoozed Result = "snoozed" // try again after Wait, without using an attempt
)

// Outcome of Deliver. Code is Meta's error code of a failure or a throttle.
type Outcome struct {
	Result Result
	Code   int
	Wait   time.Duration
	Reason string
}

// CampaignResults is told what became of a campaign's message, for the capability that
// owns campaigns (the message's recipient follows it), in the transaction that records it.
type CampaignResults interface {
	// Advanced takes messages as they now are: their status and, when failed, the error.
	Advanced(ctx context.Context, ms []domain.Message) error
}

// ResultRepos is what a transaction that records a campaign message's outcome, or a
// template's failure, offers.
type ResultRepos struct {
	Outbox    Outbox
	Campaigns CampaignResults
	// Billing may be nil (a test without billing).
	Billing Reservations
}

// Reservations are told of template messages that failed, for the capability that holds
// their price (billing): Meta charges nothing for them, so the hold is released.
type Reservations interface {
	Failed(ctx context.Context, ms []domain.Message) error
}

// ResultsTx runs fn in one transaction.
type ResultsTx interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r ResultRepos) error) error
}

// Dispatcher delivers queued messages to Meta (the send worker's use case).
type Dispatcher struct {
	outbox  Outbox
	graph   Graph
	vault   Vault
	pacer   Pacer
	log     *slog.Logger
	now     func() time.Time
	started time.Time // by now: when the wait for an unknown outcome may begin at the latest
	results ResultsTx
	media   MediaResolver
}

// NewDispatcher returns the delivery use case.
func NewDispatcher(o Outbox, g Graph, v Vault, p Pacer, log *slog.Logger) *Dispatcher {
	return &Dispatcher{outbox: o, graph: g, vault: v, pacer: p, log: log, now: time.Now, started: time.Now()}
}

// WithClock makes the dispatcher read now (the time of attempts, failures and holds).
func (d *Dispatcher) WithClock(now domain.Clock) *Dispatcher {
	if now != nil {
		d.now, d.started = now, now()
	}
	return d
}

// WithResults makes the dispatcher record what becomes of a campaign's message (sent,
// failed) in one transaction with its recipient, and a template's failure with the release
// of its held price (through tx). Other outcomes are recorded without a transaction of
// their own.
func (d *Dispatcher) WithResults(tx ResultsTx) *Dispatcher {
	d.results = tx
	return d
}

// WithMedia makes the dispatcher send media messages that name a stored file by our id,
// with the Meta id r gives.
func (d *Dispatcher) WithMedia(r MediaResolver) *Dispatcher {
	d.media = r
	return d
}

// Throughput is a number's send limit: HIGH numbers have been upgraded to 1,000 a second.
func Throughput(n domain.PhoneNumber) int {
	if strings.EqualFold(n.ThroughputLevel, "HIGH") {
		return HighThroughput
	}
	return DefaultThroughput
}

// Deliver sends one queued message. A returned error is transient (retry with backoff);
// every other outcome is in Outcome. lastAttempt turns a transient failure into a final one.
//
// Never twice: a message that has a wamid (or is no longer queued) is skipped, and the
// attempt is recorded (committed) before the Graph call. A run that finds an attempt
// recorded on a message still queued without a wamid knows the process died during it, or
// no answer came, and Meta may have sent it: Meta's `sent` status webhook carries our
// message id in biz_opaque_callback_data, so the inbound processing gives the message its
// wamid (inbound.LinkOutbound) and a run skips it. The run waits for that (OutcomeWait)
// before it sends again. An attempt Meta refused is cleared, so the retries it calls for
// are made at once.
func (d *Dispatcher) Deliver(ctx context.Context, ws, id domain.ID, lastAttempt bool) (Outcome, error) {
	m, err := d.outbox.ToSend(ctx, ws, id)
	if domain.IsKind(err, domain.KindNotFound) {
		return Outcome{Result: ResultSkipped, Reason: "message gone"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if m.WAMID != "" || m.Status != domain.StatusQueued {
		return Outcome{Result: ResultSkipped, Reason: "already " + string(m.Status)}, nil
	}
	if m.AttemptedAt != nil {
		if wait := d.outcomeWait(*m.AttemptedAt); wait > 0 {
			return Outcome{Result: ResultSnoozed, Wait: wait, Reason: "waiting for Meta's status webhook of an unanswered attempt"}, nil
		}
		d.log.WarnContext(ctx, "no word from Meta on an unanswered attempt: sending again", "message_id", m.ID.String(),
			"attempted_at", *m.AttemptedAt)
	}
	optOut := domain.Suppression{OptedOut: m.OptedOut, MarketingOptedOut: m.MarketingOptedOut}
	switch refusal := optOut.Refuses(m.Purpose, m.Type == TypeTemplate && domain.IsMarketing(m.TemplateCategory)); {
	case refusal == domain.RefusedOptedOut:
		return d.fail(ctx, m, domain.MessageError{Title: "Contact opted out",
			Detail: "The contact opted out after the message was queued; it was not sent."})
	case refusal == domain.RefusedMarketingOptedOut:
		return d.fail(ctx, m, domain.MessageError{Code: 131050, Title: "User stopped marketing messages",
			Detail: "The contact stopped marketing messages from this business; the template was not sent."})
	case m.Number.ID.IsZero() || m.Number.Status != domain.NumberConnected:
		return d.fail(ctx, m, domain.MessageError{Title: "Number not connected",
			Detail: "The business number is not connected (status " + string(m.Number.Status) + "); reconnect it and send again."})
	case m.To == "" && m.BSUID == "":
		return d.fail(ctx, m, domain.MessageError{Title: "No recipient", Detail: "The contact has no phone number or WhatsApp user id."})
	}

	wait, err := d.pacer.Take(ctx, "pace:"+m.Number.PhoneNumberID, Throughput(m.Number))
	if err != nil {
		return Outcome{}, fmt.Errorf("pacer: %w", err)
	}
	if wait > 0 {
		return Outcome{Result: ResultSnoozed, Wait: wait, Reason: "number throughput"}, nil
	}

	token, err := d.vault.Open(ctx, m.Number.Token, domain.SecretBinding{WorkspaceID: m.Number.WorkspaceID,
		Purpose: domain.PurposeAccessToken, PhoneNumberID: m.Number.PhoneNumberID})
	if err != nil {
		return Outcome{}, fmt.Errorf("open token: %w", err)
	}
	out := m.Outbound()
	if id, ours := OurMediaID(m.Content); ours && isMedia(m.Type) {
		metaID, err := d.mediaID(ctx, m, id, string(token))
		var me *domain.MetaError
		switch {
		case err == nil:
			out.Content = withMediaID(m.Content, metaID)
		case domain.IsKind(err, domain.KindNotFound) || domain.IsKind(err, domain.KindInvalidState):
			return d.fail(ctx, m, domain.MessageError{Title: "Media unavailable",
				Detail: "The media file named by media_id is not stored (" + domain.TruncateRunes(err.Error(), 200) + ")."})
		case errors.As(err, &me):
			return d.onError(ctx, m, err, lastAttempt) // Meta refused the upload as it would the send
		default:
			return Outcome{}, fmt.Errorf("media: %w", err)
		}
	}
	if ok, err := d.outbox.Attempt(ctx, m.WorkspaceID, m.ID, m.AttemptedAt, d.now().UTC()); err != nil || !ok {
		if err != nil {
			return Outcome{}, fmt.Errorf("record attempt: %w", err)
		}
		return Outcome{Result: ResultSkipped, Reason: "another run is sending it"}, nil
	}
	wamid, err := d.graph.SendMessage(ctx, string(token), m.Number.PhoneNumberID, out)
	if err == nil {
		return d.recordSent(ctx, m, wamid)
	}
	res, rerr := d.onError(ctx, m, err, lastAttempt)
	var me *domain.MetaError
	if errors.As(err, &me) && me.MayHaveActed {
		return res, rerr // the attempt stays: the next run waits for Meta's word on it
	}
	if rerr != nil || res.Result == ResultSnoozed {
		// Meta refused it: nothing was sent, and the next run sends it.
		if err := d.outbox.ClearAttempt(context.WithoutCancel(ctx), m.WorkspaceID, m.ID); err != nil {
			return Outcome{}, fmt.Errorf("clear attempt: %w", err)
		}
	}
	return res, rerr
}

// outcomeWait is how long a run that finds an unanswered attempt made at `at` snoozes
// before it looks again (at most OutcomeCheck): zero once OutcomeWait is over.
func (d *Dispatcher) outcomeWait(at time.Time) time.Duration {
	if d.started.After(at) {
		at = d.started
	}
	return min(max(at.Add(OutcomeWait).Sub(d.now()), 0), OutcomeCheck)
}

// mediaID is the Meta id of a stored file for m's number.
func (d *Dispatcher) mediaID(ctx context.Context, m MessageToSend, id domain.ID, token string) (string, error) {
	if d.media == nil {
		return "", domain.NotFound("media")
	}
	return d.media.SendableID(ctx, m.WorkspaceID, id, m.Number, token)
}

func (d *Dispatcher) onError(ctx context.Context, m MessageToSend, err error, lastAttempt bool) (Outcome, error) {
	var me *domain.MetaError
	if !errors.As(err, &me) {
		if lastAttempt {
			return d.fail(ctx, m, domain.MessageError{Title: "Send failed", Detail: "Meta could not be reached: " + domain.TruncateRunes(err.Error(), 200)})
		}
		return Outcome{}, err
	}
	metaErr := domain.MessageError{Code: me.Code, Title: me.Title, Detail: me.Detail}
	switch me.Class {
	case domain.MetaThrottled:
		if me.Code == 131056 {
			// The pair limit concerns this recipient only: wait 4^n seconds (Meta's advice),
			// n counting the refusals for this number and recipient in the last minutes.
			n, serr := d.pacer.Strike(ctx, "pair:"+m.Number.PhoneNumberID+":"+m.To+m.BSUID)
			if serr != nil {
				n = 1
			}
			if n > maxPairStrikes {
				return d.fail(ctx, m, metaErr)
			}
			return Outcome{Result: ResultSnoozed, Code: me.Code, Wait: PairBackoff(n - 1), Reason: "pair rate limit"}, nil
		}
		wait := me.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		return Outcome{Result: ResultSnoozed, Code: me.Code, Wait: jitter(wait), Reason: "throttled"}, nil
	case domain.MetaRetry:
		if lastAttempt {
			return d.fail(ctx, m, metaErr)
		}
		return Outcome{}, err
	case domain.MetaAuth:
		out, ferr := d.fail(ctx, m, metaErr)
		if ferr != nil {
			return out, ferr
		}
		reason := fmt.Sprintf("Meta rejected the access token while sending a message (code %d); reconnect the number", me.Code)
		if err := d.outbox.FlagReconnect(context.WithoutCancel(ctx), m.WorkspaceID, m.Number.ID, reason); err != nil {
			d.log.ErrorContext(ctx, "flag number for reconnection", "number_id", m.Number.ID.String(), "err", err)
		}
		return out, nil
	}
	// MetaFinal and MetaStop: this send will not succeed; the number-level problems of
	// MetaStop are logged for operators (and surface on the number at its next sync).
	if me.Class == domain.MetaStop {
		d.log.ErrorContext(ctx, "number cannot send", "phone_number_id", m.Number.PhoneNumberID, "code", me.Code, "title", me.Title)
	}
	return d.fail(ctx, m, metaErr)
}

// recordSent stores the wamid, retrying briefly: once Meta accepted, the job must not be
// retried (that would send twice), so a store that stays down leaves the message queued
// for the status webhook to complete.
func (d *Dispatcher) recordSent(ctx context.Context, m MessageToSend, wamid string) (Outcome, error) {
	ctx = context.WithoutCancel(ctx)
	from := m.Status
	at := d.now().UTC()
	var err error
	for i := 0; i < 5; i++ {
		var ok bool
		to := from.Advance(domain.StatusSent)
		if ok, err = d.markSent(ctx, m, wamid, at, from, to); err == nil {
			if ok {
				return Outcome{Result: ResultSent}, nil
			}
			if from, err = d.outbox.Status(ctx, m.WorkspaceID, m.ID); err == nil {
				continue
			}
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	d.log.ErrorContext(ctx, "meta accepted a message but its wamid could not be stored", "message_id", m.ID.String(), "wamid", wamid, "err", err)
	return Outcome{Result: ResultSkipped, Reason: "wamid not stored"}, nil
}

// markSent stores the wamid and folds in the statuses Meta reported before it (ok is false
// when the status is no longer from). A campaign message does it in one transaction with
// its recipient; for another, a failure to fold is only logged: the wamid is stored, and
// later webhooks bring the rest.
func (d *Dispatcher) markSent(ctx context.Context, m MessageToSend, wamid string, at time.Time, from, to domain.MessageStatus) (bool, error) {
	if m.CampaignID == nil || d.results == nil {
		ok, early, err := d.outbox.MarkSent(ctx, m.WorkspaceID, m.ID, wamid, at, from, to)
		if ok && len(early) > 0 {
			if err := d.outbox.ApplyReported(ctx, m.WorkspaceID, m.ID, to, Fold(to, early)); err != nil {
				d.log.WarnContext(ctx, "fold early statuses", "message_id", m.ID.String(), "err", err)
			}
		}
		return ok, err
	}
	var ok bool
	err := d.results.InTx(ctx, func(ctx context.Context, r ResultRepos) error {
		var early []ReportedStatus
		var err error
		if ok, early, err = r.Outbox.MarkSent(ctx, m.WorkspaceID, m.ID, wamid, at, from, to); err != nil || !ok {
			return err
		}
		now := m.asMessage(to, nil)
		now.WAMID = wamid // Meta took it: a failure reported since is not the send's answer
		if len(early) > 0 {
			u := Fold(to, early)
			if err := r.Outbox.ApplyReported(ctx, m.WorkspaceID, m.ID, to, u); err != nil {
				return err
			}
			now.Status, now.Error, now.DeliveredAt, now.ReadAt = u.Status, u.Error, u.DeliveredAt, u.ReadAt
		}
		return r.Campaigns.Advanced(ctx, []domain.Message{now})
	})
	return ok, err
}

// markFailed records a failure, in one transaction with a campaign message's recipient and
// a template's held price.
func (d *Dispatcher) markFailed(ctx context.Context, m MessageToSend, e domain.MessageError, at time.Time, ev domain.Occurrence, hold time.Time) error {
	if (m.CampaignID == nil && m.Type != TypeTemplate) || d.results == nil {
		return d.outbox.MarkFailed(ctx, m.WorkspaceID, m.ID, e, at, ev, hold)
	}
	return d.results.InTx(ctx, func(ctx context.Context, r ResultRepos) error {
		if err := r.Outbox.MarkFailed(ctx, m.WorkspaceID, m.ID, e, at, ev, hold); err != nil {
			return err
		}
		failed := []domain.Message{m.asMessage(domain.StatusFailed, &e)}
		if m.CampaignID != nil && r.Campaigns != nil {
			if err := r.Campaigns.Advanced(ctx, failed); err != nil {
				return err
			}
		}
		if m.Type != TypeTemplate || r.Billing == nil {
			return nil
		}
		return r.Billing.Failed(ctx, failed) // the wallet's lock last, as everywhere
	})
}

// asMessage is what the campaign results need of m at status s.
func (m MessageToSend) asMessage(s domain.MessageStatus, e *domain.MessageError) domain.Message {
	return domain.Message{ID: m.ID, WorkspaceID: m.WorkspaceID, ContactID: m.ContactID, CampaignID: m.CampaignID,
		Direction: domain.Outbound, Status: s, Error: e}
}

func (d *Dispatcher) fail(ctx context.Context, m MessageToSend, e domain.MessageError) (Outcome, error) {
	now := d.now().UTC()
	ev := domain.Occurred(domain.SystemIn(m.WorkspaceID), now, domain.MessageStatusChanged{
		MessageID: m.ID, ContactID: m.ContactID, Status: m.Status.Advance(domain.StatusFailed), Previous: m.Status,
		Type: m.Type, Error: &e})
	var hold time.Time
	if e.Code == domain.MarketingLimitCode {
		hold = now.Add(domain.MarketingHold)
	}
	if err := d.markFailed(context.WithoutCancel(ctx), m, e, now, ev, hold); err != nil {
		return Outcome{}, err
	}
	return Outcome{Result: ResultFailed, Code: e.Code, Reason: e.Title}, nil
}

// Fold applies status reports to a message at status `from` (domain.Message.ApplyReport:
// monotonic status, the earliest time of each status, Meta's first error for failed).
func Fold(from domain.MessageStatus, reports []ReportedStatus) DeliveryUpdate {
	m := domain.Message{Status: from}
	for _, r := range reports {
		st, ok := domain.ParseMessageStatus(r.Status)
		if !ok {
			continue
		}
		var e *domain.MessageError
		if st == domain.StatusFailed {
			e = r.Error
		}
		m.ApplyReport(st, r.At, e)
	}
	return DeliveryUpdate{Status: m.Status, DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt, FailedAt: m.FailedAt, Error: m.Error}
}

// PairBackoff is Meta's advice after a pair-limit refusal: 4^n seconds, capped at 15 minutes.
func PairBackoff(n int) time.Duration {
	d := time.Second
	for range max(n, 0) {
		d *= 4
		if d >= 15*time.Minute {
			return 15 * time.Minute
		}
	}
	return d
}

// jitter spreads retries of many throttled jobs over up to a quarter more than d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}
