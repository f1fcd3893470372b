package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serveGraph routes /{version}/{segs...}.
func (s *Sandbox) serveGraph(w http.ResponseWriter, r *http.Request, segs []string) {
	gr := s.newGraphRequest(w, r)
	defer s.recordCall(gr)
	latency, _, _ := s.settings()
	s.sleep(r.Context(), latency)

	switch {
	case len(segs) == 2 && segs[0] == "oauth" && segs[1] == "access_token":
		s.oauthAccessToken(gr)
		return
	case len(segs) == 1 && segs[0] == "debug_token":
		s.debugToken(gr)
		return
	case len(segs) == 0 || segs[0] == "" || len(segs) > 2:
		gr.fail(http.StatusBadRequest, 2500, 0, "OAuthException", "Unknown path components: "+r.URL.Path, "")
		return
	}

	token := bearer(r)
	s.mu.Lock()
	gr.acct = s.state.tokens[token]
	s.mu.Unlock()
	if gr.acct == nil {
		gr.badToken()
		return
	}
	id := segs[0]
	edge := ""
	if len(segs) == 2 {
		edge = segs[1]
	}
	kind, owner := s.objectOf(id)
	if kind == "" || !gr.allowed(s, owner) {
		gr.noObject(id)
		return
	}
	switch kind {
	case "waba":
		gr.wabaID = id
	case "phone":
		gr.phoneID, gr.wabaID = id, owner
	default:
		gr.wabaID = owner
	}

	m := r.Method
	switch {
	case kind == "phone" && edge == "" && m == http.MethodGet:
		s.getPhone(gr, id)
	case kind == "phone" && edge == "" && m == http.MethodPost:
		s.updatePhone(gr, id)
	case kind == "phone" && edge == "messages" && m == http.MethodPost:
		s.postMessages(gr, id)
	case kind == "phone" && edge == "register" && m == http.MethodPost:
		s.register(gr, id)
	case kind == "phone" && edge == "deregister" && m == http.MethodPost:
		s.deregister(gr, id)
	case kind == "phone" && edge == "media" && m == http.MethodPost:
		s.uploadMedia(gr, id)
	case kind == "waba" && edge == "" && m == http.MethodGet:
		s.getWABA(gr, id)
	case kind == "waba" && edge == "phone_numbers" && m == http.MethodGet:
		s.listPhones(gr, id)
	case kind == "waba" && edge == "subscribed_apps":
		s.subscribedApps(gr, id)
	case kind == "waba" && edge == "message_templates":
		s.messageTemplates(gr, id)
	case kind == "media" && edge == "" && m == http.MethodGet:
		s.getMedia(gr, id)
	case kind == "media" && edge == "" && m == http.MethodDelete:
		s.deleteMedia(gr, id)
	case kind == "template" && edge == "" && m == http.MethodGet:
		s.getTemplate(gr, id)
	case edge != "" && !knownEdge(kind, edge):
		gr.fail(http.StatusBadRequest, 2500, 0, "OAuthException", "Unknown path components: /"+edge, "")
	default:
		gr.noObject(id)
	}
}

func knownEdge(kind, edge string) bool {
	switch kind {
	case "phone":
		return edge == "messages" || edge == "register" || edge == "deregister" || edge == "media"
	case "waba":
		return edge == "phone_numbers" || edge == "subscribed_apps" || edge == "message_templates"
	}
	return false
}

// objectOf names what id is and the WABA that owns it.
func (s *Sandbox) objectOf(id string) (kind, wabaID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.state
	if w := st.wabas[id]; w != nil {
		return "waba", w.id
	}
	if p := st.phones[id]; p != nil {
		return "phone", p.wabaID
	}
	if m := st.media[id]; m != nil {
		return "media", m.wabaID
	}
	if t := st.templates[id]; t != nil {
		return "template", t.wabaID
	}
	return "", ""
}

func (gr *graphRequest) allowed(s *Sandbox, wabaID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return gr.acct.wabas[wabaID]
}

