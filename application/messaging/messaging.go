// Package messaging holds the outbound message use cases: the send API (checks in the order
// API.md gives, then the message row, its event (and audit entry) and its send job in one transaction),
// reading messages, and the delivery of a queued message to Meta by the send worker.
//
// Agents: an agent may message only the contacts assigned to them. A contact_id outside
// that view, or a phone number that belongs to a contact assigned to someone else, is 404
// not_found (API.md: never 403 for what the caller may not see). A phone number no contact
// has yet creates the contact assigned to the agent, as POST .../contacts does for agents.
package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/phone"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// IdempotencyTTL is how long an Idempotency-Key replays its first answer.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// Service is the send and read use cases.
type Service struct {
	tx         TxRunner
	contacts   Contacts
	workspaces Workspaces
	numbers    Numbers
	messages   MessageStore
	templates  Templates
	quota      Quota
	idem       IdempotencyKeys
	authz      authz.Authorizer
	media      MediaFiles
	now        func() time.Time
}

// Deps are the ports of the send and read use cases.
type Deps struct {
	Tx          TxRunner
	Contacts    Contacts
	Workspaces  Workspaces
	Numbers     Numbers
	Messages    MessageStore
	Templates   Templates
	Quota       Quota
	Idempotency IdempotencyKeys
	Authz       authz.Authorizer
	// Media checks sends by our media id; nil refuses them (a test without media).
	Media MediaFiles
	// Now is the time the rules read (the service window, the frequency caps); nil is time.Now.
	Now domain.Clock
}

// NewService returns the use cases.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{tx: d.Tx, contacts: d.Contacts, workspaces: d.Workspaces, numbers: d.Numbers, messages: d.Messages,
		templates: d.Templates, quota: d.Quota, idem: d.Idempotency, authz: d.Authz, media: d.Media, now: now}
}

// purgeBatch bounds each delete so the purge never holds long locks.
const purgeBatch = 5000

