package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// sendRequest is the body of POST /{phone-number-id}/messages (send or mark-read).
type sendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Recipient        string `json:"recipient"` // a BSUID instead of to
	Type             string `json:"type"`
	BizOpaque        string `json:"biz_opaque_callback_data"`

	// Mark-as-read.
	Status          string `json:"status"`
	MessageID       string `json:"message_id"`
	TypingIndicator *struct {
		Type string `json:"type"`
	} `json:"typing_indicator"`

	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Template    *sendTemplate   `json:"template"`
	Interactive json.RawMessage `json:"interactive"`
	Image       *sendMedia      `json:"image"`
	Video       *sendMedia      `json:"video"`
	Audio       *sendMedia      `json:"audio"`
	Document    *sendMedia      `json:"document"`
	Sticker     *sendMedia      `json:"sticker"`
	Reaction    *struct {
		MessageID string `json:"message_id"`
	} `json:"reaction"`
	Location *struct {
		Latitude  any `json:"latitude"`
		Longitude any `json:"longitude"`
	} `json:"location"`
	Contacts []json.RawMessage `json:"contacts"`
}

type sendTemplate struct {
	Name     string `json:"name"`
	Language *struct {
		Code string `json:"code"`
	} `json:"language"`
	Components []struct {
		Type       string `json:"type"`
		Parameters []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		} `json:"parameters"`
	} `json:"components"`
}

type sendMedia struct {
	ID   string `json:"id"`
	Link string `json:"link"`
}

// sendError is a synchronous refusal of a send.
type sendError struct {
	status  int
	code    int
	message string // full Graph message
	details string
}

func badParam(message string) *sendError {
	return &sendError{status: http.StatusBadRequest, code: 100, message: "(#100) " + message}
}

func missing(details string) *sendError {
	return &sendError{http.StatusBadRequest, 131008, "(#131008) Required parameter is missing", details}
}

func invalidValue(details string) *sendError {
	return &sendError{http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", details}
}

// accepted is what the sandbox decided about an accepted send.
type accepted struct {
	waID, userID string
	category     string // template category, "" for non-template
	template     *template
}

func (s *Sandbox) postMessages(gr *graphRequest, phoneID string) {
	raw, err := io.ReadAll(io.LimitReader(gr.r.Body, 1<<20))
	var req sendRequest
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		err = dec.Decode(&req)
	}
	if err != nil {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", "Request body is not valid JSON")
		return
	}
	if req.MessagingProduct != "whatsapp" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	}

	s.mu.Lock()
	p := s.state.phones[phoneID]
	registered := p.registered
	s.mu.Unlock()
	if !registered {
		gr.waFail(http.StatusBadRequest, 133010, "Account not registered", "Account not registered")
		return
	}
	if req.Status != "" || req.MessageID != "" {
		s.markRead(gr, phoneID, req)
		return
	}

	s.mu.Lock()
	allowed := p.allow(time.Now())
	s.mu.Unlock()
	if !allowed {
		gr.waFail(http.StatusBadRequest, 130429, "Rate limit hit", "Cloud API message throughput has been reached.")
		return
	}

	acc, serr := s.validateSend(phoneID, &req)
	if serr != nil {
		gr.fail(serr.status, serr.code, 0, "OAuthException", serr.message, serr.details)
		return
	}

	_, failureRate, _ := s.settings()
	if failureRate > 0 && mrand.Float64() < failureRate {
		t := true
		gr.failWith(http.StatusInternalServerError, graphError{
			Message: "(#131000) Something went wrong", Type: "OAuthException", Code: 131000, IsTransient: &t,
			ErrorData: &errorData{MessagingProduct: "whatsapp", Details: "Something went wrong"},
		})
		return
	}

	m := s.accept(phoneID, &req, raw, acc)
	contact := object{{"input", orDefault(req.To, req.Recipient)}}
	if acc.waID != "" {
		contact = append(contact, field{"wa_id", acc.waID})
	}
	if acc.userID != "" {
		contact = append(contact, field{"user_id", acc.userID})
	}
	msg := object{{"id", m.ID}}
	if acc.template != nil {
		msg = append(msg, field{"message_status", "accepted"})
	}
	gr.reply(http.StatusOK, object{
		{"messaging_product", "whatsapp"},
		{"contacts", []object{contact}},
		{"messages", []object{msg}},
	})
}