// oauthAccessToken exchanges an Embedded Signup code (single use) for its business token.
func (s *Sandbox) oauthAccessToken(gr *graphRequest) {
	if gr.r.Method != http.MethodGet && gr.r.Method != http.MethodPost {
		gr.noObject("access_token")
		return
	}
	q := gr.r.URL.Query()
	if q.Get("client_id") != s.appID || s.appID == "" {
		gr.fail(http.StatusBadRequest, 101, 0, "OAuthException", "Error validating application. Invalid application ID.", "")
		return
	}
	if !hmac.Equal([]byte(q.Get("client_secret")), []byte(s.appSecret)) {
		gr.fail(http.StatusBadRequest, 1, 0, "OAuthException", "Error validating client secret.", "")
		return
	}
	code := q.Get("code")
	s.mu.Lock()
	sc := s.state.codes[code]
	used := sc != nil && sc.used
	if sc != nil {
		sc.used = true
	}
	s.mu.Unlock()
	switch {
	case code == "" || sc == nil:
		gr.fail(http.StatusBadRequest, 100, 36007, "OAuthException", "Invalid verification code format.", "")
	case used:
		gr.fail(http.StatusBadRequest, 100, 36009, "OAuthException", "This authorization code has been used.", "")
	default:
		gr.reply(http.StatusOK, object{{"access_token", sc.token}, {"token_type", "bearer"}})
	}
}

// debugToken inspects input_token; callers authorise with the app token or any valid token.
func (s *Sandbox) debugToken(gr *graphRequest) {
	if gr.r.Method != http.MethodGet {
		gr.noObject("debug_token")
		return
	}
	caller := bearer(gr.r)
	input := gr.r.URL.Query().Get("input_token")
	s.mu.Lock()
	_, callerOK := s.state.tokens[caller]
	acct := s.state.tokens[input]
	var wabaIDs []string
	userID := ""
	if acct != nil {
		userID = acct.userID
		for id := range acct.wabas {
			wabaIDs = append(wabaIDs, id)
		}
	}
	s.mu.Unlock()
	appToken := s.appID + "|" + s.appSecret
	if !callerOK && (caller == "" || !hmac.Equal([]byte(caller), []byte(appToken))) {
		gr.badToken()
		return
	}
	if input == "" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter input_token is required", "")
		return
	}
	if acct == nil {
		gr.reply(http.StatusOK, map[string]any{"data": object{
			{"error", object{{"code", 190}, {"message", "Invalid OAuth access token - Cannot parse access token"}}},
			{"is_valid", false},
			{"scopes", []string{}},
		}})
		return
	}
	slices.Sort(wabaIDs)
	gr.reply(http.StatusOK, map[string]any{"data": object{
		{"app_id", s.appID},
		{"type", "SYSTEM_USER"},
		{"application", "WABA Sandbox"},
		{"data_access_expires_at", 0},
		{"expires_at", 0},
		{"is_valid", true},
		{"issued_at", time.Now().Add(-time.Minute).Unix()},
		{"scopes", []string{"whatsapp_business_management", "whatsapp_business_messaging", "business_management", "public_profile"}},
		{"granular_scopes", []object{
			{{"scope", "whatsapp_business_management"}, {"target_ids", wabaIDs}},
			{{"scope", "whatsapp_business_messaging"}, {"target_ids", wabaIDs}},
		}},
		{"user_id", userID},
	}})
}

// fields parses Graph's fields parameter ("a,b{c,d},e") into top-level names.
func fields(q url.Values, defaults []string) []string {
	raw := q.Get("fields")
	if raw == "" {
		return defaults
	}
	var out []string
	depth, start := 0, 0
	flush := func(end int) {
		name := strings.TrimSpace(raw[start:end])
		if i := strings.IndexAny(name, "{.("); i >= 0 {
			name = name[:i]
		}
		if name != "" {
			out = append(out, name)
		}
	}
	for i, c := range raw {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				flush(i)
				start = i + 1
			}
		}
	}
	flush(len(raw))
	return out
}

