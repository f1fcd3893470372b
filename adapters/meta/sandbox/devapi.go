package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Inbound is a message from a WhatsApp user to a business number, injected by InjectInbound
// (or POST /_sandbox/inbound) and delivered as a signed `messages` webhook.
type Inbound struct {
	PhoneNumberID string
	// From is the user's number (digits; "+" and formatting are stripped). Empty for a
	// username-only user known by UserID alone.
	From string
	// UserID is the user's business-scoped user id (BSUID), e.g. "US.13491208655302741918".
	UserID string
	// Name is the user's profile name (default "WhatsApp User").
	Name string
	// Type is the message type (default "text"): text, image, video, audio, document,
	// sticker, location, contacts, interactive, button, reaction, order, system,
	// request_welcome, unsupported, ...
	Type string
	// Text is the body of a text message.
	Text string
	// Content is the object named after Type, as Meta sends it (for text it replaces Text).
	// Media types without an "id" get a generated media object that GET /{media-id} serves.
	Content json.RawMessage
	// Context and Referral are copied to the message as given.
	Context  json.RawMessage
	Referral json.RawMessage
	// Timestamp defaults to now; an older time simulates an old conversation (the 24-hour
	// window is measured from it).
	Timestamp time.Time
	// MediaData is the file of a media message without an "id" (placeholder bytes when
	// empty). A "sha256" given in Content is what Meta reports for it (the webhook and
	// GET /{media-id}) whatever the bytes: a corrupt download, for the product to catch.
	MediaData []byte
}

var defaultMediaMIME = map[string]string{
	"image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg", "document": "application/pdf", "sticker": "image/webp",
}

// InjectInbound simulates a user writing to the business number: it opens (or refreshes)
// the user's 24-hour window on that number and queues the `messages` webhook. It returns
// the inbound message's wamid (usable with mark-as-read).
func (s *Sandbox) InjectInbound(in Inbound) (string, error) {
	from := onlyDigits(in.From)
	if in.From != "" && !digitsRE.MatchString(from) {
		return "", fmt.Errorf("sandbox: from %q is not a phone number", in.From)
	}
	if from == "" && in.UserID == "" {
		return "", errors.New("sandbox: from or user_id is required")
	}
	typ := orDefault(in.Type, "text")
	content := in.Content
	if typ == "text" && len(content) == 0 {
		if in.Text == "" {
			return "", errors.New("sandbox: text is required for a text message")
		}
		content, _ = marshalPlain(map[string]string{"body": in.Text})
	}
	if len(content) > 0 && !json.Valid(content) {
		return "", errors.New("sandbox: the message content is not JSON")
	}
	for _, raw := range []json.RawMessage{in.Context, in.Referral} {
		if len(raw) > 0 && !json.Valid(raw) {
			return "", errors.New("sandbox: context and referral must be JSON")
		}
	}
	ts := in.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}

	s.mu.Lock()
	p := s.state.phones[in.PhoneNumberID]
	if p == nil {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: phone number %s", ErrNotFound, in.PhoneNumberID)
	}
	if mime, ok := defaultMediaMIME[typ]; ok {
		var err error
		if content, err = s.state.inboundMedia(p, typ, mime, content, in.MediaData); err != nil {
			s.mu.Unlock()
			return "", err
		}
	}
	wamid := newWAMID(orDefault(from, in.UserID))
	s.state.addInbound(wamid, p.id)
	s.state.openWindow(p.id, from, in.UserID, ts)
	if in.UserID != "" && from != "" {
		s.state.userWaID[in.UserID] = from
	}
	w := s.state.wabas[p.wabaID]
	meta := metadata(p)
	s.mu.Unlock()

	contact := object{{"profile", object{{"name", orDefault(in.Name, "WhatsApp User")}}}}
	msg := object{}
	if from != "" {
		contact = append(contact, field{"wa_id", from})
		msg = append(msg, field{"from", from})
	}
	if in.UserID != "" {
		contact = append(contact, field{"user_id", in.UserID})
		msg = append(msg, field{"from_user_id", in.UserID})
	}
	msg = append(msg, field{"id", wamid}, field{"timestamp", strconv.FormatInt(ts.Unix(), 10)})
	if len(in.Context) > 0 {
		msg = append(msg, field{"context", in.Context})
	}
	if len(in.Referral) > 0 {
		msg = append(msg, field{"referral", in.Referral})
	}
	msg = append(msg, field{"type", typ})
	if len(content) > 0 {
		msg = append(msg, field{typ, content})
	}
	if typ == "unsupported" || typ == "unknown" {
		msg = append(msg, field{"errors", []webhookError{{
			Code: 131051, Title: "Message type unknown", Message: "Message type unknown",
			ErrorData: errorDetails{Details: "Message type is currently not supported."}, Href: errorCodesHref,
		}}})
	}
	value := object{
		{"messaging_product", "whatsapp"},
		{"metadata", meta},
		{"contacts", []object{contact}},
		{"messages", []object{msg}},
	}
	body, err := Marshal(envelope(p.wabaID, "messages", value, false, ts))
	if err != nil {
		return "", err
	}
	s.disp.schedule(0, &event{
		kind: "inbound:" + typ, field: "messages", messageID: wamid,
		build: func(time.Time) (string, []byte, string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			u, skip := s.messagesURL(p, w)
			return u, body, skip
		},
	})
	return wamid, nil
}

