// Package inbound processes Meta's webhooks once they are durably queued and translated
// into domain terms (a domain.Notification per body, by adapters/meta): it routes each change
// to the workspace that owns the number or the WABA, stores inbound messages and their
// contacts, applies status reports to outbound messages, honours opt-out keywords, and
// applies template, number and account events. What happened goes to the event log as
// domain events (a message received, a status applied, a contact created or opted out, a
// confirmation queued), in the same transaction; consumers read them there, not here.
//
// A webhook body is processed in one transaction (alone, or with others in a batch), so a
// failure (retried by the queue) leaves nothing half done, and everything is idempotent
// across redeliveries: messages are deduplicated by wamid, statuses by (wamid, status),
// account events by a key derived from their content; an opt-out or opt-in acts only when
// it changes the contact.
//
// Profile names: the WhatsApp profile name fills a contact's name only while the contact has
// none. A name the team typed (or one seen earlier) is never overwritten by what the user
// calls themselves on WhatsApp, which they can change at any time.
package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/optout"
)

// Default confirmations, sent when the workspace has not set its own text.
const (
	DefaultOptOutConfirmation = "You have been unsubscribed and will not receive further messages. Reply START to resubscribe."
	DefaultOptInConfirmation  = "You have been resubscribed and will receive our messages again. Reply STOP to unsubscribe."
)

// Service is the inbound processing use case.
type Service struct {
	tx        TxRunner
	metrics   Metrics
	templates TemplateCache
	now       func() time.Time
}

// NewService returns the inbound processing, counting into m.
func NewService(tx TxRunner, m Metrics) *Service {
	return &Service{tx: tx, metrics: m, now: time.Now}
}

// WithTemplateCache makes processing invalidate c for every WABA whose templates Meta
// reported on, once the processing transaction committed.
func (s *Service) WithTemplateCache(c TemplateCache) *Service {
	s.templates = c
	return s
}

// Process handles one webhook body. An error is transient: the whole body may be processed
// again. (A body that cannot be read at all never gets here: the edge refuses it.)
func (s *Service) Process(ctx context.Context, n domain.Notification) error {
	return s.process(ctx, []*domain.Notification{&n})
}

// ProcessAll handles several bodies in one transaction and returns each body's error, as
// Process would. Under load this is what makes processing keep up: the transaction's
// begin and commit, and the lookup of a number, are shared by the whole batch. When the
// batch fails it is processed again one body at a time, so a body that cannot be
// processed fails alone and the others are not held back.
func (s *Service) ProcessAll(ctx context.Context, ns []domain.Notification) []error {
	errs := make([]error, len(ns))
	if len(ns) == 0 {
		return errs
	}
	envs := make([]*domain.Notification, len(ns))
	for i := range ns {
		envs[i] = &ns[i]
	}
	// Concurrent batches must lock contacts and messages in one order, or two of them
	// wait for each other until Postgres aborts one (a second later). Bodies of different
	// jobs have no order between them (River runs them concurrently), so sorting is free.
	sorted := slices.Clone(envs)
	slices.SortStableFunc(sorted, func(a, b *domain.Notification) int { return strings.Compare(lockKey(a), lockKey(b)) })
	err := s.process(ctx, sorted)
	if err == nil {
		return errs
	}
	if len(envs) == 1 || ctx.Err() != nil {
		// Alone already, or out of time: each body's job is retried by the queue.
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, env := range envs {
		errs[i] = s.process(ctx, []*domain.Notification{env})
	}
	return errs
}

// lockKey orders a batch's bodies by the row their first event locks: account events
// first, then messages by their sender (whose contact they lock), then statuses by the
// wamid of the message they lock. A body of several events from different senders can
// still meet another in a circle; the transaction runner retries such a deadlock.
func lockKey(n *domain.Notification) string {
	for i := range n.Changes {
		ch := &n.Changes[i]
		if len(ch.Messages) > 0 {
			from := ch.Messages[0].Sender
			return "1/" + from.WaID + "/" + from.BSUID + "/" + ch.PhoneNumberID
		}
		if len(ch.Statuses) > 0 {
			return "2/" + ch.Statuses[0].WAMID
		}
	}
	return "0"
}

// process applies envs in order in one transaction.
func (s *Service) process(ctx context.Context, envs []*domain.Notification) error {
	var done *run
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		done = &run{s: s, r: r, now: s.now().UTC(), routes: map[string]routed{}}
		for _, env := range envs {
			for i := range env.Changes {
				if err := done.change(ctx, &env.Changes[i]); err != nil {
					return err
				}
			}
		}
		if err := done.flushArrivals(ctx); err != nil {
			return err
		}
		if err := done.flushCampaigns(ctx); err != nil {
			return err
		}
		if err := done.flushMedia(ctx); err != nil {
			return err
		}
		return done.flushBilling(ctx)
	})
	if err != nil {
		return err
	}
	done.report(s.metrics) // only what committed is counted
	if s.templates != nil {
		for _, w := range done.templates {
			s.templates.Invalidate(w.ws, w.waba)
		}
	}
	return nil
}