// selectFields builds an object of the requested fields (id last, as Graph does); an unknown
// field is Meta's (#100) error, reported through the returned name.
func selectFields(names []string, value func(string) (any, bool)) (object, string) {
	var o object
	for _, n := range names {
		if n == "id" {
			continue
		}
		v, ok := value(n)
		if !ok {
			return nil, n
		}
		if v == nil {
			continue
		}
		o = append(o, field{n, v})
	}
	id, _ := value("id") // Graph returns id whether or not it was asked for
	return append(o, field{"id", id}), ""
}

var defaultPhoneFields = []string{"verified_name", "code_verification_status", "display_phone_number", "quality_rating", "platform_type", "throughput", "webhook_configuration", "id"}

// phoneField is the value of one field of a phone number node.
func phoneField(p *phone, appURL string, w *waba) func(string) (any, bool) {
	return func(name string) (any, bool) {
		switch name {
		case "id":
			return p.id, true
		case "display_phone_number":
			return p.display, true
		case "verified_name":
			return p.verifiedName, true
		case "quality_rating":
			return p.quality, true
		case "code_verification_status":
			return "VERIFIED", true
		case "name_status":
			return "APPROVED", true
		case "new_name_status":
			return "NONE", true
		case "platform_type":
			if p.registered {
				return "CLOUD_API", true
			}
			return "NOT_APPLICABLE", true
		case "status":
			if p.registered {
				return "CONNECTED", true
			}
			return "PENDING", true
		case "throughput":
			level := "STANDARD"
			if p.throughput >= 1000 {
				level = "HIGH"
			}
			return object{{"level", level}}, true
		case "messaging_limit_tier", "whatsapp_business_manager_messaging_limit":
			return p.tier, true
		case "is_official_business_account", "is_on_biz_app":
			return false, true
		case "account_mode":
			return "LIVE", true
		case "is_pin_enabled":
			return p.pin != "", true
		case "last_onboarded_time":
			return p.created.UTC().Format("2006-01-02T15:04:05-0700"), true
		case "search_visibility":
			return "VISIBLE", true
		case "health_status":
			can := "AVAILABLE"
			if !p.registered {
				can = "LIMITED"
			}
			return object{{"can_send_message", can}, {"entities", []object{
				{{"entity_type", "PHONE_NUMBER"}, {"id", p.id}, {"can_send_message", can}},
				{{"entity_type", "WABA"}, {"id", p.wabaID}, {"can_send_message", "AVAILABLE"}},
			}}}, true
		case "webhook_configuration":
			wc := object{{"application", appURL}}
			if w != nil && w.overrideURL != "" {
				wc = append(wc, field{"whatsapp_business_account", w.overrideURL})
			}
			if p.overrideURL != "" {
				wc = append(wc, field{"phone_number", p.overrideURL})
			}
			return wc, true
		}
		return nil, false
	}
}

