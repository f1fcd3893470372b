package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Bounds on what the sandbox remembers, so a long load test does not grow it forever.
const (
	maxCalls         = 10000
	maxMessages      = 50000 // Config.MaxMessages's default
	maxInbound       = 100000
	maxReadReceipts  = 10000
	maxWebhookLog    = 10000
	maxMediaObjects  = 2000
	mediaURLLifetime = 5 * time.Minute
	windowLength     = 24 * time.Hour
)

// ErrNotFound is returned by the Go API for an unknown phone number or WABA id.
var ErrNotFound = errors.New("sandbox: not found")

// ErrConflict is returned when an id given to CreateAccount or AddTemplate is taken.
var ErrConflict = errors.New("sandbox: conflict")

// state is everything the sandbox knows; Sandbox.mu guards it.
type state struct {
	tokens        map[string]*account    // business token -> account
	codes         map[string]*signupCode // Embedded Signup code -> token
	wabas         map[string]*waba
	phones        map[string]*phone
	media         map[string]*mediaObject
	mediaOrder    ring[string]
	templates     map[string]*template // template id -> template
	windows       map[windowKey]time.Time
	userWaID      map[string]string // BSUID -> wa_id, learned from inbound messages
	undeliverable map[string]bool
	// marketingLimited: marketing templates to these wa_ids fail with 131049.
	marketingLimited map[string]bool
	inbound          map[string]string // inbound wamid -> phone_number_id (mark-read checks)
	inboundOrder     ring[string]
	readReceipts     ring[ReadReceipt]
	messages         map[string]*Message
	messageOrder     ring[*Message]
	calls            ring[Call]
	webhooks         ring[WebhookDelivery]
	verified         map[string]bool // callback URLs that passed the GET handshake
}

func newState(maxMessages int) state {
	return state{
		tokens:        map[string]*account{},
		codes:         map[string]*signupCode{},
		wabas:         map[string]*waba{},
		phones:        map[string]*phone{},
		media:         map[string]*mediaObject{},
		mediaOrder:    newRing[string](maxMediaObjects),
		templates:     map[string]*template{},
		windows:       map[windowKey]time.Time{},
		userWaID:      map[string]string{},
		undeliverable: map[string]bool{}, marketingLimited: map[string]bool{},
		inbound:      map[string]string{},
		inboundOrder: newRing[string](maxInbound),
		readReceipts: newRing[ReadReceipt](maxReadReceipts),
		messages:     map[string]*Message{},
		messageOrder: newRing[*Message](maxMessages),
		calls:        newRing[Call](maxCalls),
		webhooks:     newRing[WebhookDelivery](maxWebhookLog),
		verified:     map[string]bool{},
	}
}

type account struct {
	wabas  map[string]bool
	userID string // the system user debug_token reports
}

type signupCode struct {
	token string
	used  bool
}

type waba struct {
	id          string
	name        string
	namespace   string
	phones      []string
	subscribed  bool // our app is in subscribed_apps
	overrideURL string
	templates   []*template
}

type phone struct {
	id, wabaID   string
	digits       string // display number, digits only (webhook metadata)
	display      string // display number as Graph returns it ("+1 555-010-4567")
	verifiedName string
	quality      string
	tier         string
	throughput   int
	registered   bool
	pin          string
	overrideURL  string
	created      time.Time

	tokens float64 // token bucket for throughput
	last   time.Time
}

// allow takes one send from the number's throughput bucket (burst = one second's worth).
func (p *phone) allow(now time.Time) bool {
	rate := float64(p.throughput)
	if p.last.IsZero() {
		p.tokens, p.last = rate, now
	}
	p.tokens = min(rate, p.tokens+now.Sub(p.last).Seconds()*rate)
	p.last = now
	if p.tokens < 1 {
		return false
	}
	p.tokens--
	return true
}

type template struct {
	id, wabaID      string
	name, language  string
	category        string
	status          string
	parameterFormat string
	rejectedReason  string
	quality         string // GREEN, YELLOW, RED; "" is UNKNOWN
	components      json.RawMessage
}

type mediaObject struct {
	id, wabaID string
	mimeType   string
	sha256     string
	filename   string
	data       []byte
}

// windowKey names a customer-service window: a business number and a user (wa_id or BSUID).
type windowKey struct {
	phoneID string
	user    string // "wa:<digits>" or "user:<bsuid>"
}

