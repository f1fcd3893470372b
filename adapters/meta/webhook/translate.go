package webhook

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/wabaplatform/waba/domain"
)

// Translate parses a webhook body and translates it into the domain's terms. It fails, with
// an error wrapping ErrMalformed, exactly when Parse does.
func Translate(raw []byte) (domain.Notification, error) {
	env, err := Parse(raw)
	if err != nil {
		return domain.Notification{}, err
	}
	return env.Notification(), nil
}

// Notification translates the envelope: one domain.Change per change, in payload order.
// Messages-family fields (and other fields that name a number in their metadata) become
// number changes routed by phone_number_id; template fields become template changes and
// every other field an account change, routed by the WABA id.
func (e *Envelope) Notification() domain.Notification {
	n := 0
	for i := range e.Entry {
		n += len(e.Entry[i].Changes)
	}
	out := domain.Notification{Changes: make([]domain.Change, 0, n)}
	for entry, ch := range e.Changes() {
		out.Changes = append(out.Changes, ch.translate(entry))
	}
	return out
}

func (c *Change) translate(entry *Entry) domain.Change {
	d := domain.Change{WABAID: entry.ID, At: entry.Timestamp()}
	switch c.Field {
	case FieldMessages, FieldUserPreferences:
		d.Kind, d.PhoneNumberID = domain.NumberChange, c.PhoneNumberID()
		if c.Value != nil {
			c.Value.translate(&d)
		}
		return d
	case FieldTemplateStatusUpdate, FieldTemplateQualityUpdate, FieldTemplateCategoryUpdate:
		d.Kind, d.Template = domain.TemplateChange, c.template()
		return d
	}
	if id := c.PhoneNumberID(); id != "" {
		// A messages-family field we do not act on (calls, echoes, ...): routed, ignored.
		d.Kind, d.PhoneNumberID = domain.NumberChange, id
		return d
	}
	d.Kind, d.Account = domain.AccountChange, c.account()
	return d
}

func (v *Value) translate(d *domain.Change) {
	if len(v.Messages) > 0 {
		d.Messages = make([]domain.InboundMessage, len(v.Messages))
		for i := range v.Messages {
			d.Messages[i] = v.Messages[i].translate()
		}
	}
	if len(v.Statuses) > 0 {
		d.Statuses = make([]domain.StatusReport, len(v.Statuses))
		for i := range v.Statuses {
			d.Statuses[i] = v.Statuses[i].translate()
		}
	}
	for i := range v.UserPreferences {
		up := &v.UserPreferences[i]
		var stop bool
		switch up.Value {
		case PreferenceStop:
			stop = true
		case PreferenceResume:
		default:
			continue // signup and whatever Meta adds: nothing to change
		}
		waID, bsuid, name := up.Identity(v)
		d.Preferences = append(d.Preferences, domain.PreferenceChange{
			Sender: domain.Sender{WaID: waID, BSUID: bsuid, Name: name}, Stop: stop, Category: up.Category})
	}
	for _, e := range v.Errors {
		d.ErrorCodes = append(d.ErrorCodes, e.Code)
	}
}

func (m *Message) translate() domain.InboundMessage {
	waID, bsuid := m.Identity()
	name := ""
	if c := m.Contact(); c != nil {
		name = c.Profile.Name
	}
	typ := m.Type
	if typ == "" {
		typ = TypeUnknown
	}
	return domain.InboundMessage{
		WAMID: m.ID, Sender: domain.Sender{WaID: waID, BSUID: bsuid, Name: name},
		Type: typ, System: typ == TypeSystem, At: m.Time(),
		Content: m.TypeObject(), Raw: m.Raw, Replies: m.Replies(),
	}
}

// Replies returns the texts of a message that count as a keyword reply, in this order: the
// text body; a template quick-reply's label and payload (button.text, button.payload); an
// interactive reply's title and id (button_reply, list_reply). Empty strings are left out.
// Other message types (media captions, reactions, ...) have none.
func (m *Message) Replies() []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	if m.Text != nil {
		add(m.Text.Body)
	}
	if m.Button != nil {
		add(m.Button.Text)
		add(m.Button.Payload)
	}
	if m.Interactive != nil {
		if r := m.Interactive.ButtonReply; r != nil {
			add(r.Title)
			add(r.ID)
		}
		if r := m.Interactive.ListReply; r != nil {
			add(r.Title)
			add(r.ID)
		}
	}
	return out
}

func (s *Status) translate() domain.StatusReport {
	r := domain.StatusReport{WAMID: s.ID, Status: s.Status, At: s.Time(), CallbackData: s.BizOpaqueCallbackData}
	if len(s.Errors) > 0 {
		e := s.Errors[0].domain()
		r.Error = &e
	}
	r.Pricing, r.Errors = s.extras()
	if p := s.Pricing; p != nil {
		r.Billing = &domain.Pricing{Model: p.PricingModel, Type: p.Type, Category: domain.PricingCategory(p.Category), Billable: p.Billable}
		if s.Conversation != nil {
			r.Billing.ConversationID = s.Conversation.ID
		}
	}
	r.RecipientWaID, _ = s.Recipient()
	return r
}

func (e Error) domain() domain.MessageError {
	return domain.MessageError{Code: e.Code, Title: e.Title, Detail: e.Detail()}
}