func (gr *graphRequest) unknownField(name, nodeType string) {
	gr.fail(http.StatusBadRequest, 100, 0, "OAuthException",
		fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (%s)", name, nodeType), "")
}

func (s *Sandbox) getPhone(gr *graphRequest, id string) {
	s.mu.Lock()
	p := s.state.phones[id]
	o, bad := selectFields(fields(gr.r.URL.Query(), defaultPhoneFields), phoneField(p, s.callbackURL, s.state.wabas[p.wabaID]))
	s.mu.Unlock()
	if bad != "" {
		gr.unknownField(bad, "WhatsAppBusinessPhoneNumber")
		return
	}
	gr.reply(http.StatusOK, o)
}

func (s *Sandbox) listPhones(gr *graphRequest, wabaID string) {
	names := fields(gr.r.URL.Query(), defaultPhoneFields)
	s.mu.Lock()
	w := s.state.wabas[wabaID]
	var data []object
	bad := ""
	for _, id := range w.phones {
		p := s.state.phones[id]
		o, b := selectFields(names, phoneField(p, s.callbackURL, w))
		if b != "" {
			bad = b
			break
		}
		data = append(data, o)
	}
	s.mu.Unlock()
	if bad != "" {
		gr.unknownField(bad, "WhatsAppBusinessPhoneNumber")
		return
	}
	gr.reply(http.StatusOK, page(gr.r, data, 0, len(data)))
}

// page wraps data[from:to] (of all) with Graph's cursor paging.
func page[T any](r *http.Request, all []T, from, to int) object {
	items := all[from:to]
	if items == nil {
		items = []T{}
	}
	o := object{{"data", items}}
	if len(all) == 0 {
		return o
	}
	paging := object{{"cursors", object{{"before", encodeCursor(from)}, {"after", encodeCursor(max(to-1, from))}}}}
	if to < len(all) {
		q := r.URL.Query()
		q.Del("access_token")
		q.Set("after", encodeCursor(to-1))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		paging = append(paging, field{"next", scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()})
	}
	return append(o, field{"paging", paging})
}

func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("idx:" + strconv.Itoa(i)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "idx:"))
	return n, err == nil && n >= 0
}

// updatePhone handles POST /{phone}: only webhook_configuration (the per-number override).
func (s *Sandbox) updatePhone(gr *graphRequest, id string) {
	var body struct {
		WebhookConfiguration *struct {
			OverrideCallbackURI string `json:"override_callback_uri"`
			VerifyToken         string `json:"verify_token"`
		} `json:"webhook_configuration"`
	}
	if err := decodeJSON(gr.r, &body); err != nil || body.WebhookConfiguration == nil {
		gr.invalidParam("Only webhook_configuration can be updated on this sandbox")
		return
	}
	wc := body.WebhookConfiguration
	if wc.OverrideCallbackURI != "" && !s.verifyCallback(gr, wc.OverrideCallbackURI, wc.VerifyToken) {
		return
	}
	s.mu.Lock()
	s.state.phones[id].overrideURL = wc.OverrideCallbackURI
	s.mu.Unlock()
	gr.success()
}

// verifyCallback runs Meta's GET handshake against an override URL on the spot.
func (s *Sandbox) verifyCallback(gr *graphRequest, callback, verifyToken string) bool {
	if u, err := url.Parse(callback); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param override_callback_uri must be a valid URL", "")
		return false
	}
	if err := s.disp.handshake(gr.r.Context(), callback, verifyToken); err != nil {
		gr.fail(http.StatusBadRequest, 2200, 0, "OAuthException",
			"(#2200) Callback verification failed with the following errors: "+err.Error(), "")
		return false
	}
	s.mu.Lock()
	s.state.verified[callback] = true
	s.mu.Unlock()
	return true
}

var pinRE = regexp.MustCompile(`^\d{6}$`)

func (s *Sandbox) register(gr *graphRequest, id string) {
	var body struct {
		MessagingProduct string `json:"messaging_product"`
		PIN              any    `json:"pin"`
	}
	if err := decodeJSON(gr.r, &body); err != nil {
		gr.invalidParam("Request body is not valid JSON")
		return
	}
	if body.MessagingProduct != "whatsapp" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	}
	pin, _ := body.PIN.(string)
	if n, ok := body.PIN.(json.Number); ok {
		pin = n.String()
	}
	if !pinRE.MatchString(pin) {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param pin must be 6 characters long.", "")
		return
	}
	s.mu.Lock()
	p := s.state.phones[id]
	mismatch := p.pin != "" && p.pin != pin
	if !mismatch {
		p.pin, p.registered = pin, true
	}
	s.mu.Unlock()
	if mismatch {
		gr.waFail(http.StatusBadRequest, 133005, "Two step verification PIN Mismatch",
			"Two-step verification PIN incorrect.")
		return
	}
	gr.success()
}

func (s *Sandbox) deregister(gr *graphRequest, id string) {
	s.mu.Lock()
	s.state.phones[id].registered = false
	s.mu.Unlock()
	gr.success()
}