// markRead handles {"status":"read","message_id":...}: the id must be an inbound message
// received on this number.
func (s *Sandbox) markRead(gr *graphRequest, phoneID string, req sendRequest) {
	if req.Status != "read" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param status must be one of {read}", "")
		return
	}
	if req.MessageID == "" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter message_id is required.", "")
		return
	}
	if req.TypingIndicator != nil && req.TypingIndicator.Type != "text" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param typing_indicator['type'] must be one of {text}", "")
		return
	}
	s.mu.Lock()
	owner, ok := s.state.inbound[req.MessageID]
	if ok && owner == phoneID {
		s.state.readReceipts.push(ReadReceipt{Time: gr.at, PhoneNumberID: phoneID, MessageID: req.MessageID,
			Typing: req.TypingIndicator != nil})
	}
	s.mu.Unlock()
	if !ok || owner != phoneID {
		// Meta: "If you mark a message as read with an invalid message ID, the API returns
		// error code 131009 (Parameter value is not valid)".
		gr.fail(http.StatusBadRequest, 131009, 0, "OAuthException", "(#131009) Parameter value is not valid",
			"Invalid message_id: no message with this id was received by this phone number")
		return
	}
	gr.success()
}

var bsuidRE = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?\d+$`)

// validateSend checks a send the way Meta does synchronously. Asynchronous failures (window,
// undeliverable) are decided later, in accept.
func (s *Sandbox) validateSend(phoneID string, req *sendRequest) (accepted, *sendError) {
	var acc accepted
	if req.RecipientType != "" && req.RecipientType != "individual" {
		return acc, invalidValue("recipient_type " + req.RecipientType + " is not supported by this sandbox")
	}
	to := strings.TrimSpace(req.To)
	switch {
	case req.Recipient != "":
		acc.userID = req.Recipient
	case bsuidRE.MatchString(to):
		acc.userID = to
	case to != "":
		digits := onlyDigits(to)
		if strings.Trim(to, "+0123456789 -()") != "" || len(digits) < 7 || len(digits) > 15 {
			return acc, badParam("Invalid parameter")
		}
		acc.waID = digits
	default:
		return acc, badParam("The parameter to is required.")
	}
	if len(req.BizOpaque) > 512 {
		return acc, badParam("Param biz_opaque_callback_data must be at most 512 characters long.")
	}
	if req.Type == "" {
		req.Type = "text"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.phones[phoneID]
	if acc.waID == "" && acc.userID != "" {
		acc.waID = s.state.userWaID[acc.userID]
	}
	if acc.waID != "" && acc.waID == p.digits {
		return acc, &sendError{http.StatusBadRequest, 131021, "(#131021) Recipient cannot be sender.", "Sender and recipient phone number is the same."}
	}

	switch req.Type {
	case "text":
		if req.Text == nil || req.Text.Body == "" {
			return acc, badParam("The parameter text['body'] is required.")
		}
		if utf8.RuneCountInString(req.Text.Body) > 4096 {
			return acc, badParam("Param text['body'] must be at most 4096 characters long.")
		}
	case "template":
		t, serr := s.checkTemplate(p.wabaID, req.Template)
		if serr != nil {
			return acc, serr
		}
		acc.template, acc.category = t, t.category
	case "interactive":
		if len(req.Interactive) == 0 {
			return acc, badParam("The parameter interactive is required.")
		}
		if serr := checkInteractive(req.Interactive); serr != nil {
			return acc, serr
		}
	case "image", "video", "audio", "document", "sticker":
		if serr := s.checkMedia(p.wabaID, req.Type, req.media()); serr != nil {
			return acc, serr
		}
	case "reaction":
		if req.Reaction == nil || req.Reaction.MessageID == "" {
			return acc, missing("Parameter 'reaction.message_id' is required")
		}
	case "location":
		if req.Location == nil || req.Location.Latitude == nil || req.Location.Longitude == nil {
			return acc, missing("Parameters 'location.latitude' and 'location.longitude' are required")
		}
	case "contacts":
		if len(req.Contacts) == 0 {
			return acc, missing("Parameter 'contacts' is required")
		}
	default:
		return acc, badParam("Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO} - got \"" + req.Type + "\".")
	}
	return acc, nil
}

func (r *sendRequest) media() *sendMedia {
	switch r.Type {
	case "image":
		return r.Image
	case "video":
		return r.Video
	case "audio":
		return r.Audio
	case "document":
		return r.Document
	case "sticker":
		return r.Sticker
	}
	return nil
}

// checkMedia needs s.mu held.
func (s *Sandbox) checkMedia(wabaID, typ string, m *sendMedia) *sendError {
	if m == nil {
		return badParam("The parameter " + typ + " is required.")
	}
	switch {
	case m.ID != "" && m.Link != "":
		return invalidValue("Only one of '" + typ + ".id' and '" + typ + ".link' may be given")
	case m.ID != "":
		if mo := s.state.media[m.ID]; mo == nil || mo.wabaID != wabaID {
			return invalidValue("Invalid media ID: " + m.ID)
		}
	case m.Link != "":
		u, err := url.Parse(m.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalidValue("Param " + typ + ".link must be a valid http(s) URL")
		}
	default:
		return missing("Parameter '" + typ + ".id' or '" + typ + ".link' is required")
	}
	return nil
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

func countPlaceholders(text string) int {
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// checkTemplate finds the template and checks parameter counts; it needs s.mu held.
func (s *Sandbox) checkTemplate(wabaID string, st *sendTemplate) (*template, *sendError) {
	if st == nil {
		return nil, badParam("The parameter template is required.")
	}
	if st.Name == "" {
		return nil, badParam("The parameter template['name'] is required.")
	}
	if st.Language == nil || st.Language.Code == "" {
		return nil, badParam("The parameter template['language'] is required.")
	}
	t := findTemplate(s.state.wabas[wabaID], st.Name, st.Language.Code)
	notFound := &sendError{http.StatusNotFound, 132001, "(#132001) Template name does not exist in the translation",
		fmt.Sprintf("template name (%s) does not exist in %s", st.Name, st.Language.Code)}
	if t == nil {
		return nil, notFound
	}
	switch t.status {
	case "APPROVED":
	case "PAUSED":
		return nil, &sendError{http.StatusBadRequest, 132015, "(#132015) Template is Paused",
			"Template " + t.name + " is paused due to low quality so it cannot be sent in a template message."}
	case "DISABLED":
		return nil, &sendError{http.StatusBadRequest, 132016, "(#132016) Template is Disabled",
			"Template " + t.name + " has been paused too many times due to low quality and is now permanently disabled."}
	default:
		return nil, notFound
	}

	var comps []struct {
		Type   string `json:"type"`
		Format string `json:"format"`
		Text   string `json:"text"`
	}
	_ = json.Unmarshal(t.components, &comps)
	provided := map[string]int{}
	for _, c := range st.Components {
		kind := strings.ToLower(c.Type)
		provided[kind] += len(c.Parameters)
		for _, p := range c.Parameters {
			if p.Type == "text" && (p.Text == nil || *p.Text == "") {
				return nil, missing(kind + ": parameter text is required")
			}
		}
	}
	for _, c := range comps {
		kind := strings.ToLower(c.Type)
		switch {
		case kind == "body" || (kind == "header" && (c.Format == "" || strings.EqualFold(c.Format, "TEXT"))):
			if want := countPlaceholders(c.Text); provided[kind] != want {
				return nil, &sendError{http.StatusBadRequest, 132000, "(#132000) Number of parameters does not match the expected number of params",
					fmt.Sprintf("%s: number of localizable_params (%d) does not match the expected number of params (%d)", kind, provided[kind], want)}
			}
		case kind == "header":
			if provided[kind] == 0 && !strings.EqualFold(c.Format, "LOCATION") {
				return nil, &sendError{http.StatusBadRequest, 132012, "(#132012) Parameter format does not match format in the created template",
					"header: Format mismatch, expected " + strings.ToUpper(c.Format) + ", received UNKNOWN"}
			}
		}
	}
	return t, nil
}

type interactiveMsg struct {
	Type   string `json:"type"`
	Header *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action *struct {
		Button  string `json:"button"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
	} `json:"action"`
}