// ring keeps the last limit values pushed; its buffer grows on demand.
type ring[T any] struct {
	buf   []T
	limit int
	next  int // once full: the oldest value's index
}

func newRing[T any](limit int) ring[T] { return ring[T]{limit: limit} }

// push stores v and returns the value it evicted, if any.
func (r *ring[T]) push(v T) (evicted T, ok bool) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, v)
		return evicted, false
	}
	evicted, ok = r.buf[r.next], true
	r.buf[r.next] = v
	r.next = (r.next + 1) % r.limit
	return evicted, ok
}

// items returns the stored values, oldest first.
func (r *ring[T]) items() []T {
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// AccountOptions describes a business account to create. Every field is optional.
type AccountOptions struct {
	// WABAID of an existing WABA adds a new phone number to it (with its own token and code
	// that may manage that WABA); otherwise a new WABA is created with this id (or a random one).
	WABAID        string `json:"waba_id,omitempty"`
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// DisplayPhoneNumber is the business number: digits ("15550104567") or Graph's formatted
	// form ("+1 555-010-4567"). Default: a random +1 555 number.
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	VerifiedName       string `json:"verified_name,omitempty"` // default "Sandbox Business"
	// Registered starts the number registered for Cloud API (with PIN, if given), as if
	// POST /register had been called.
	Registered bool   `json:"registered,omitempty"`
	PIN        string `json:"pin,omitempty"`
	// Subscribed starts the WABA with our app in subscribed_apps.
	Subscribed bool `json:"subscribed,omitempty"`
	// Throughput in messages per second (default Config.DefaultThroughput).
	Throughput         int    `json:"throughput,omitempty"`
	QualityRating      string `json:"quality_rating,omitempty"`       // default GREEN
	MessagingLimitTier string `json:"messaging_limit_tier,omitempty"` // default TIER_250
}

// Account is a created business account: the token Embedded Signup would produce, the code
// that exchanges for it once, and the ids of its WABA and number.
type Account struct {
	AccessToken        string `json:"access_token"`
	Code               string `json:"code"`
	WABAID             string `json:"waba_id"`
	PhoneNumberID      string `json:"phone_number_id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
}

var digitsRE = regexp.MustCompile(`^\d{6,15}$`)

// CreateAccount creates a business account: a WABA (or a new number on an existing one),
// a phone number, a business token allowed to manage the WABA, and a single-use Embedded
// Signup code for that token. New WABAs get an approved `hello_world` template (en_US,
// UTILITY), like Meta's test accounts.
func (s *Sandbox) CreateAccount(opts AccountOptions) (Account, error) {
	digits := onlyDigits(opts.DisplayPhoneNumber)
	if opts.DisplayPhoneNumber != "" && !digitsRE.MatchString(digits) {
		return Account{}, fmt.Errorf("sandbox: display_phone_number %q is not a phone number", opts.DisplayPhoneNumber)
	}
	if opts.PIN != "" && !pinRE.MatchString(opts.PIN) {
		return Account{}, errors.New("sandbox: pin must be 6 digits")
	}
	if opts.Throughput < 0 {
		return Account{}, errors.New("sandbox: throughput must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.state

	w := st.wabas[opts.WABAID]
	if opts.WABAID != "" && w == nil {
		if _, taken := st.phones[opts.WABAID]; taken {
			return Account{}, fmt.Errorf("%w: id %s is a phone number", ErrConflict, opts.WABAID)
		}
	}
	phoneID := opts.PhoneNumberID
	if phoneID != "" {
		if st.idTaken(phoneID) {
			return Account{}, fmt.Errorf("%w: id %s is taken", ErrConflict, phoneID)
		}
	} else {
		phoneID = st.newID(15)
	}
	if digits == "" {
		digits = "1555" + numericID(7)[:7]
	}
	for _, p := range st.phones {
		if p.digits == digits {
			return Account{}, fmt.Errorf("%w: number %s exists", ErrConflict, digits)
		}
	}
	name := opts.VerifiedName
	if name == "" {
		name = "Sandbox Business"
	}
	if w == nil {
		id := opts.WABAID
		if id == "" || id == phoneID {
			id = st.newID(15)
		}
		w = &waba{id: id, name: name + " WABA", namespace: strings.ToLower(randString(8, "abcdef0123456789")) + "_" + randString(4, "abcdef0123456789")}
		st.wabas[id] = w
		st.addTemplate(w, &template{
			id: st.newID(16), name: "hello_world", language: "en_US", category: "UTILITY", status: "APPROVED",
			parameterFormat: "POSITIONAL",
			components: json.RawMessage(`[{"type":"HEADER","format":"TEXT","text":"Hello World"},` +
				`{"type":"BODY","text":"Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},` +
				`{"type":"FOOTER","text":"WhatsApp Business Platform sample message"}]`),
		})
	}
	if opts.Subscribed {
		w.subscribed = true
	}
	p := &phone{
		id: phoneID, wabaID: w.id, digits: digits, display: graphDisplay(opts.DisplayPhoneNumber, digits),
		verifiedName: name, quality: orDefault(opts.QualityRating, "GREEN"),
		tier:       orDefault(opts.MessagingLimitTier, "TIER_250"),
		throughput: opts.Throughput, registered: opts.Registered, pin: opts.PIN, created: time.Now(),
	}
	if p.throughput == 0 {
		p.throughput = s.defaultThroughput
	}
	st.phones[phoneID] = p
	w.phones = append(w.phones, phoneID)

	token := newAccessToken()
	st.tokens[token] = &account{wabas: map[string]bool{w.id: true}, userID: st.newID(15)}
	code := newSignupCode()
	st.codes[code] = &signupCode{token: token}
	return Account{
		AccessToken: token, Code: code, WABAID: w.id, PhoneNumberID: phoneID,
		DisplayPhoneNumber: p.display, VerifiedName: name,
	}, nil
}