// run is the state of one processing attempt: what it counted, reported once it commits.
type run struct {
	s      *Service
	r      Repos
	now    time.Time
	routes map[string]routed // by phone_number_id: a batch's bodies share their lookups

	arrivals []domain.Arrival // inbound messages stored, for their conversations
	advanced []domain.Message // campaign messages whose status moved, for their recipients
	replies  []domain.Arrival // every inbound message stored, for the campaigns it may answer
	priced   []domain.Priced  // messages Meta priced, for the usage ledger
	failed   []domain.Message // messages that failed, whose reservations are released
	media    []domain.Message // inbound messages stored that carry a file, to download
	spent    []domain.Spend   // what the ledger charged, counted once committed

	unrouted      []string
	unknownStatus int
	optedOut      int
	optedIn       int
	notifErrors   []int
	templates     []wabaOf // WABAs whose templates were reported on
}

type wabaOf struct {
	ws   domain.ID
	waba string
}

func (p *run) report(m Metrics) {
	for _, k := range p.unrouted {
		m.Unrouted(k)
	}
	for range p.unknownStatus {
		m.UnknownStatus()
	}
	for range p.optedOut {
		m.OptedOut()
	}
	for range p.optedIn {
		m.OptedIn()
	}
	for _, c := range p.notifErrors {
		m.NotificationError(c)
	}
	for _, sp := range p.spent {
		m.Charged(sp)
	}
}

func (p *run) change(ctx context.Context, ch *domain.Change) error {
	switch ch.Kind {
	case domain.NumberChange:
		rt, ok, err := p.route(ctx, ch.PhoneNumberID)
		if err != nil || !ok {
			return err
		}
		return p.numberEvents(ctx, rt, ch)
	case domain.TemplateChange:
		return p.template(ctx, ch)
	}
	return p.account(ctx, ch)
}

// route finds the number a messages-family change belongs to; unknown numbers are counted
// and dropped.
func (p *run) route(ctx context.Context, id string) (Route, bool, error) {
	if id == "" {
		p.unrouted = append(p.unrouted, "phone_number")
		return Route{}, false, nil
	}
	got, cached := p.routes[id]
	if !cached {
		rt, ok, err := p.r.Directory.RouteByPhoneNumberID(ctx, id)
		if err != nil {
			return Route{}, false, err
		}
		got = routed{rt, ok}
		p.routes[id] = got
	}
	if !got.ok {
		p.unrouted = append(p.unrouted, "phone_number")
	}
	return got.Route, got.ok, nil
}

// routed is a cached answer of Directory.RouteByPhoneNumberID (a number's owner and the
// workspace's settings do not change in a webhook transaction).
type routed struct {
	Route
	ok bool
}