var interactiveTypes = map[string]bool{
	"button": true, "list": true, "cta_url": true, "flow": true, "product": true, "product_list": true,
	"catalog_message": true, "location_request_message": true, "address_message": true,
	"call_permission_request": true, "carousel": true, "voice_call": true,
}

func tooLong(s string, n int) bool { return utf8.RuneCountInString(s) > n }

// checkInteractive applies Meta's limits to reply buttons and lists.
func checkInteractive(raw json.RawMessage) *sendError {
	var in interactiveMsg
	if err := json.Unmarshal(raw, &in); err != nil {
		return badParam("Param interactive must be an object")
	}
	if !interactiveTypes[in.Type] {
		return badParam("Param interactive['type'] must be one of {BUTTON, LIST, CTA_URL, FLOW, PRODUCT, PRODUCT_LIST, CATALOG_MESSAGE, LOCATION_REQUEST_MESSAGE, ADDRESS_MESSAGE, CALL_PERMISSION_REQUEST, CAROUSEL, VOICE_CALL}")
	}
	if in.Type != "button" && in.Type != "list" {
		return nil
	}
	if in.Body == nil || in.Body.Text == "" {
		return missing("Parameter 'interactive.body.text' is required")
	}
	bodyMax := 1024
	if in.Type == "list" {
		bodyMax = 4096
	}
	if tooLong(in.Body.Text, bodyMax) {
		return invalidValue(fmt.Sprintf("Param interactive['body']['text'] must be at most %d characters long.", bodyMax))
	}
	if in.Header != nil && tooLong(in.Header.Text, 60) {
		return invalidValue("Param interactive['header']['text'] must be at most 60 characters long.")
	}
	if in.Footer != nil && tooLong(in.Footer.Text, 60) {
		return invalidValue("Param interactive['footer']['text'] must be at most 60 characters long.")
	}
	if in.Action == nil {
		return missing("Parameter 'interactive.action' is required")
	}
	if in.Type == "button" {
		bs := in.Action.Buttons
		if len(bs) < 1 || len(bs) > 3 {
			return invalidValue("Param interactive['action']['buttons'] must contain 1 to 3 buttons.")
		}
		ids, titles := map[string]bool{}, map[string]bool{}
		for i, b := range bs {
			switch {
			case b.Type != "reply":
				return invalidValue(fmt.Sprintf("Param interactive['action']['buttons'][%d]['type'] must be reply.", i))
			case b.Reply.ID == "" || tooLong(b.Reply.ID, 256):
				return invalidValue(fmt.Sprintf("Param interactive['action']['buttons'][%d]['reply']['id'] must be 1 to 256 characters long.", i))
			case b.Reply.Title == "" || tooLong(b.Reply.Title, 20):
				return invalidValue(fmt.Sprintf("Param interactive['action']['buttons'][%d]['reply']['title'] must be 1 to 20 characters long.", i))
			case ids[b.Reply.ID] || titles[b.Reply.Title]:
				return invalidValue("Buttons must have unique ids and titles.")
			}
			ids[b.Reply.ID], titles[b.Reply.Title] = true, true
		}
		return nil
	}
	if in.Action.Button == "" || tooLong(in.Action.Button, 20) {
		return invalidValue("Param interactive['action']['button'] must be 1 to 20 characters long.")
	}
	secs := in.Action.Sections
	if len(secs) < 1 || len(secs) > 10 {
		return invalidValue("Param interactive['action']['sections'] must contain 1 to 10 sections.")
	}
	rows := 0
	ids := map[string]bool{}
	for i, sec := range secs {
		if len(secs) > 1 && sec.Title == "" {
			return missing(fmt.Sprintf("Parameter 'interactive.action.sections[%d].title' is required when there are several sections", i))
		}
		if tooLong(sec.Title, 24) {
			return invalidValue(fmt.Sprintf("Param interactive['action']['sections'][%d]['title'] must be at most 24 characters long.", i))
		}
		for j, r := range sec.Rows {
			rows++
			switch {
			case r.ID == "" || tooLong(r.ID, 200):
				return invalidValue(fmt.Sprintf("Param interactive['action']['sections'][%d]['rows'][%d]['id'] must be 1 to 200 characters long.", i, j))
			case r.Title == "" || tooLong(r.Title, 24):
				return invalidValue(fmt.Sprintf("Param interactive['action']['sections'][%d]['rows'][%d]['title'] must be 1 to 24 characters long.", i, j))
			case tooLong(r.Description, 72):
				return invalidValue(fmt.Sprintf("Param interactive['action']['sections'][%d]['rows'][%d]['description'] must be at most 72 characters long.", i, j))
			case ids[r.ID]:
				return invalidValue("Row ids must be unique.")
			}
			ids[r.ID] = true
		}
	}
	if rows < 1 || rows > 10 {
		return invalidValue("A list must contain 1 to 10 rows in total.")
	}
	return nil
}