func (st *state) idTaken(id string) bool {
	_, a := st.wabas[id]
	_, b := st.phones[id]
	_, c := st.media[id]
	_, d := st.templates[id]
	return a || b || c || d
}

func (st *state) newID(n int) string {
	for {
		if id := numericID(n); !st.idTaken(id) {
			return id
		}
	}
}

func (st *state) addTemplate(w *waba, t *template) {
	t.wabaID = w.id
	w.templates = append(w.templates, t)
	st.templates[t.id] = t
}

func (st *state) removeTemplate(t *template) {
	delete(st.templates, t.id)
	if w := st.wabas[t.wabaID]; w != nil {
		for i, x := range w.templates {
			if x == t {
				w.templates = append(w.templates[:i], w.templates[i+1:]...)
				break
			}
		}
	}
}

func (st *state) addMedia(m *mediaObject) {
	st.media[m.id] = m
	if old, ok := st.mediaOrder.push(m.id); ok {
		delete(st.media, old)
	}
}

// openWindow records an inbound message from user at t (keeping the latest).
func (st *state) openWindow(phoneID, waID, userID string, t time.Time) {
	for _, who := range windowUsers(waID, userID) {
		k := windowKey{phoneID, who}
		if t.After(st.windows[k]) {
			st.windows[k] = t
		}
	}
}

// inWindow reports whether the user wrote to the number within the last 24 hours.
func (st *state) inWindow(phoneID, waID, userID string, now time.Time) bool {
	for _, who := range windowUsers(waID, userID) {
		if last, ok := st.windows[windowKey{phoneID, who}]; ok && now.Sub(last) < windowLength {
			return true
		}
	}
	return false
}

func windowUsers(waID, userID string) []string {
	var out []string
	if waID != "" {
		out = append(out, "wa:"+waID)
	}
	if userID != "" {
		out = append(out, "user:"+userID)
	}
	return out
}

// MarkUndeliverable makes sends to waID (digits, "+" optional) fail with 131026.
func (s *Sandbox) MarkUndeliverable(waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.undeliverable[onlyDigits(waID)] = true
}

// MarkMarketingLimited makes marketing templates to waID (digits, "+" optional) fail with
// 131049 (the user's marketing limit), in the failed status webhook as Meta reports it.
func (s *Sandbox) MarkMarketingLimited(waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.marketingLimited[onlyDigits(waID)] = true
}

// LiftMarketingLimit ends MarkMarketingLimited for waID: its marketing templates are
// delivered again.
func (s *Sandbox) LiftMarketingLimit(waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.state.marketingLimited, onlyDigits(waID))
}