// inboundMedia gives a received media message a real media object (placeholder bytes) so
// the product can fetch and download it. Needs s.mu held.
func (st *state) inboundMedia(p *phone, typ, defaultMIME string, content json.RawMessage, data []byte) (json.RawMessage, error) {
	obj := map[string]any{}
	if len(content) > 0 {
		if err := json.Unmarshal(content, &obj); err != nil {
			return nil, fmt.Errorf("sandbox: %s must be an object", typ)
		}
	}
	if id, _ := obj["id"].(string); id != "" {
		return content, nil
	}
	mime, _ := obj["mime_type"].(string)
	if mime == "" {
		mime = defaultMIME
	}
	if len(data) == 0 {
		data = []byte("sandbox " + typ + " " + strconv.FormatInt(time.Now().UnixNano(), 10))
	}
	sum := sha256.Sum256(data)
	reported := hex.EncodeToString(sum[:])
	if given, _ := obj["sha256"].(string); given != "" {
		reported = given
	}
	m := &mediaObject{id: st.newID(16), wabaID: p.wabaID, mimeType: mime, sha256: reported, data: bytes.Clone(data)}
	if fn, _ := obj["filename"].(string); fn != "" {
		m.filename = fn
	} else if typ == "document" {
		m.filename, obj["filename"] = "document.pdf", "document.pdf"
	}
	st.addMedia(m)
	obj["id"], obj["mime_type"], obj["sha256"] = m.id, mime, m.sha256
	switch typ {
	case "audio":
		if _, ok := obj["voice"]; !ok {
			obj["voice"] = false
		}
	case "sticker":
		if _, ok := obj["animated"]; !ok {
			obj["animated"] = false
		}
	}
	return marshalPlain(obj)
}