var defaultWABAFields = []string{"id", "name", "currency", "timezone_id", "message_template_namespace"}

func (s *Sandbox) getWABA(gr *graphRequest, id string) {
	s.mu.Lock()
	w := s.state.wabas[id]
	o, bad := selectFields(fields(gr.r.URL.Query(), defaultWABAFields), func(name string) (any, bool) {
		switch name {
		case "id":
			return w.id, true
		case "name":
			return w.name, true
		case "currency":
			return "USD", true
		case "timezone_id":
			return "1", true
		case "message_template_namespace":
			return w.namespace, true
		case "account_review_status":
			return "APPROVED", true
		case "business_verification_status":
			return "verified", true
		case "ownership_type":
			return "CLIENT_OWNED", true
		case "status":
			return "ACTIVE", true
		}
		return nil, false
	})
	s.mu.Unlock()
	if bad != "" {
		gr.unknownField(bad, "WhatsAppBusinessAccount")
		return
	}
	gr.reply(http.StatusOK, o)
}

// subscribedApps handles GET/POST/DELETE /{waba}/subscribed_apps.
func (s *Sandbox) subscribedApps(gr *graphRequest, wabaID string) {
	switch gr.r.Method {
	case http.MethodGet:
		s.mu.Lock()
		w := s.state.wabas[wabaID]
		data := []object{}
		if w.subscribed {
			app := object{{"whatsapp_business_api_data", object{
				{"link", "https://www.facebook.com/games/?app_id=" + s.appID},
				{"name", "WABA Sandbox App"},
				{"id", s.appID},
			}}}
			if w.overrideURL != "" {
				app = append(object{{"override_callback_uri", w.overrideURL}}, app...)
			}
			data = append(data, app)
		}
		s.mu.Unlock()
		gr.reply(http.StatusOK, object{{"data", data}})
	case http.MethodPost:
		var body struct {
			OverrideCallbackURI string `json:"override_callback_uri"`
			VerifyToken         string `json:"verify_token"`
		}
		if gr.r.ContentLength != 0 {
			raw, err := io.ReadAll(io.LimitReader(gr.r.Body, 1<<20))
			if err != nil || (len(strings.TrimSpace(string(raw))) > 0 && json.Unmarshal(raw, &body) != nil) {
				gr.invalidParam("Request body is not valid JSON")
				return
			}
		}
		if body.OverrideCallbackURI != "" && !s.verifyCallback(gr, body.OverrideCallbackURI, body.VerifyToken) {
			return
		}
		s.mu.Lock()
		w := s.state.wabas[wabaID]
		w.subscribed = true
		w.overrideURL = body.OverrideCallbackURI
		s.mu.Unlock()
		gr.success()
	case http.MethodDelete:
		s.mu.Lock()
		w := s.state.wabas[wabaID]
		w.subscribed, w.overrideURL = false, ""
		s.mu.Unlock()
		gr.success()
	default:
		gr.noObject(wabaID)
	}
}

var defaultTemplateFields = []string{"name", "parameter_format", "components", "language", "status", "category", "id"}

func templateField(t *template) func(string) (any, bool) {
	return func(name string) (any, bool) {
		switch name {
		case "id":
			return t.id, true
		case "name":
			return t.name, true
		case "language":
			return t.language, true
		case "category":
			return t.category, true
		case "status":
			return t.status, true
		case "parameter_format":
			return t.parameterFormat, true
		case "components":
			return t.components, true
		case "quality_score":
			return object{{"score", orDefault(t.quality, "UNKNOWN")}, {"date", time.Now().Unix()}}, true
		case "rejected_reason":
			return orDefault(t.rejectedReason, "NONE"), true
		case "sub_category", "previous_category", "correct_category", "cta_url_link_tracking_opted_out", "library_template_name", "message_send_ttl_seconds":
			return nil, true
		}
		return nil, false
	}
}