// SetThroughput changes a number's send limit (messages per second).
func (s *Sandbox) SetThroughput(phoneNumberID string, mps int) error {
	if mps <= 0 {
		return errors.New("sandbox: throughput must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.phones[phoneNumberID]
	if p == nil {
		return ErrNotFound
	}
	p.throughput = mps
	p.last = time.Time{}
	return nil
}

// NumberQuality is what SetNumberQuality changes of a number; empty fields are kept.
type NumberQuality struct {
	QualityRating      string `json:"quality_rating,omitempty"`       // GREEN, YELLOW, RED or UNKNOWN
	MessagingLimitTier string `json:"messaging_limit_tier,omitempty"` // TIER_50 ... TIER_UNLIMITED
}

// SetNumberQuality changes a number's quality rating and messaging limit tier, as Meta's
// quality system would. No webhook is sent (current Graph versions send none for a rating;
// older ones sent FLAGGED): the product reads both by syncing the number's fields.
func (s *Sandbox) SetNumberQuality(phoneNumberID string, q NumberQuality) error {
	rating, tier := strings.ToUpper(strings.TrimSpace(q.QualityRating)), strings.ToUpper(strings.TrimSpace(q.MessagingLimitTier))
	if rating != "" && !slices.Contains(templateQualities, rating) {
		return errors.New("sandbox: quality_rating must be one of " + strings.Join(templateQualities, ", "))
	}
	if tier != "" && !strings.HasPrefix(tier, "TIER_") {
		return errors.New("sandbox: messaging_limit_tier must be a tier such as TIER_250 or TIER_UNLIMITED")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.phones[phoneNumberID]
	if p == nil {
		return ErrNotFound
	}
	if rating != "" {
		p.quality = rating
	}
	if tier != "" {
		p.tier = tier
	}
	return nil
}

// TemplateSpec is a template added directly (without review) by AddTemplate.
type TemplateSpec struct {
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Category        string          `json:"category"`         // MARKETING, UTILITY, AUTHENTICATION
	Status          string          `json:"status,omitempty"` // default APPROVED
	ParameterFormat string          `json:"parameter_format,omitempty"`
	Components      json.RawMessage `json:"components,omitempty"` // Graph's components array
}

// AddTemplate stores a template in a WABA with the given status (no review, no webhook) and
// returns its id.
func (s *Sandbox) AddTemplate(wabaID string, spec TemplateSpec) (string, error) {
	if msg := validateTemplateName(spec.Name); msg != "" {
		return "", errors.New("sandbox: " + msg)
	}
	category, ok := templateCategory(spec.Category)
	if !ok || spec.Language == "" {
		return "", errors.New("sandbox: a template needs a language and a category of MARKETING, UTILITY or AUTHENTICATION")
	}
	if len(spec.Components) == 0 {
		spec.Components = json.RawMessage(`[{"type":"BODY","text":"` + spec.Name + `"}]`)
	} else if !json.Valid(spec.Components) {
		return "", errors.New("sandbox: components is not JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.state.wabas[wabaID]
	if w == nil {
		return "", ErrNotFound
	}
	if findTemplate(w, spec.Name, spec.Language) != nil {
		return "", fmt.Errorf("%w: template %s/%s exists", ErrConflict, spec.Name, spec.Language)
	}
	t := &template{
		id: s.state.newID(16), name: spec.Name, language: spec.Language, category: category,
		status: strings.ToUpper(orDefault(spec.Status, "APPROVED")), parameterFormat: strings.ToUpper(orDefault(spec.ParameterFormat, "POSITIONAL")),
		components: spec.Components,
	}
	s.state.addTemplate(w, t)
	return t.id, nil
}

func findTemplate(w *waba, name, language string) *template {
	for _, t := range w.templates {
		if t.name == name && t.language == language {
			return t
		}
	}
	return nil
}

// Call is one Graph API call the sandbox received. It never holds a token.
type Call struct {
	Time          time.Time `json:"time"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	PhoneNumberID string    `json:"phone_number_id,omitempty"`
	WABAID        string    `json:"waba_id,omitempty"`
	Status        int       `json:"status"`
	ErrorCode     int       `json:"error_code,omitempty"`
}

// Calls returns the Graph calls received, oldest first (the last 10,000).
func (s *Sandbox) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.calls.items()
}

func (s *Sandbox) recordCall(gr *graphRequest) {
	status := gr.status
	if status == 0 {
		status = http.StatusOK
	}
	c := Call{
		Time: gr.at, Method: gr.r.Method, Path: gr.r.URL.Path, PhoneNumberID: gr.phoneID, WABAID: gr.wabaID,
		Status: status, ErrorCode: gr.code,
	}
	s.mu.Lock()
	s.state.calls.push(c)
	s.mu.Unlock()
	s.log.Debug("graph call", "method", c.Method, "path", c.Path, "status", c.Status, "error_code", c.ErrorCode)
}

// Message is an outbound message the sandbox accepted, with its latest simulated status.
type Message struct {
	ID                    string          `json:"id"` // the wamid
	PhoneNumberID         string          `json:"phone_number_id"`
	WABAID                string          `json:"waba_id"`
	To                    string          `json:"to,omitempty"` // recipient wa_id
	UserID                string          `json:"user_id,omitempty"`
	Type                  string          `json:"type"`
	TemplateName          string          `json:"template_name,omitempty"`
	TemplateLanguage      string          `json:"template_language,omitempty"`
	TemplateCategory      string          `json:"template_category,omitempty"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Payload               json.RawMessage `json:"payload"`
	AcceptedAt            time.Time       `json:"accepted_at"`
	Status                string          `json:"status"` // accepted, sent, delivered, read, failed
	ErrorCode             int             `json:"error_code,omitempty"`
	Pricing               *Pricing        `json:"pricing,omitempty"`
}

// Pricing is the pricing object of status webhooks.
type Pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
	Type         string `json:"type"`
}

// Messages returns the accepted outbound messages, oldest first (the last 50,000).
func (s *Sandbox) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.state.messageOrder.items()
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		out = append(out, *m)
	}
	return out
}

func (st *state) addMessage(m *Message) {
	st.messages[m.ID] = m
	if old, ok := st.messageOrder.push(m); ok {
		delete(st.messages, old.ID)
	}
}

func (st *state) addInbound(wamid, phoneID string) {
	st.inbound[wamid] = phoneID
	if old, ok := st.inboundOrder.push(wamid); ok {
		delete(st.inbound, old)
	}
}

// ReadReceipt is a mark-as-read the sandbox accepted.
type ReadReceipt struct {
	Time          time.Time `json:"time"`
	PhoneNumberID string    `json:"phone_number_id"`
	MessageID     string    `json:"message_id"` // the inbound wamid marked read
	Typing        bool      `json:"typing"`     // sent with a typing indicator
}

// ReadReceipts returns the wamids phoneNumberID marked read, oldest first (of the last
// 10,000 receipts, every number included).
func (s *Sandbox) ReadReceipts(phoneNumberID string) []string {
	out := []string{}
	for _, r := range s.readReceiptLog(phoneNumberID) {
		out = append(out, r.MessageID)
	}
	return out
}

// readReceiptLog returns the receipts of phoneNumberID ("" for every number), oldest first.
func (s *Sandbox) readReceiptLog(phoneNumberID string) []ReadReceipt {
	s.mu.Lock()
	all := s.state.readReceipts.items()
	s.mu.Unlock()
	out := []ReadReceipt{}
	for _, r := range all {
		if phoneNumberID == "" || r.PhoneNumberID == phoneNumberID {
			out = append(out, r)
		}
	}
	return out
}

// WebhookDelivery is the outcome of one webhook the sandbox sent (or could not send).
type WebhookDelivery struct {
	Time       time.Time `json:"time"`
	Field      string    `json:"field"`
	Kind       string    `json:"kind"`                 // status:sent, inbound:text, template:APPROVED, ...
	MessageID  string    `json:"message_id,omitempty"` // wamid of the status or inbound message
	URL        string    `json:"url,omitempty"`
	Attempts   int       `json:"attempts"`
	HTTPStatus int       `json:"http_status,omitempty"`
	// Outcome is delivered, failed (retries exhausted), not_subscribed (the WABA has not
	// subscribed our app), no_callback, or dropped (queue full or sandbox closed).
	Outcome string `json:"outcome"`
}

// Webhooks returns the webhook delivery log, oldest first (the last 10,000).
func (s *Sandbox) Webhooks() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.webhooks.items()
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// graphDisplay is display_phone_number as Graph returns it: the caller's formatted form when
// given one, else "+1 555-010-4567" for NANP numbers and "+<digits>" otherwise. Webhook
// metadata carries the digits only.
func graphDisplay(given, digits string) string {
	if given != "" && given != digits {
		if !strings.HasPrefix(given, "+") {
			given = "+" + given
		}
		return strings.TrimSpace(given)
	}
	if len(digits) == 11 && digits[0] == '1' {
		return "+1 " + digits[1:4] + "-" + digits[4:7] + "-" + digits[7:]
	}
	return "+" + digits
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