// serveDev routes the developer API under /_sandbox/.
func (s *Sandbox) serveDev(w http.ResponseWriter, r *http.Request, segs []string) {
	route := r.Method + " " + strings.Join(segs, "/")
	if len(segs) == 3 && segs[0] == "templates" && r.Method == http.MethodPost {
		s.serveTemplateControl(w, r, segs[1], segs[2])
		return
	}
	switch route {
	case "POST accounts":
		var opts AccountOptions
		if !devDecode(w, r, &opts) {
			return
		}
		acct, err := s.CreateAccount(opts)
		if err != nil {
			devError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, acct)
	case "POST inbound":
		in, err := decodeInbound(r)
		if err != nil {
			devError(w, err)
			return
		}
		wamid, err := s.InjectInbound(in)
		if err != nil {
			devError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": wamid})
	case "POST undeliverable", "POST marketing-limit", "DELETE marketing-limit":
		var body struct {
			WaID string `json:"wa_id"`
		}
		if !devDecode(w, r, &body) {
			return
		}
		if onlyDigits(body.WaID) == "" {
			devError(w, errors.New("sandbox: wa_id is required"))
			return
		}
		switch route {
		case "POST undeliverable":
			s.MarkUndeliverable(body.WaID)
		case "POST marketing-limit":
			s.MarkMarketingLimited(body.WaID)
		default:
			s.LiftMarketingLimit(body.WaID)
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case "POST throughput":
		var body struct {
			PhoneNumberID string `json:"phone_number_id"`
			Throughput    int    `json:"throughput"`
		}
		if !devDecode(w, r, &body) {
			return
		}
		if err := s.SetThroughput(body.PhoneNumberID, body.Throughput); err != nil {
			devError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case "POST quality":
		var body struct {
			PhoneNumberID string `json:"phone_number_id"`
			NumberQuality
		}
		if !devDecode(w, r, &body) {
			return
		}
		if err := s.SetNumberQuality(body.PhoneNumberID, body.NumberQuality); err != nil {
			devError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case "POST templates":
		var body struct {
			WABAID string `json:"waba_id"`
			TemplateSpec
		}
		if !devDecode(w, r, &body) {
			return
		}
		id, err := s.AddTemplate(body.WABAID, body.TemplateSpec)
		if err != nil {
			devError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": id})
	case "POST config":
		var body struct {
			LatencyMS     *int64   `json:"latency_ms"`
			FailureRate   *float64 `json:"failure_rate"`
			StatusDelayMS *int64   `json:"status_delay_ms"`
		}
		if !devDecode(w, r, &body) {
			return
		}
		if body.FailureRate != nil && (*body.FailureRate < 0 || *body.FailureRate > 1) {
			devError(w, errors.New("sandbox: failure_rate must be between 0 and 1"))
			return
		}
		if body.LatencyMS != nil {
			s.SetLatency(time.Duration(*body.LatencyMS) * time.Millisecond)
		}
		if body.FailureRate != nil {
			s.SetFailureRate(*body.FailureRate)
		}
		if body.StatusDelayMS != nil {
			s.SetStatusDelay(time.Duration(*body.StatusDelayMS) * time.Millisecond)
		}
		writeJSON(w, http.StatusOK, s.currentSettings())
	case "GET config":
		writeJSON(w, http.StatusOK, s.currentSettings())
	case "GET calls":
		writeJSON(w, http.StatusOK, map[string]any{"data": s.Calls()})
	case "GET messages":
		q := r.URL.Query()
		out := []Message{}
		for _, m := range s.Messages() {
			if (q.Get("phone_number_id") == "" || q.Get("phone_number_id") == m.PhoneNumberID) &&
				(q.Get("to") == "" || onlyDigits(q.Get("to")) == m.To) &&
				(q.Get("status") == "" || q.Get("status") == m.Status) {
				out = append(out, m)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": out})
	case "GET read-receipts":
		writeJSON(w, http.StatusOK, map[string]any{"data": s.readReceiptLog(r.URL.Query().Get("phone_number_id"))})
	case "GET webhooks":
		writeJSON(w, http.StatusOK, map[string]any{"data": s.Webhooks()})
	default:
		writeJSON(w, http.StatusNotFound, devErrorBody("sandbox: no route "+r.Method+" "+r.URL.Path))
	}
}

func (s *Sandbox) currentSettings() Settings {
	latency, failureRate, statusDelay := s.settings()
	return Settings{LatencyMS: latency.Milliseconds(), FailureRate: failureRate, StatusDelayMS: statusDelay.Milliseconds()}
}

// decodeInbound reads POST /_sandbox/inbound: {phone_number_id, from, user_id?, name?,
// text?, type?, "<type>": {...}, context?, referral?, timestamp? (unix seconds)}. "text"
// may be a string (the body) or Meta's {"body": ...} object.
func decodeInbound(r *http.Request) (Inbound, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return Inbound{}, err
	}
	var fieldsIn map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fieldsIn); err != nil {
		return Inbound{}, errors.New("sandbox: body must be a JSON object")
	}
	str := func(k string) string {
		var v string
		_ = json.Unmarshal(fieldsIn[k], &v)
		return v
	}
	in := Inbound{
		PhoneNumberID: str("phone_number_id"), From: str("from"), UserID: str("user_id"), Name: str("name"),
		Type: str("type"), Context: fieldsIn["context"], Referral: fieldsIn["referral"],
	}
	if raw, ok := fieldsIn["media_base64"]; ok {
		if err := json.Unmarshal(raw, &in.MediaData); err != nil {
			return Inbound{}, errors.New("sandbox: media_base64 must be base64 text")
		}
	}
	if in.From == "" {
		var n json.Number
		if json.Unmarshal(fieldsIn["from"], &n) == nil {
			in.From = n.String()
		}
	}
	if ts, ok := fieldsIn["timestamp"]; ok {
		var n json.Number
		if err := json.Unmarshal([]byte(strings.Trim(string(ts), `"`)), &n); err != nil {
			return Inbound{}, errors.New("sandbox: timestamp must be unix seconds")
		}
		sec, err := n.Int64()
		if err != nil {
			return Inbound{}, errors.New("sandbox: timestamp must be unix seconds")
		}
		in.Timestamp = time.Unix(sec, 0)
	}
	typ := orDefault(in.Type, "text")
	if c, ok := fieldsIn[typ]; ok {
		if typ == "text" && strings.HasPrefix(strings.TrimSpace(string(c)), `"`) {
			in.Text = str("text")
		} else {
			in.Content = c
		}
	}
	return in, nil
}

func devDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, devErrorBody("sandbox: invalid JSON body: "+err.Error()))
		return false
	}
	return true
}

func devError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	}
	writeJSON(w, status, devErrorBody(err.Error()))
}

func devErrorBody(msg string) map[string]any {
	return map[string]any{"error": map[string]string{"message": msg, "type": "SandboxException"}}
}

// serveTemplateControl handles POST /_sandbox/templates/{id}/status {status, reason?},
// .../quality {quality} and .../category {category}: the template changes and the matching
// webhook is sent, as Meta would.
func (s *Sandbox) serveTemplateControl(w http.ResponseWriter, r *http.Request, id, what string) {
	var body struct {
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		Quality  string `json:"quality"`
		Category string `json:"category"`
	}
	if !devDecode(w, r, &body) {
		return
	}
	var err error
	switch what {
	case "status":
		err = s.SetTemplateStatus(id, body.Status, body.Reason)
	case "quality":
		err = s.SetTemplateQuality(id, body.Quality)
	case "category":
		err = s.SetTemplateCategory(id, body.Category)
	default:
		writeJSON(w, http.StatusNotFound, devErrorBody("sandbox: no route "+r.Method+" "+r.URL.Path))
		return
	}
	if err != nil {
		devError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}