// numberEvents applies a number's messages, then its statuses, then its preference changes.
func (p *run) numberEvents(ctx context.Context, rt Route, ch *domain.Change) error {
	n := rt.Number
	for i := range ch.Messages {
		if err := p.message(ctx, rt, &ch.Messages[i]); err != nil {
			return err
		}
	}
	for i := range ch.Statuses {
		if err := p.status(ctx, n, &ch.Statuses[i]); err != nil {
			return err
		}
	}
	for i := range ch.Preferences {
		if err := p.preference(ctx, n, &ch.Preferences[i]); err != nil {
			return err
		}
	}
	p.notifErrors = append(p.notifErrors, ch.ErrorCodes...)
	return nil
}

func (p *run) timeOr(t time.Time) time.Time {
	if t.IsZero() {
		return p.now
	}
	return t
}

// message stores one inbound message (once per wamid) and applies its consequences.
func (p *run) message(ctx context.Context, rt Route, m *domain.InboundMessage) error {
	n := rt.Number
	if m.WAMID == "" {
		p.unrouted = append(p.unrouted, "sender")
		return nil
	}
	// Cheap early exit for redeliveries; the unique index decides in the end.
	if seen, err := p.r.Messages.WAMIDExists(ctx, m.WAMID); err != nil || seen {
		return err
	}
	ws := n.WorkspaceID
	contact, ok, err := p.sender(ctx, ws, m.Sender)
	if err != nil || !ok {
		return err
	}
	at := p.timeOr(m.At)
	typ := m.Type
	msg := domain.Message{
		ID: domain.NewID(), WorkspaceID: ws, ContactID: contact.ID, PhoneNumberID: n.PhoneNumberID,
		Direction: domain.Inbound, Type: typ, Content: m.Content, Raw: m.Raw, Status: domain.StatusReceived,
		WAMID: m.WAMID, CreatedAt: at,
	}
	// A system notice (number or identity changed) is not the user writing to us: it does
	// not open the service window.
	touch := !m.System
	inserted, err := p.r.Messages.ReceiveInbound(ctx, msg, touch, domain.Occurred(customerOf(contact), p.now,
		domain.MessageReceived{MessageID: msg.ID, ContactID: contact.ID, WAMID: m.WAMID, Type: typ}))
	if err != nil || !inserted {
		return err
	}
	p.arrivals = append(p.arrivals, domain.Arrival{Message: msg, Touch: touch})
	p.replies = append(p.replies, domain.Arrival{Message: msg, Touch: touch})
	if domain.IsMediaType(typ) {
		p.media = append(p.media, msg)
	}
	st := rt.Settings
	out := false
	text := orDefault(st.OptInConfirmation, DefaultOptInConfirmation)
	switch optout.DecideMessage(m, st.OptOutKeywords, st.OptInKeywords...) {
	case optout.OptOut:
		out, text = true, orDefault(st.OptOutConfirmation, DefaultOptOutConfirmation)
	case optout.OptIn:
	default:
		return nil
	}
	// The confirmation moves the conversation after the keyword did.
	if err := p.flushArrivals(ctx); err != nil {
		return err
	}
	return p.keywordChange(ctx, n, contact, msg, at, out, text)
}

// flushArrivals hands the messages stored so far to their conversations.
func (p *run) flushArrivals(ctx context.Context) error {
	if len(p.arrivals) == 0 || p.r.Conversations == nil {
		return nil
	}
	err := p.r.Conversations.Received(ctx, p.arrivals, p.now)
	p.arrivals = p.arrivals[:0]
	return err
}

// flushBilling hands the batch's priced and failed messages to billing, last in the
// transaction: the ledger locks wallets, which is best held for the shortest time.
func (p *run) flushBilling(ctx context.Context) error {
	if p.r.Billing == nil || (len(p.priced) == 0 && len(p.failed) == 0) {
		return nil
	}
	if len(p.failed) > 0 {
		if err := p.r.Billing.Failed(ctx, p.failed); err != nil {
			return err
		}
	}
	if len(p.priced) == 0 {
		return nil
	}
	spent, err := p.r.Billing.Priced(ctx, p.priced)
	p.spent = spent
	return err
}