// FirstError reads an errors array as webhooks report it (the one a status history keeps)
// and returns its first error; ok is false when there is none or it does not decode.
func FirstError(raw json.RawMessage) (e domain.MessageError, ok bool) {
	var errs []Error
	if json.Unmarshal(raw, &errs) != nil || len(errs) == 0 {
		return domain.MessageError{}, false
	}
	return errs[0].domain(), true
}

// extras returns the status's pricing object as received (with the conversation object
// added when Meta sent one, for the usage ledger) and its errors as received.
func (s *Status) extras() (pricing, errs json.RawMessage) {
	var w struct {
		Pricing      json.RawMessage `json:"pricing"`
		Conversation json.RawMessage `json:"conversation"`
		Errors       json.RawMessage `json:"errors"`
	}
	if len(s.Raw) > 0 {
		_ = json.Unmarshal(s.Raw, &w)
	}
	if isNull(w.Pricing) {
		w.Pricing = nil
	}
	if isNull(w.Errors) {
		w.Errors = nil
	}
	if len(w.Pricing) > 0 && !isNull(w.Conversation) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(w.Pricing, &obj) == nil && obj != nil {
			obj["conversation"] = w.Conversation
			if b, err := json.Marshal(obj); err == nil {
				w.Pricing = b
			}
		}
	}
	return w.Pricing, w.Errors
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func (c *Change) template() *domain.TemplateUpdate {
	switch {
	case c.TemplateStatus != nil:
		v := c.TemplateStatus
		reason := ""
		if v.Reason != nil {
			reason = *v.Reason
		}
		status := v.Event
		if status == "REINSTATED" {
			status = "APPROVED" // Meta's event for a paused or flagged template approved again
		}
		return &domain.TemplateUpdate{Name: v.Name, Language: v.Language, MetaTemplateID: v.TemplateID.String(),
			Status: status, Category: v.Category, Reason: &reason}
	case c.TemplateQuality != nil:
		v := c.TemplateQuality
		return &domain.TemplateUpdate{Name: v.Name, Language: v.Language, MetaTemplateID: v.TemplateID.String(),
			QualityScore: v.NewQualityScore}
	case c.TemplateCategory != nil:
		v := c.TemplateCategory
		return &domain.TemplateUpdate{Name: v.Name, Language: v.Language, MetaTemplateID: v.TemplateID.String(),
			Category: v.NewCategory}
	}
	return nil
}

func (c *Change) account() *domain.AccountUpdate {
	a := &domain.AccountUpdate{Field: c.Field, Payload: c.Raw}
	if len(a.Payload) == 0 {
		a.Payload = json.RawMessage(`{}`)
	}
	switch {
	case c.PhoneNumberQuality != nil:
		v := c.PhoneNumberQuality
		a.Event = v.Event
		tier := tierOf(v.MaxDailyConversationsPerBusiness.String())
		if tier == "" {
			tier = tierOf(v.CurrentLimit)
		}
		a.Number = &domain.NumberUpdate{DisplayPhoneNumber: v.DisplayPhoneNumber, MessagingLimitTier: tier,
			QualityRating: flaggedQuality[strings.ToUpper(v.Event)]}
	case c.PhoneNumberName != nil:
		v := c.PhoneNumberName
		a.Event = v.Decision
		a.Number = &domain.NumberUpdate{DisplayPhoneNumber: v.DisplayPhoneNumber, NameStatus: v.Decision}
		if v.Decision == "APPROVED" {
			a.Number.VerifiedName = v.RequestedVerifiedName
		}
	case c.BusinessCapability != nil:
		// The messaging limit is the portfolio's: every number of the WABA shares it.
		a.LimitTier = tierOf(c.BusinessCapability.MaxDailyConversationsPerBusiness.String())
	case c.AccountUpdate != nil:
		a.Event = c.AccountUpdate.Event
		switch a.Event {
		case AccountEventPartnerAppUninstalled, AccountEventPartnerRemoved, AccountEventDeleted, AccountEventOffboarded:
			// The customer removed us (or the account is gone): stop sending until reconnected.
			a.Disconnected = true
		}
	case c.AccountAlert != nil:
		a.Event = c.AccountAlert.AlertInfo.AlertType
	case c.AccountReview != nil:
		a.Event = c.AccountReview.Decision
	}
	return a
}

// flaggedQuality is the quality rating older phone_number_quality_update events imply:
// FLAGGED is a number whose quality dropped to low (RED, which stops its campaigns);
// UNFLAGGED one no longer low, at least YELLOW (the next metadata sync reads the exact
// rating). Other events say nothing of quality.
var flaggedQuality = map[string]string{"FLAGGED": "RED", "UNFLAGGED": "YELLOW"}

// tierOf reads a messaging limit as Meta's tier string: tier strings pass through
// (TIER_2K), numbers map to their tier (2000 -> TIER_2K, -1 -> TIER_UNLIMITED), anything
// else is "".
func tierOf(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "TIER_") {
		return v
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return ""
	}
	switch {
	case n < 0:
		return "TIER_UNLIMITED"
	case n >= 1000 && n%1000 == 0:
		return "TIER_" + strconv.FormatInt(n/1000, 10) + "K"
	case n > 0:
		return "TIER_" + strconv.FormatInt(n, 10)
	}
	return ""
}