// PurgeIdempotencyKeys deletes expired idempotency keys in batches and returns how many.
func (s *Service) PurgeIdempotencyKeys(ctx context.Context) (int, error) {
	total, now := 0, s.now()
	for {
		n, err := s.idem.DeleteExpired(ctx, now, purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// SendInput is one send request.
type SendInput struct {
	To            string // "+E.164" (any usual format) or a contact id
	PhoneNumberID string // Meta's id of the business number; "" for the workspace's connected one
	Type          string
	Content       json.RawMessage // the object named after Type
	// IdempotencyKey, when set, makes a retry with the same RequestHash replay the first
	// answer; RequestHash is the transport's digest of the request body.
	IdempotencyKey string
	RequestHash    []byte
	// Automatic, set by SendAutomatic only, is the automation answering an inbound message:
	// recorded in the send's transaction (one per trigger and automation), and named in the
	// audit entry of message.queued.
	Automatic *domain.AutomaticReply
}

// ErrAlreadyAnswered is SendAutomatic's answer when the automation already answered the
// inbound message (a retried evaluation): nothing new was queued.
var ErrAlreadyAnswered = errors.New("messaging: the automation already answered this message")

// SendAutomatic queues an automation's message to a contact as the system: the checks and
// the transaction of every send (the plan's quota, the connected number, the opt-out, the
// template catalogue, the 24-hour window), without a caller's permission, and with the
// automatic reply recorded in the same transaction (ErrAlreadyAnswered when one of its
// trigger and automation exists). in.Automatic says which automation answers which
// inbound message; in.To is the contact's id and in.PhoneNumberID the number it wrote to.
func (s *Service) SendAutomatic(ctx context.Context, ws domain.ID, in SendInput) (domain.Message, error) {
	if in.Automatic == nil {
		return domain.Message{}, errors.New("messaging: SendAutomatic without its automation")
	}
	in.IdempotencyKey, in.RequestHash = "", nil
	var res SendResult
	err := s.send(ctx, domain.SystemIn(ws), in, "", &res)
	return res.Message, err
}

// SendResult is the outcome of a send. Quota is set once the request was counted, even
// when Send also returns an error (the transport reports it on every answer).
type SendResult struct {
	Message  domain.Message
	Quota    *QuotaState
	Replayed bool // an Idempotency-Key replay: nothing new was queued
}

// QuotaKey is the rate-limit counter of a workspace's sends. The plan is not part of the
// key: a plan change keeps the count and applies the new limit at once.
func QuotaKey(ws domain.ID) string { return "quota:messages:" + ws.String() }

// Send queues one outbound message. Refusals, in API.md's order: 403 forbidden (and 404 for
// a contact outside an agent's view), 429 rate_limited, 409 whatsapp_not_connected, 403
// opted_out, then for a template the catalogue's word (422 template_not_found,
// template_not_approved, validation_failed for parameters that do not fit), 422
// outside_service_window, 422 validation_failed, and last, for a MARKETING template, 429
// frequency_capped (counted in the send's transaction). A request past the quota check
// counts against the quota whatever its outcome; an idempotent replay does not.
func (s *Service) Send(ctx context.Context, c domain.Caller, in SendInput) (SendResult, error) {
	var res SendResult
	if err := authz.Require(s.authz, c, access.MessagesSend); err != nil {
		return res, err
	}
	key := strings.TrimSpace(in.IdempotencyKey)
	if in.IdempotencyKey != "" {
		if key == "" || len(key) > MaxIdempotencyKey {
			return res, &domain.Error{Kind: domain.KindValidation, Message: "invalid Idempotency-Key",
				Fields: []domain.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 characters"}}}
		}
		if done, err := s.replay(ctx, c, key, in.RequestHash, &res); done || err != nil {
			return res, err
		}
	}

	for attempt := 0; ; attempt++ {
		err := s.send(ctx, c, in, key, &res)
		// Two first sends to the same new phone race to create its contact, and two requests
		// with one Idempotency-Key race to store it: the loser looks again and finds the
		// winner's row.
		if attempt == 0 && domain.IsKind(err, domain.KindContactExists) {
			continue
		}
		if key != "" && domain.IsKind(err, domain.KindConflict) {
			if done, rerr := s.replay(ctx, c, key, in.RequestHash, &res); done || rerr != nil {
				return res, rerr
			}
		}
		return res, err
	}
}

// replay answers from a stored Idempotency-Key: done is true when it did.
func (s *Service) replay(ctx context.Context, c domain.Caller, key string, hash []byte, res *SendResult) (bool, error) {
	rec, ok, err := s.idem.Find(ctx, c.WorkspaceID, key)
	if err != nil || !ok {
		return false, err
	}
	if !bytes.Equal(rec.RequestHash, hash) {
		return true, domain.Errorf(domain.KindIdempotencyMismatch,
			"this Idempotency-Key was used with another request body in the last 24 hours")
	}
	var m domain.Message
	if err := json.Unmarshal(rec.Body, &m); err != nil {
		return true, err
	}
	res.Message, res.Replayed = m, true
	if st, err := s.quota.Peek(ctx, QuotaKey(c.WorkspaceID), s.planLimit(ctx, c.WorkspaceID)); err == nil {
		res.Quota = &st
	}
	return true, nil
}

func (s *Service) planLimit(ctx context.Context, ws domain.ID) int {
	w, err := s.workspaces.Workspace(ctx, ws)
	if err != nil {
		return domain.PlanFree.MessagesPerMinute()
	}
	return w.Plan.MessagesPerMinute()
}

// target is who a send goes to: an existing contact, or a phone that has none yet.
type target struct {
	contact *domain.Contact
	phone   string // E.164 of a new contact
}

func (s *Service) send(ctx context.Context, c domain.Caller, in SendInput, key string, res *SendResult) error {
	// Permission includes visibility: a contact outside the caller's view is not found.
	tgt, toErr := s.resolve(ctx, c, in.To)
	if toErr != nil && !domain.IsKind(toErr, domain.KindValidation) {
		return toErr
	}

	w, err := s.workspaces.Workspace(ctx, c.WorkspaceID)
	if err != nil {
		return err
	}
	st, err := s.quota.Take(ctx, QuotaKey(c.WorkspaceID), w.Plan.MessagesPerMinute())
	if err != nil {
		return domain.Errorf(domain.KindUnavailable, "the rate limiter is not answering; try again")
	}
	res.Quota = &st
	now := s.now().UTC()
	if st.Reached {
		return &domain.Error{Kind: domain.KindRateLimited, RetryAfter: max(st.Reset.Sub(now), time.Second),
			Message: "the workspace's plan allows " + strconv.Itoa(st.Limit) + " messages a minute"}
	}

	number, err := s.connectedNumber(ctx, c.WorkspaceID, in.PhoneNumberID)
	if err != nil {
		return err
	}

	typ := strings.TrimSpace(in.Type)
	var optOut domain.Suppression
	switch {
	case tgt.contact != nil:
		optOut = tgt.contact.Suppression()
	case tgt.phone != "":
		// A number without a contact may be a deleted contact's: their opt-out still holds.
		if optOut, err = s.contacts.Suppression(ctx, c.WorkspaceID, tgt.phone); err != nil {
			return err
		}
	}
	// A template send names a template of the number's WABA: the catalogue says whether it
	// may go (its status and parameters) and its category (a marketing stop, the caps).
	var tmpl *domain.Template
	var tmplErr error
	if typ == TypeTemplate {
		if ref := templateOf(in.Content); ref.Name != "" && ref.Language != "" {
			t, err := s.templates.Template(ctx, c.WorkspaceID, number.WABAID, ref.Name, ref.Language)
			switch {
			case err == nil:
				tmpl = &t
			case domain.IsKind(err, domain.KindNotFound):
				tmplErr = TemplateNotFound(number.WABAID, ref.Name, ref.Language)
			default:
				return err
			}
		}
	}
	marketing := tmpl != nil && domain.IsMarketing(tmpl.Category)
	switch optOut.Refuses(domain.PurposeConversation, marketing) {
	case domain.RefusedOptedOut:
		return domain.Errorf(domain.KindOptedOut, "the contact opted out of messages")
	case domain.RefusedMarketingOptedOut:
		return domain.Errorf(domain.KindOptedOut, "the contact stopped marketing messages")
	}
	if tmplErr != nil {
		return tmplErr
	}
	if tmpl != nil {
		if err := CheckTemplate(*tmpl, in.Content); err != nil {
			return err
		}
	}
	if toErr == nil && typ != TypeTemplate && (tgt.contact == nil || !tgt.contact.InServiceWindow(now)) {
		return domain.Errorf(domain.KindOutsideWindow,
			"the contact's last message is more than 24 hours old or absent: only a template may be sent")
	}

	content, err := validate(in, typ, toErr)
	if err != nil {
		return err
	}
	if err := s.checkMedia(ctx, c, typ, content); err != nil {
		return err
	}

	m := domain.Message{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, PhoneNumberID: number.PhoneNumberID,
		Direction: domain.Outbound, Type: typ, Content: content, Status: domain.StatusQueued, CreatedAt: now}
	if tmpl != nil {
		m.Category = tmpl.Category
	}
	var newContact *domain.Contact
	if tgt.contact != nil {
		m.ContactID = tgt.contact.ID
	} else {
		ct := domain.Contact{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, Phone: tgt.phone, WaID: phone.WaID(tgt.phone),
			Tags: []string{}, Attributes: map[string]any{}, CreatedAt: now, UpdatedAt: now}
		ct.AssignedTo = contacts.ViewOf(c).AssignedTo // an agent's new contact is theirs
		newContact, m.ContactID = &ct, ct.ID
	}
	// Round to what Postgres stores so a replay renders exactly the first answer.
	m.CreatedAt = m.CreatedAt.Truncate(time.Microsecond)

	queued := domain.MessageQueued{MessageID: m.ID, ContactID: m.ContactID, Type: m.Type, PhoneNumberID: m.PhoneNumberID}
	var auto *domain.AutomaticReply
	if in.Automatic != nil {
		a := *in.Automatic
		a.WorkspaceID, a.ContactID, a.PhoneNumberID, a.MessageID, a.CreatedAt = c.WorkspaceID, m.ContactID, m.PhoneNumberID, &m.ID, now
		auto, queued.Automation, queued.Trigger = &a, a.Automation, &a.TriggerID
	}

	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if auto != nil {
			if r.Automatic == nil {
				return errors.New("messaging: no automatic replies store in the transaction")
			}
			if err := r.Automatic.Record(ctx, *auto); err != nil {
				if domain.IsKind(err, domain.KindConflict) {
					return ErrAlreadyAnswered
				}
				return err
			}
		}
		// The caps: only a marketing template to a contact with a history pays for the lock.
		if marketing && tgt.contact != nil {
			h, caps, err := r.Marketing.LockMarketing(ctx, c.WorkspaceID, tgt.contact.ID, now.Add(-7*24*time.Hour))
			if err != nil {
				return err
			}
			if err := domain.FrequencyCap(h, caps, now); err != nil {
				return err
			}
		}
		if key != "" {
			snap, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := r.Idempotency.Save(ctx, IdempotencyRecord{WorkspaceID: c.WorkspaceID, Key: key,
				RequestHash: in.RequestHash, Status: 202, Body: snap, CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)}); err != nil {
				return err
			}
		}
		if newContact != nil {
			if _, err := r.Contacts.Create(ctx, *newContact); err != nil {
				return err
			}
			if err := r.Events.Append(ctx, domain.Occurred(c, now, domain.ContactCreated{ContactID: newContact.ID,
				Phone: newContact.Phone, Source: "message"})); err != nil {
				return err
			}
		}
		if err := r.Messages.Queue(ctx, m, domain.Occurred(c, now, queued)); err != nil {
			return err
		}
		// A template is what Meta charges for: a prepaid wallet holds its price (last: the
		// wallet's lock is held to the commit).
		if tmpl != nil && r.Wallet != nil {
			to := tgt.phone
			if tgt.contact != nil {
				to = tgt.contact.Phone
			}
			hold := domain.Hold{MessageID: m.ID, Market: phone.Market(to), Category: domain.PricingCategory(tmpl.Category)}
			if err := r.Wallet.Reserve(ctx, c.WorkspaceID, []domain.Hold{hold}, now); err != nil {
				return err
			}
		}
		return r.Jobs.EnqueueSendPriority(ctx, c.WorkspaceID, m.ID, priority(st))
	})
	if err != nil {
		return err
	}
	res.Message = m
	return nil
}

// priority is the River priority of a send job, from how many sends the workspace made in
// the current minute. River works a queue by priority first, then by schedule: a workspace
// sending a broadcast (hundreds or thousands a minute) queues behind every workspace that
// sends a handful, so a single reply from another workspace is fetched by the next free
// worker, seconds at most, however deep the broadcast's backlog (the jobs of the broadcast
// keep their order among themselves, and per-number pacing snoozes them, not others).
func priority(st QuotaState) int {
	used := st.Limit - st.Remaining
	switch {
	case used <= 30:
		return 1
	case used <= 300:
		return 2
	case used <= 3000:
		return 3
	}
	return 4
}

// resolve finds the contact a send goes to. A `to` that is neither an id nor a phone is a
// validation error, reported after the other checks (API.md's order).
func (s *Service) resolve(ctx context.Context, c domain.Caller, to string) (target, error) {
	to = strings.TrimSpace(to)
	if to == "" {
		var v domain.Validator
		v.Add("to", "is required: a phone number in E.164 or a contact id")
		return target{}, v.Err()
	}
	if id, err := domain.ParseID(to); err == nil {
		ct, err := s.contacts.Get(ctx, c.WorkspaceID, id, contacts.ViewOf(c), false)
		if err != nil {
			return target{}, err
		}
		return target{contact: &ct}, nil
	}
	e164, err := phone.Normalize(to)
	if err != nil {
		var v domain.Validator
		v.Add("to", "must be a phone number in E.164 (+14155550100) or a contact id")
		return target{}, v.Err()
	}
	list, err := s.contacts.List(ctx, c.WorkspaceID, contacts.Filter{Phone: e164}, contacts.View{}, 1)
	if err != nil {
		return target{}, err
	}
	if len(list) == 0 {
		return target{phone: e164}, nil
	}
	ct := list[0]
	if !contacts.ViewOf(c).Allows(ct) {
		return target{}, domain.NotFound("contact")
	}
	return target{contact: &ct}, nil
}

// TemplateNotFound is the refusal of a send naming a template the WABA does not have.
func TemplateNotFound(wabaID, name, language string) error {
	return domain.Errorf(domain.KindTemplateNotFound, "WABA %s has no template %q in %s", wabaID, name, language)
}

// CheckTemplate refuses what Meta would of a send of t with content (Graph's template
// object): t not APPROVED, or the parameters not fitting it.
func CheckTemplate(t domain.Template, content json.RawMessage) error {
	if t.Status != domain.TemplateApproved {
		return domain.Errorf(domain.KindTemplateNotApproved, "template %q (%s) is %s, not APPROVED", t.Name, t.Language, t.Status)
	}
	if sent, ok := SentComponents(content); ok {
		if fields := domain.CheckTemplateSend(t, sent); len(fields) > 0 {
			return &domain.Error{Kind: domain.KindValidation, Message: "the parameters do not fit the template", Fields: fields}
		}
	}
	return nil
}

// checkMedia checks a media send by our media id (a stored file): the caller must see it
// and the type must carry it. Meta's ids (digits) and links are Meta's to check.
func (s *Service) checkMedia(ctx context.Context, c domain.Caller, typ string, content json.RawMessage) error {
	if !isMedia(typ) {
		return nil
	}
	id, ours := OurMediaID(content)
	if !ours {
		return nil
	}
	if s.media == nil {
		var v domain.Validator
		v.Add(typ+".media_id", "is not a media id of this workspace")
		return v.Err()
	}
	return s.media.CheckSendable(ctx, c, id, typ, typ+".media_id")
}

// connectedNumber is the number to send from: the given one, which must be the workspace's
// and connected, or the workspace's first connected number.
func (s *Service) connectedNumber(ctx context.Context, ws domain.ID, phoneNumberID string) (domain.PhoneNumber, error) {
	nums, err := s.numbers.List(ctx, ws)
	if err != nil {
		return domain.PhoneNumber{}, err
	}
	return ConnectedNumber(nums, phoneNumberID)
}

// ConnectedNumber picks the number to send from among a workspace's: the given one, which
// must be connected, or (phoneNumberID empty) the first connected one.
func ConnectedNumber(nums []domain.PhoneNumber, phoneNumberID string) (domain.PhoneNumber, error) {
	want := strings.TrimSpace(phoneNumberID)
	for _, n := range nums {
		if n.Status == domain.NumberConnected && (want == "" || n.PhoneNumberID == want) {
			return n, nil
		}
	}
	if want != "" {
		return domain.PhoneNumber{}, domain.Errorf(domain.KindNotConnected, "phone number %s is not a connected number of this workspace", domain.TruncateRunes(want, 64))
	}
	return domain.PhoneNumber{}, domain.Errorf(domain.KindNotConnected, "the workspace has no connected WhatsApp number")
}

func validate(in SendInput, typ string, toErr error) (json.RawMessage, error) {
	var v domain.Validator
	var de *domain.Error
	if errors.As(toErr, &de) {
		for _, f := range de.Fields {
			v.Add(f.Field, f.Message)
		}
	}
	var content json.RawMessage
	switch {
	case typ == "":
		v.Add("type", "is required: text, template, image, document, audio, video or interactive")
	case !knownType(typ):
		v.Add("type", "must be one of text, template, image, document, audio, video, interactive")
	default:
		content = normalizeContent(typ, in.Content, &v)
	}
	if p := strings.TrimSpace(in.PhoneNumberID); len(p) > 32 {
		v.Add("phone_number_id", "is not Meta's numeric id")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return content, nil
}

// Get returns one message inside the caller's view (an agent's: their contacts' messages).
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (domain.Message, error) {
	if err := authz.Require(s.authz, c, access.MessagesRead); err != nil {
		return domain.Message{}, err
	}
	m, err := s.messages.GetMessage(ctx, c.WorkspaceID, id)
	if err != nil {
		return domain.Message{}, err
	}
	if v := contacts.ViewOf(c); v.AssignedTo != nil {
		if _, err := s.contacts.Get(ctx, c.WorkspaceID, m.ContactID, v, false); err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Message{}, domain.NotFound("message")
			}
			return domain.Message{}, err
		}
	}
	return m, nil
}

// ListByContact pages through a contact's messages, newest first.
func (s *Service) ListByContact(ctx context.Context, c domain.Caller, contactID domain.ID, limit int, cursor domain.ID) (domain.Page[domain.Message], error) {
	if err := authz.Require(s.authz, c, access.MessagesRead); err != nil {
		return domain.Page[domain.Message]{}, err
	}
	if _, err := s.contacts.Get(ctx, c.WorkspaceID, contactID, contacts.ViewOf(c), false); err != nil {
		return domain.Page[domain.Message]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Message, error) {
		return s.messages.ListByContact(ctx, c.WorkspaceID, contactID, cursor, n)
	}, func(m domain.Message) domain.ID { return m.ID })
}