// flushMedia hands the inbound messages that carry a file to media, once per transaction.
func (p *run) flushMedia(ctx context.Context) error {
	if len(p.media) == 0 || p.r.Media == nil {
		return nil
	}
	err := p.r.Media.Received(ctx, p.media, p.now)
	p.media = p.media[:0]
	return err
}

// flushCampaigns hands the campaign messages whose status moved, and the inbound messages
// stored, to campaigns, once per transaction and after every other lock the transaction
// takes but the wallets' (campaigns moves its counters then).
func (p *run) flushCampaigns(ctx context.Context) error {
	if (len(p.advanced) == 0 && len(p.replies) == 0) || p.r.Campaigns == nil {
		return nil
	}
	return p.r.Campaigns.Progressed(ctx, p.advanced, p.replies)
}

// keywordChange opts the contact out (or back in) as the contact's own action, and queues
// exactly one confirmation on the number the keyword came in on; a second STOP sends
// nothing.
func (p *run) keywordChange(ctx context.Context, n Number, c domain.Contact, trigger domain.Message, at time.Time, out bool, text string) error {
	ws := n.WorkspaceID
	confirmation := domain.Message{
		ID: domain.NewID(), WorkspaceID: ws, ContactID: c.ID, PhoneNumberID: n.PhoneNumberID,
		Direction: domain.Outbound, Type: "text", Status: domain.StatusQueued, CreatedAt: p.now,
		Purpose: domain.PurposeOptInConfirmation,
	}
	if out {
		confirmation.Purpose = domain.PurposeOptOutConfirmation
	}
	ev, ok, err := c.Opt(out, domain.OptChange{Source: domain.OptOutKeyword, Trigger: &trigger.ID, WAMID: trigger.WAMID,
		ConfirmationID: &confirmation.ID})
	if err != nil || !ok {
		return err
	}
	if out {
		p.optedOut++
	} else {
		p.optedIn++
	}
	if err := p.r.Contacts.SetOptOut(ctx, ws, c.ID, out, at); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]string{"body": text})
	if err != nil {
		return err
	}
	confirmation.Content = body
	if err := p.r.Outbox.CreateOutbound(ctx, confirmation); err != nil {
		return err
	}
	if err := p.r.Jobs.EnqueueSend(ctx, ws, confirmation.ID); err != nil {
		return err
	}
	return p.r.Events.Append(ctx, domain.Occurred(customerOf(c), p.now, ev),
		domain.Occurred(domain.SystemIn(ws), p.now, domain.MessageQueued{MessageID: confirmation.ID, ContactID: c.ID,
			Type: confirmation.Type, PhoneNumberID: confirmation.PhoneNumberID}))
}

// sender finds (or creates) the contact a message or preference came from; ok is false
// (and it is counted) when Meta named nobody. A contact created here is recorded as the
// customer's own doing.
func (p *run) sender(ctx context.Context, ws domain.ID, from domain.Sender) (c domain.Contact, ok bool, err error) {
	if from.WaID == "" && from.BSUID == "" {
		p.unrouted = append(p.unrouted, "sender")
		return c, false, nil
	}
	c, created, err := p.r.Contacts.FindOrCreate(ctx, ws, NewIdentity(from.WaID, from.BSUID, from.Name), p.now)
	if err != nil || !created {
		return c, err == nil, err
	}
	return c, true, p.r.Events.Append(ctx, domain.Occurred(customerOf(c), p.now,
		domain.ContactCreated{ContactID: c.ID, Phone: c.Phone, Source: "inbound"}))
}

// customerOf is the contact as the actor of what they do.
func customerOf(c domain.Contact) domain.Caller {
	return domain.Caller{Type: domain.ActorContact, ID: c.ID, WorkspaceID: c.WorkspaceID}
}

