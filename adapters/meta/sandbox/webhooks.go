package sandbox

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	deliveryWorkers = 64 // ~3 webhooks per send at 1,000 sends/s against a ~20 ms receiver
	maxQueued       = 100000
	deliveryTimeout = 10 * time.Second
)

// retryBackoff is the wait before each retry of a failed delivery: Meta retries at once,
// then less and less often; a sandbox gives up after these few (about two minutes). The
// steps double, so a receiver that was down for a few seconds (a restart) hears again
// within about as long again: a send rescued from a dead process relies on its `sent`
// webhook arriving before it is tried again.
var retryBackoff = []time.Duration{50 * time.Millisecond, 250 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
	8 * time.Second, 16 * time.Second, 30 * time.Second, time.Minute}

// event is one webhook to deliver. build runs once, when the event is first due, so status
// timestamps and state changes happen at that moment; the body is then fixed for retries.
type event struct {
	at    time.Time
	seq   uint64
	index int

	kind      string
	field     string
	messageID string
	// build returns the URL and body, or a non-empty skip outcome (not_subscribed, ...).
	build func(now time.Time) (url string, body []byte, skip string)
	// after runs once the event is finished (delivered, given up, or skipped).
	after func()

	url      string
	body     []byte
	attempts int
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q eventQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *eventQueue) Push(x any) {
	e := x.(*event)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// dispatcher delivers webhooks: one scheduler goroutine hands due events to a fixed pool of
// workers, so the number of goroutines stays bounded whatever the send rate.
type dispatcher struct {
	s      *Sandbox
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	work   chan *event

	mu     sync.Mutex
	queue  eventQueue
	seq    uint64
	closed bool
}

func newDispatcher(s *Sandbox) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	d := &dispatcher{
		s: s,
		client: &http.Client{
			Timeout: deliveryTimeout,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				MaxIdleConns:        128,
				MaxIdleConnsPerHost: deliveryWorkers,
				IdleConnTimeout:     30 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		work:   make(chan *event),
	}
	d.wg.Add(1 + deliveryWorkers)
	go d.run()
	for range deliveryWorkers {
		go d.worker()
	}
	return d
}

func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	d.client.CloseIdleConnections()
}

// schedule queues ev to be delivered after delay.
func (d *dispatcher) schedule(delay time.Duration, ev *event) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	if len(d.queue) >= maxQueued {
		d.mu.Unlock()
		d.s.log.Warn("webhook queue full, dropping event", "kind", ev.kind, "message_id", ev.messageID)
		d.record(ev, "dropped", 0)
		return
	}
	ev.at = time.Now().Add(delay)
	d.seq++
	ev.seq = d.seq
	heap.Push(&d.queue, ev)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var due *event
		wait := time.Duration(-1)
		d.mu.Lock()
		if len(d.queue) > 0 {
			if until := time.Until(d.queue[0].at); until <= 0 {
				due = heap.Pop(&d.queue).(*event)
			} else {
				wait = until
			}
		}
		d.mu.Unlock()
		if due != nil {
			select {
			case d.work <- due:
			case <-d.ctx.Done():
				return
			}
			continue
		}
		var tick <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-d.wake:
		case <-tick:
		case <-d.ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

func (d *dispatcher) worker() {
	defer d.wg.Done()
	for {
		select {
		case ev := <-d.work:
			d.deliver(ev)
		case <-d.ctx.Done():
			return
		}
	}
}

func (d *dispatcher) deliver(ev *event) {
	if ev.body == nil {
		u, body, skip := ev.build(time.Now())
		if skip != "" {
			d.record(ev, skip, 0)
			d.finish(ev)
			return
		}
		ev.url, ev.body = u, body
	}
	ev.attempts++
	status, err := d.post(ev)
	if err == nil && status == http.StatusOK {
		d.record(ev, "delivered", status)
		d.finish(ev)
		return
	}
	if d.ctx.Err() != nil {
		return // closing: abandon
	}
	if ev.attempts <= len(retryBackoff) {
		d.s.log.Debug("webhook delivery failed, will retry", "kind", ev.kind, "attempt", ev.attempts, "status", status, "err", err)
		d.schedule(retryBackoff[ev.attempts-1], ev)
		return
	}
	d.s.log.Warn("webhook delivery failed, giving up", "kind", ev.kind, "message_id", ev.messageID, "attempts", ev.attempts, "status", status, "err", err)
	d.record(ev, "failed", status)
	d.finish(ev)
}