func (s *Sandbox) getTemplate(gr *graphRequest, id string) {
	s.mu.Lock()
	t := s.state.templates[id]
	var o object
	bad := ""
	if t != nil {
		o, bad = selectFields(fields(gr.r.URL.Query(), defaultTemplateFields), templateField(t))
	}
	s.mu.Unlock()
	if t == nil {
		gr.noObject(id)
		return
	}
	if bad != "" {
		gr.unknownField(bad, "WhatsAppBusinessHSM")
		return
	}
	gr.reply(http.StatusOK, o)
}

// messageTemplates handles GET/POST/DELETE /{waba}/message_templates.
func (s *Sandbox) messageTemplates(gr *graphRequest, wabaID string) {
	switch gr.r.Method {
	case http.MethodGet:
		s.listTemplates(gr, wabaID)
	case http.MethodPost:
		s.createTemplate(gr, wabaID)
	case http.MethodDelete:
		s.deleteTemplate(gr, wabaID)
	default:
		gr.noObject(wabaID)
	}
}

func (s *Sandbox) listTemplates(gr *graphRequest, wabaID string) {
	q := gr.r.URL.Query()
	limit := 25
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	names := fields(q, defaultTemplateFields)
	s.mu.Lock()
	var all []object
	bad := ""
	for _, t := range s.state.wabas[wabaID].templates {
		if !matchFilter(q.Get("name"), t.name, true) || !matchFilter(q.Get("status"), t.status, false) ||
			!matchFilter(q.Get("category"), t.category, false) || !matchFilter(q.Get("language"), t.language, false) {
			continue
		}
		o, b := selectFields(names, templateField(t))
		if b != "" {
			bad = b
			break
		}
		all = append(all, o)
	}
	s.mu.Unlock()
	if bad != "" {
		gr.unknownField(bad, "WhatsAppBusinessHSM")
		return
	}
	from := 0
	if a := q.Get("after"); a != "" {
		i, ok := decodeCursor(a)
		if !ok {
			gr.invalidParam("Invalid cursor")
			return
		}
		from = min(i+1, len(all))
	}
	gr.reply(http.StatusOK, page(gr.r, all, from, min(from+limit, len(all))))
}

// matchFilter applies a list filter; comma-separated values are alternatives.
func matchFilter(filter, value string, contains bool) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		f = strings.TrimSpace(f)
		if (contains && strings.Contains(value, f)) || strings.EqualFold(value, f) {
			return true
		}
	}
	return false
}

var templateNameRE = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)

func validateTemplateName(name string) string {
	if !templateNameRE.MatchString(name) {
		return "template name must be 1-512 lowercase letters, digits and underscores"
	}
	return ""
}

func templateCategory(c string) (string, bool) {
	c = strings.ToUpper(strings.TrimSpace(c))
	switch c {
	case "MARKETING", "UTILITY", "AUTHENTICATION":
		return c, true
	}
	return "", false
}