// status applies one status report to our outbound message, once per (wamid, status).
func (p *run) status(ctx context.Context, n Number, s *domain.StatusReport) error {
	if s.WAMID == "" || s.Status == "" {
		return nil
	}
	ws := n.WorkspaceID
	at := p.timeOr(s.At)
	report := *s
	report.At = at
	fresh, m, ok, err := p.r.Messages.RecordStatus(ctx, ws, report)
	if err != nil || !fresh {
		return err
	}
	next, known := domain.ParseMessageStatus(s.Status)
	if !known {
		return nil // recorded; nothing to advance
	}
	if !ok {
		// Our message id rides in biz_opaque_callback_data: a status for a send whose
		// wamid was never stored (the worker died after Meta accepted) links it here, so
		// the rescued job finds the wamid and does not send again.
		if id, perr := domain.ParseID(s.CallbackData); perr == nil {
			if m, ok, err = p.r.Messages.LinkOutbound(ctx, ws, id, s.WAMID); err != nil {
				return err
			}
		}
	}
	if !ok {
		p.unknownStatus++
		return nil
	}
	before := m.Status
	ApplyStatus(&m, next, at, s.Error, s.Pricing)
	if err := p.r.Messages.UpdateDelivery(ctx, m, domain.Occurred(domain.SystemIn(ws), p.now, domain.MessageStatusChanged{MessageID: m.ID,
		ContactID: m.ContactID, WAMID: s.WAMID, Reported: s.Status, Status: m.Status, Previous: before, Type: m.Type, Error: m.Error})); err != nil {
		return err
	}
	if m.CampaignID != nil && m.Status != before {
		p.advanced = append(p.advanced, m)
	}
	switch {
	case (next == domain.StatusDelivered || next == domain.StatusRead) && s.Billing != nil:
		p.priced = append(p.priced, domain.Priced{WorkspaceID: ws, MessageID: m.ID, PhoneNumberID: n.PhoneNumberID,
			CampaignID: m.CampaignID, Recipient: s.RecipientWaID, Pricing: *s.Billing, At: at})
	case next == domain.StatusFailed && m.Status == domain.StatusFailed && before != domain.StatusFailed:
		p.failed = append(p.failed, m)
	}
	// Meta's per-user marketing limit (131049, reported in the failed status): no marketing
	// template goes to the contact for the next 24 hours, counted from Meta's report.
	if next == domain.StatusFailed && s.Error != nil && s.Error.Code == domain.MarketingLimitCode {
		return p.r.Messages.HoldMarketing(ctx, ws, m.ContactID, at.Add(domain.MarketingHold))
	}
	return nil
}

// ApplyStatus folds one report into m (domain.Message.ApplyReport: the status advances
// monotonically, the report's own timestamp is kept even when it arrives late, a failure
// records Meta's first error e) and keeps the report's pricing.
func ApplyStatus(m *domain.Message, next domain.MessageStatus, at time.Time, e *domain.MessageError, pricing json.RawMessage) {
	m.ApplyReport(next, at, e)
	if len(pricing) > 0 {
		m.Pricing = pricing
	}
}

// preference applies Meta's marketing opt-out (stop) or its end (resume).
func (p *run) preference(ctx context.Context, n Number, up *domain.PreferenceChange) error {
	ws := n.WorkspaceID
	contact, ok, err := p.sender(ctx, ws, up.Sender)
	if err != nil || !ok {
		return err
	}
	ev, ok := contact.MarketingOpt(up.Stop, up.Category)
	if !ok {
		return nil
	}
	if _, err := p.r.Contacts.SetMarketingOptOut(ctx, ws, contact.ID, up.Stop); err != nil {
		return err
	}
	return p.r.Events.Append(ctx, domain.Occurred(customerOf(contact), p.now, ev))
}