func (d *dispatcher) finish(ev *event) {
	if ev.after != nil {
		ev.after()
	}
}

func (d *dispatcher) record(ev *event, outcome string, status int) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	d.s.state.webhooks.push(WebhookDelivery{
		Time: time.Now(), Field: ev.field, Kind: ev.kind, MessageID: ev.messageID, URL: ev.url,
		Attempts: ev.attempts, HTTPStatus: status, Outcome: outcome,
	})
}

// post sends one signed delivery, after the verification handshake if the URL needs one.
func (d *dispatcher) post(ev *event) (int, error) {
	if d.s.verifyToken != "" {
		d.s.mu.Lock()
		ok := d.s.state.verified[ev.url]
		d.s.mu.Unlock()
		if !ok {
			if err := d.handshake(d.ctx, ev.url, d.s.verifyToken); err != nil {
				return 0, fmt.Errorf("verification handshake: %w", err)
			}
			d.s.mu.Lock()
			d.s.state.verified[ev.url] = true
			d.s.mu.Unlock()
		}
	}
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, ev.url, bytes.NewReader(ev.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set("X-Hub-Signature-256", Sign(d.s.appSecret, ev.body))
	req.Header.Set("X-Hub-Signature", signSHA1(d.s.appSecret, ev.body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// handshake is Meta's GET verification: the URL must answer 200 with the challenge.
func (d *dispatcher) handshake(ctx context.Context, callback, verifyToken string) error {
	u, err := url.Parse(callback)
	if err != nil {
		return err
	}
	challenge := randString(10, "123456789")
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.challenge", challenge)
	q.Set("hub.verify_token", verifyToken)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "facebookplatform/1.0 (+http://developers.facebook.com)")
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("URL couldn't be validated: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != challenge {
		return fmt.Errorf("URL couldn't be validated. Response does not match challenge, expected value=%q, received=%q (HTTP %d)",
			challenge, excerpt(body), resp.StatusCode)
	}
	return nil
}

func excerpt(b []byte) string {
	s := string(b)
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// envelope wraps one change in Meta's webhook envelope.
func envelope(wabaID, fieldName string, value any, withTime bool, now time.Time) object {
	entry := object{{"id", wabaID}}
	if withTime {
		entry = append(entry, field{"time", now.Unix()})
	}
	entry = append(entry, field{"changes", []object{{{"value", value}, {"field", fieldName}}}})
	return object{{"object", "whatsapp_business_account"}, {"entry", []object{entry}}}
}

// messagesURL is where messages-family webhooks for the number go (number override > WABA
// override > app callback), or a skip outcome. Needs s.mu held.
func (s *Sandbox) messagesURL(p *phone, w *waba) (string, string) {
	if w == nil || !w.subscribed {
		return "", "not_subscribed"
	}
	u := s.callbackURL
	if w.overrideURL != "" {
		u = w.overrideURL
	}
	if p != nil && p.overrideURL != "" {
		u = p.overrideURL
	}
	if u == "" {
		return "", "no_callback"
	}
	return u, ""
}

func metadata(p *phone) object {
	return object{{"display_phone_number", p.digits}, {"phone_number_id", p.id}}
}

// statusStep is one planned status webhook of an outbound message.
type statusStep struct {
	status  string
	pricing bool
	err     *webhookError
}

// webhookError is the error object of webhooks: {code, title, message, error_data, href}.
type webhookError struct {
	Code      int          `json:"code"`
	Title     string       `json:"title"`
	Message   string       `json:"message"`
	ErrorData errorDetails `json:"error_data"`
	Href      string       `json:"href"`
}

type errorDetails struct {
	Details string `json:"details"`
}

const errorCodesHref = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

// scheduleStatuses queues the message's status webhooks one after another, each
// StatusDelay after the previous one finished.
func (s *Sandbox) scheduleStatuses(wamid string, plan []statusStep) {
	var step func(i int)
	step = func(i int) {
		if i >= len(plan) {
			return
		}
		st := plan[i]
		_, _, delay := s.settings()
		s.disp.schedule(delay, &event{
			kind: "status:" + st.status, field: "messages", messageID: wamid,
			build: func(now time.Time) (string, []byte, string) { return s.buildStatus(wamid, st, now) },
			after: func() { step(i + 1) },
		})
	}
	step(0)
}

func (s *Sandbox) buildStatus(wamid string, st statusStep, now time.Time) (string, []byte, string) {
	s.mu.Lock()
	m := s.state.messages[wamid]
	if m == nil {
		s.mu.Unlock()
		return "", nil, "dropped"
	}
	m.Status = st.status
	if st.err != nil {
		m.ErrorCode = st.err.Code
	}
	msg := *m
	p := s.state.phones[m.PhoneNumberID]
	u, skip := s.messagesURL(p, s.state.wabas[m.WABAID])
	meta := metadata(p)
	s.mu.Unlock()
	if skip != "" {
		return "", nil, skip
	}

	status := object{
		{"id", wamid},
		{"status", st.status},
		{"timestamp", strconv.FormatInt(now.Unix(), 10)},
		{"recipient_id", orDefault(msg.To, msg.UserID)},
	}
	if msg.UserID != "" {
		status = append(status, field{"recipient_user_id", msg.UserID})
	}
	if msg.BizOpaqueCallbackData != "" {
		status = append(status, field{"biz_opaque_callback_data", msg.BizOpaqueCallbackData})
	}
	if st.pricing && msg.Pricing != nil {
		status = append(status, field{"pricing", msg.Pricing})
	}
	if st.err != nil {
		e := *st.err
		e.Href = errorCodesHref
		status = append(status, field{"errors", []webhookError{e}})
	}
	value := object{
		{"messaging_product", "whatsapp"},
		{"metadata", meta},
		{"statuses", []object{status}},
	}
	body, err := Marshal(envelope(msg.WABAID, "messages", value, false, now))
	if err != nil {
		return "", nil, "dropped"
	}
	return u, body, ""
}

// reviewTemplate approves a newly created template after StatusDelay (names starting with
// "reject_" are rejected, for tests) and sends message_template_status_update to the app's
// callback URL (overrides do not apply to template webhooks).
func (s *Sandbox) reviewTemplate(templateID string) {
	_, _, delay := s.settings()
	s.templateWebhook(delay, templateID, "message_template_status_update", func(t *template) object {
		if t.status != "PENDING" {
			return nil
		}
		ev, reason := "APPROVED", "NONE"
		if strings.HasPrefix(t.name, "reject_") {
			ev, reason, t.rejectedReason = "REJECTED", "INVALID_FORMAT", "INVALID_FORMAT"
		}
		t.status = ev
		return statusValue(t, reason)
	})
}

func statusValue(t *template, reason string) object {
	return object{
		{"event", t.status},
		{"message_template_id", templateNumID(t)},
		{"message_template_name", t.name},
		{"message_template_language", t.language},
		{"reason", reason},
		{"message_template_category", t.category},
	}
}

func templateNumID(t *template) int64 {
	id, _ := strconv.ParseInt(t.id, 10, 64)
	return id
}

// templateWebhook sends a template webhook of field about the template to the app's
// callback URL after delay. change runs when the webhook is built, with s.mu held: it
// changes the template as Meta would and returns the webhook's value (nil: nothing to
// send).
func (s *Sandbox) templateWebhook(delay time.Duration, templateID, fieldName string, change func(t *template) object) {
	s.disp.schedule(delay, &event{
		kind: "template", field: fieldName,
		build: func(now time.Time) (string, []byte, string) {
			s.mu.Lock()
			t := s.state.templates[templateID]
			if t == nil {
				s.mu.Unlock()
				return "", nil, "dropped"
			}
			value := change(t)
			wabaID := t.wabaID
			w := s.state.wabas[wabaID]
			subscribed := w != nil && w.subscribed
			s.mu.Unlock()
			if value == nil {
				return "", nil, "dropped"
			}
			if !subscribed {
				return "", nil, "not_subscribed"
			}
			if s.callbackURL == "" {
				return "", nil, "no_callback"
			}
			body, err := Marshal(envelope(wabaID, fieldName, value, true, now))
			if err != nil {
				return "", nil, "dropped"
			}
			return s.callbackURL, body, ""
		},
	})
}

// Template statuses and quality scores SetTemplateStatus and SetTemplateQuality accept.
var (
	templateStatuses = []string{"APPROVED", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "FLAGGED", "PENDING_DELETION",
		"DELETED", "ARCHIVED", "LIMIT_EXCEEDED", "LOCKED", "REINSTATED", "PENDING"}
	templateQualities = []string{"GREEN", "YELLOW", "RED", "UNKNOWN"}
)

// SetTemplateStatus changes a template's status as Meta's review or quality system would
// (a PAUSED template cannot be sent) and sends message_template_status_update with reason
// ("NONE" when empty). REINSTATED is Meta's event for a template approved again.
func (s *Sandbox) SetTemplateStatus(templateID, status, reason string) error {
	status = strings.ToUpper(strings.TrimSpace(status))
	if !slices.Contains(templateStatuses, status) {
		return errors.New("sandbox: status must be one of " + strings.Join(templateStatuses, ", "))
	}
	if err := s.templateExists(templateID); err != nil {
		return err
	}
	s.templateWebhook(0, templateID, "message_template_status_update", func(t *template) object {
		t.status = status
		if status == "REINSTATED" {
			t.status = "APPROVED"
		}
		t.rejectedReason = ""
		if status == "REJECTED" {
			t.rejectedReason = orDefault(reason, "INVALID_FORMAT")
		}
		v := statusValue(t, orDefault(reason, "NONE"))
		v[0] = field{"event", status}
		return v
	})
	return nil
}

// SetTemplateQuality changes a template's quality score and sends
// message_template_quality_update.
func (s *Sandbox) SetTemplateQuality(templateID, quality string) error {
	quality = strings.ToUpper(strings.TrimSpace(quality))
	if !slices.Contains(templateQualities, quality) {
		return errors.New("sandbox: quality must be one of " + strings.Join(templateQualities, ", "))
	}
	if err := s.templateExists(templateID); err != nil {
		return err
	}
	s.templateWebhook(0, templateID, "message_template_quality_update", func(t *template) object {
		previous := orDefault(t.quality, "UNKNOWN")
		t.quality = quality
		return object{
			{"previous_quality_score", previous},
			{"new_quality_score", quality},
			{"message_template_id", templateNumID(t)},
			{"message_template_name", t.name},
			{"message_template_language", t.language},
		}
	})
	return nil
}

// SetTemplateCategory re-categorises a template as Meta does and sends
// template_category_update.
func (s *Sandbox) SetTemplateCategory(templateID, category string) error {
	category, ok := templateCategory(category)
	if !ok {
		return errors.New("sandbox: category must be MARKETING, UTILITY or AUTHENTICATION")
	}
	if err := s.templateExists(templateID); err != nil {
		return err
	}
	s.templateWebhook(0, templateID, "template_category_update", func(t *template) object {
		previous := t.category
		t.category = category
		return object{
			{"message_template_id", templateNumID(t)},
			{"message_template_name", t.name},
			{"message_template_language", t.language},
			{"previous_category", previous},
			{"new_category", category},
		}
	})
	return nil
}

func (s *Sandbox) templateExists(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.templates[id] == nil {
		return ErrNotFound
	}
	return nil
}