func (s *Sandbox) createTemplate(gr *graphRequest, wabaID string) {
	var body struct {
		Name            string            `json:"name"`
		Language        string            `json:"language"`
		Category        string            `json:"category"`
		ParameterFormat string            `json:"parameter_format"`
		Components      []json.RawMessage `json:"components"`
	}
	if err := decodeJSON(gr.r, &body); err != nil {
		gr.invalidParam("Request body is not valid JSON")
		return
	}
	if msg := validateTemplateName(body.Name); msg != "" {
		gr.failWith(http.StatusBadRequest, graphError{
			Message: "Invalid parameter", Type: "OAuthException", Code: 100, Subcode: 2388042,
			UserTitle: "Invalid template name", UserMessage: "Template name " + msg + ".",
		})
		return
	}
	category, ok := templateCategory(body.Category)
	if !ok {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param category must be one of {UTILITY, MARKETING, AUTHENTICATION}", "")
		return
	}
	if body.Language == "" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter language is required", "")
		return
	}
	format := strings.ToUpper(orDefault(body.ParameterFormat, "POSITIONAL"))
	if format != "POSITIONAL" && format != "NAMED" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Param parameter_format must be one of {POSITIONAL, NAMED}", "")
		return
	}
	hasBody := false
	for _, c := range body.Components {
		var comp struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(c, &comp) != nil || comp.Type == "" {
			gr.invalidParam("Every component needs a type")
			return
		}
		if strings.EqualFold(comp.Type, "BODY") {
			hasBody = true
		}
	}
	if !hasBody && category != "AUTHENTICATION" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", "A template needs a BODY component")
		return
	}
	components, _ := marshalPlain(body.Components)

	s.mu.Lock()
	w := s.state.wabas[wabaID]
	if findTemplate(w, body.Name, body.Language) != nil {
		s.mu.Unlock()
		gr.failWith(http.StatusBadRequest, graphError{
			Message: "Invalid parameter", Type: "OAuthException", Code: 100, Subcode: 2388024,
			UserTitle:   "Content in This Language Already Exists",
			UserMessage: "There is already " + body.Language + " content for this template. You can create a new template and try again.",
		})
		return
	}
	t := &template{
		id: s.state.newID(16), name: body.Name, language: body.Language, category: category,
		status: "PENDING", parameterFormat: format, components: components,
	}
	s.state.addTemplate(w, t)
	s.mu.Unlock()

	gr.reply(http.StatusOK, object{{"id", t.id}, {"status", "PENDING"}, {"category", category}})
	s.reviewTemplate(t.id)
}

func (s *Sandbox) deleteTemplate(gr *graphRequest, wabaID string) {
	name := gr.r.URL.Query().Get("name")
	if name == "" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter name is required", "")
		return
	}
	hsmID := gr.r.URL.Query().Get("hsm_id")
	s.mu.Lock()
	var doomed []*template
	for _, t := range s.state.wabas[wabaID].templates {
		if t.name == name && (hsmID == "" || t.id == hsmID) {
			doomed = append(doomed, t)
		}
	}
	for _, t := range doomed {
		s.state.removeTemplate(t)
	}
	s.mu.Unlock()
	if len(doomed) == 0 {
		gr.failWith(http.StatusBadRequest, graphError{
			Message: "Invalid parameter", Type: "OAuthException", Code: 100, Subcode: 2593002,
			UserTitle: "Message template not found", UserMessage: "The message template " + name + " was not found.",
		})
		return
	}
	gr.success()
}

// Media limits by MIME type (Meta's supported media table).
var mediaLimits = map[string]int64{
	"image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10,
	"video/mp4": 16 << 20, "video/3gpp": 16 << 20,
	"audio/aac": 16 << 20, "audio/amr": 16 << 20, "audio/mpeg": 16 << 20, "audio/mp4": 16 << 20, "audio/ogg": 16 << 20,
	"text/plain": 100 << 20, "application/pdf": 100 << 20,
	"application/vnd.ms-excel": 100 << 20, "application/msword": 100 << 20, "application/vnd.ms-powerpoint": 100 << 20,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   100 << 20,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 << 20,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         100 << 20,
}