// template hands a template status, quality or category event to the templates
// capability; the event's time decides whether it is newer than what is known.
func (p *run) template(ctx context.Context, ch *domain.Change) error {
	nums, err := p.wabaNumbers(ctx, ch.WABAID)
	if err != nil || len(nums) == 0 {
		return err
	}
	v := ch.Template
	if v == nil {
		return nil
	}
	if v.Name == "" || v.Language == "" {
		return nil // nothing to key it by
	}
	ws := nums[0].WorkspaceID
	w := wabaOf{ws, ch.WABAID}
	if !slices.Contains(p.templates, w) {
		p.templates = append(p.templates, w)
	}
	return p.r.Templates.Report(ctx, ws, ch.WABAID, v.Name, v.Language, domain.TemplateReport{At: p.timeOr(ch.At),
		MetaTemplateID: v.MetaTemplateID, Status: v.Status, RejectedReason: v.Reason, Quality: v.QualityScore, Category: v.Category})
}

func (p *run) wabaNumbers(ctx context.Context, wabaID string) ([]NumberInfo, error) {
	nums, err := p.r.Directory.NumbersByWABA(ctx, wabaID)
	if err != nil {
		return nil, err
	}
	if len(nums) == 0 {
		p.unrouted = append(p.unrouted, "waba")
	}
	return nums, nil
}

// account applies number-level events and records every account-level event.
func (p *run) account(ctx context.Context, ch *domain.Change) error {
	nums, err := p.wabaNumbers(ctx, ch.WABAID)
	if err != nil || len(nums) == 0 {
		return err
	}
	a := ch.Account
	if a == nil {
		a = &domain.AccountUpdate{}
	}
	if u := a.Number; u != nil {
		nc := NumberChange{MessagingLimitTier: u.MessagingLimitTier, NameStatus: u.NameStatus, VerifiedName: u.VerifiedName,
			QualityRating: u.QualityRating}
		if err := p.numberByDisplay(ctx, nums, u.DisplayPhoneNumber, nc); err != nil {
			return err
		}
	}
	if a.LimitTier != "" {
		for _, n := range nums {
			if err := p.r.Accounts.UpdateNumber(ctx, n.WorkspaceID, n.ID, NumberChange{MessagingLimitTier: a.LimitTier}); err != nil {
				return err
			}
		}
	}
	if a.Disconnected {
		for _, n := range nums {
			if err := p.r.Accounts.UpdateNumber(ctx, n.WorkspaceID, n.ID, NumberChange{
				Status: domain.NumberNeedsReconnect, FailureReason: a.Field + " " + a.Event}); err != nil {
				return err
			}
		}
	}
	ws := nums[0].WorkspaceID
	raw := a.Payload
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	var entryTime int64
	if !ch.At.IsZero() {
		entryTime = ch.At.Unix()
	}
	return p.r.Accounts.RecordAccountEvent(ctx, AccountEvent{
		ID:          EventID(a.Field, ch.WABAID, strconv.FormatInt(entryTime, 10), string(raw)),
		WorkspaceID: &ws, WABAID: ch.WABAID, Field: a.Field, Event: a.Event, Payload: raw,
		At: p.timeOr(ch.At),
	})
}

// numberByDisplay applies nc to the number of the WABA whose display number has the same
// digits as display; an unknown display number is counted.
func (p *run) numberByDisplay(ctx context.Context, nums []NumberInfo, display string, nc NumberChange) error {
	want := digitsOnly(display)
	for _, n := range nums {
		if want != "" && digitsOnly(n.DisplayPhoneNumber) == want {
			return p.r.Accounts.UpdateNumber(ctx, n.WorkspaceID, n.ID, nc)
		}
	}
	p.unrouted = append(p.unrouted, "number")
	return nil
}

// EventID derives a stable id from an event's parts, so recording it twice keeps one row.
// It has the UUID layout with version 8 (custom).
func EventID(parts ...string) domain.ID {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var id domain.ID
	copy(id[:], h.Sum(nil))
	id[6] = 0x80 | (id[6] & 0x0f)
	id[8] = 0x80 | (id[8] & 0x3f)
	return id
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