// accept records the message and schedules its status webhooks: sent, delivered, read; or
// one failed status for an undeliverable recipient (131026) or a non-template message
// outside the 24-hour window (131047), which Meta also accepts first.
func (s *Sandbox) accept(phoneID string, req *sendRequest, raw []byte, acc accepted) *Message {
	now := time.Now()
	s.mu.Lock()
	p := s.state.phones[phoneID]
	inWindow := s.state.inWindow(phoneID, acc.waID, acc.userID, now)
	undeliverable := acc.waID != "" && s.state.undeliverable[acc.waID]
	marketingLimited := acc.waID != "" && acc.template != nil && acc.template.category == "MARKETING" && s.state.marketingLimited[acc.waID]
	m := &Message{
		ID: newWAMID(orDefault(acc.waID, acc.userID)), PhoneNumberID: phoneID, WABAID: p.wabaID,
		To: acc.waID, UserID: acc.userID, Type: req.Type, BizOpaqueCallbackData: req.BizOpaque,
		Payload: json.RawMessage(bytes.Clone(raw)), AcceptedAt: now, Status: "accepted",
	}
	if acc.template != nil {
		m.TemplateName, m.TemplateLanguage, m.TemplateCategory = acc.template.name, acc.template.language, acc.template.category
	}
	m.Pricing = pricingFor(acc.category, inWindow)
	s.state.addMessage(m)
	s.mu.Unlock()

	var plan []statusStep
	switch {
	case undeliverable:
		plan = []statusStep{{status: "failed", err: &webhookError{
			Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable",
			ErrorData: errorDetails{Details: "Message Undeliverable."},
		}}}
	case marketingLimited:
		plan = []statusStep{{status: "failed", err: &webhookError{
			Code: 131049, Title: "This message was not delivered to maintain healthy ecosystem engagement.",
			Message:   "This message was not delivered to maintain healthy ecosystem engagement.",
			ErrorData: errorDetails{Details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."},
		}}}
	case acc.template == nil && !inWindow:
		plan = []statusStep{{status: "failed", err: &webhookError{
			Code: 131047, Title: "Re-engagement message", Message: "Re-engagement message",
			ErrorData: errorDetails{Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
		}}}
	default:
		plan = []statusStep{{status: "sent", pricing: true}, {status: "delivered", pricing: true}, {status: "read"}}
	}
	s.scheduleStatuses(m.ID, plan)
	return m
}

// pricingFor is the PMP pricing object: templates by category (utility free inside the
// window), everything else a free service message.
func pricingFor(templateCategory string, inWindow bool) *Pricing {
	switch templateCategory {
	case "":
		return &Pricing{Billable: false, PricingModel: "PMP", Category: "service", Type: "free_customer_service"}
	case "UTILITY":
		if inWindow {
			return &Pricing{Billable: false, PricingModel: "PMP", Category: "utility", Type: "free_customer_service"}
		}
	}
	return &Pricing{Billable: true, PricingModel: "PMP", Category: strings.ToLower(templateCategory), Type: "regular"}
}