func (s *Sandbox) uploadMedia(gr *graphRequest, phoneID string) {
	gr.r.Body = http.MaxBytesReader(gr.w, gr.r.Body, 101<<20)
	if err := gr.r.ParseMultipartForm(32 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			gr.waFail(http.StatusBadRequest, 131053, "Media upload error", "The file is larger than 100 MB")
			return
		}
		gr.invalidParam("Expected a multipart/form-data body")
		return
	}
	defer func() { _ = gr.r.MultipartForm.RemoveAll() }()
	if gr.r.FormValue("messaging_product") != "whatsapp" {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	}
	f, hdr, err := gr.r.FormFile("file")
	if err != nil {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter file is required.", "")
		return
	}
	defer f.Close()
	mimeType := gr.r.FormValue("type")
	if mimeType == "" {
		mimeType = hdr.Header.Get("Content-Type")
	}
	if mt, _, err := mime.ParseMediaType(mimeType); err == nil {
		mimeType = mt
	}
	limit, ok := mediaLimits[mimeType]
	if !ok {
		gr.fail(http.StatusBadRequest, 100, 0, "OAuthException",
			"(#100) Param file must be a file with one of the following types: audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg, text/plain, application/pdf, application/vnd.ms-powerpoint, application/msword, application/vnd.openxmlformats-officedocument.wordprocessingml.document, application/vnd.openxmlformats-officedocument.presentationml.presentation, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, application/vnd.ms-excel, image/jpeg, image/png, image/webp, video/mp4, video/3gpp. Received file of type '"+mimeType+"'.", "")
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		gr.invalidParam("Could not read the file")
		return
	}
	if int64(len(data)) > limit {
		gr.waFail(http.StatusBadRequest, 131053, "Media upload error",
			fmt.Sprintf("Media file size too big. Max file size we currently support: %d bytes", limit))
		return
	}
	sum := sha256.Sum256(data)
	s.mu.Lock()
	m := &mediaObject{
		id: s.state.newID(16), wabaID: s.state.phones[phoneID].wabaID, mimeType: mimeType,
		sha256: hex.EncodeToString(sum[:]), filename: hdr.Filename, data: data,
	}
	s.state.addMedia(m)
	s.mu.Unlock()
	gr.reply(http.StatusOK, object{{"id", m.id}})
}

func (s *Sandbox) getMedia(gr *graphRequest, id string) {
	s.mu.Lock()
	m := s.state.media[id]
	s.mu.Unlock()
	if m == nil {
		gr.noObject(id)
		return
	}
	gr.reply(http.StatusOK, object{
		{"url", s.mediaURL(gr.r, m.id)},
		{"mime_type", m.mimeType},
		{"sha256", m.sha256},
		{"file_size", len(m.data)},
		{"id", m.id},
		{"messaging_product", "whatsapp"},
	})
}

func (s *Sandbox) deleteMedia(gr *graphRequest, id string) {
	s.mu.Lock()
	delete(s.state.media, id)
	s.mu.Unlock()
	gr.success()
}

// mediaURL is a download URL on this sandbox, valid for five minutes, that also needs the
// bearer token (like Meta's lookaside URLs).
func (s *Sandbox) mediaURL(r *http.Request, mediaID string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	ext := strconv.FormatInt(s.now().Add(mediaURLLifetime).Unix(), 10)
	q := url.Values{"mid": {mediaID}, "ext": {ext}, "hash": {s.urlHash(mediaID, ext)}}
	return scheme + "://" + r.Host + "/whatsapp_business/attachments/?" + q.Encode()
}

func (s *Sandbox) urlHash(mediaID, ext string) string {
	m := hmac.New(sha256.New, s.urlKey)
	m.Write([]byte(mediaID + "|" + ext))
	return "ATt" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:24]
}

// serveDownload serves GET /whatsapp_business/attachments/?mid=&ext=&hash=.
func (s *Sandbox) serveDownload(w http.ResponseWriter, r *http.Request) {
	gr := s.newGraphRequest(w, r)
	defer s.recordCall(gr)
	q := r.URL.Query()
	mid, ext := q.Get("mid"), q.Get("ext")
	exp, err := strconv.ParseInt(ext, 10, 64)
	if r.Method != http.MethodGet || err != nil || !hmac.Equal([]byte(q.Get("hash")), []byte(s.urlHash(mid, ext))) ||
		s.now().Unix() > exp {
		gr.status = http.StatusNotFound
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	acct := s.state.tokens[bearer(r)]
	m := s.state.media[mid]
	allowed := acct != nil && m != nil && acct.wabas[m.wabaID]
	s.mu.Unlock()
	if acct == nil {
		gr.badToken()
		return
	}
	if !allowed {
		gr.status = http.StatusNotFound
		http.NotFound(w, r)
		return
	}
	gr.wabaID = m.wabaID
	gr.status = http.StatusOK
	w.Header().Set("Content-Type", m.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	if m.filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.filename}))
	}
	_, _ = w.Write(m.data)
}
