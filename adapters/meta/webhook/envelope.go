// Package webhook models the webhooks of Meta's WhatsApp Cloud API: the signature check and a
// lenient parser for the `whatsapp_business_account` envelope and the values it carries.
//
// Meta adds fields, message types and enum values without notice, so parsing never fails on
// something it does not know. Parse fails (with ErrMalformed) only when the body is not a
// JSON object or its "entry" is not an array. Everything else is decoded best-effort:
//
//   - Unknown keys are ignored by the typed structs but survive in the raw JSON every
//     Message, Status and Change keeps (Raw), so they can be stored and read later.
//   - Unknown message types decode with only the common fields set (Type says what it was).
//   - Unknown `field` values are kept raw on their Change; none of the typed values is set.
//   - A known key with an unexpected JSON type is left at its zero value and the first such
//     mismatch is recorded in DecodeErr of the nearest Message, Status, Change or Envelope;
//     the rest of that object still decodes.
//
// Inbound processing routes messages-family changes (messages, user_preferences) by
// Change.PhoneNumberID and account-level changes (templates, quality, account events) by
// Change.WABAID, the entry id.
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"
)

// ErrMalformed is wrapped by the error Parse returns for a body that is not a JSON object or
// whose "entry" is missing or not an array. Retrying such a payload cannot succeed.
var ErrMalformed = errors.New("malformed webhook payload")

// Object is the only "object" value WhatsApp webhooks carry.
const Object = "whatsapp_business_account"

// Webhook field names (Change.Field). Meta sends others too (calls, flows, history,
// smb_message_echoes, security, ...); those are kept raw.
const (
	FieldMessages                 = "messages"
	FieldUserPreferences          = "user_preferences"
	FieldTemplateStatusUpdate     = "message_template_status_update"
	FieldTemplateQualityUpdate    = "message_template_quality_update"
	FieldTemplateCategoryUpdate   = "template_category_update"
	FieldTemplateComponentsUpdate = "message_template_components_update" // kept raw
	FieldPhoneNumberQualityUpdate = "phone_number_quality_update"
	FieldPhoneNumberNameUpdate    = "phone_number_name_update"
	FieldAccountUpdate            = "account_update"
	FieldAccountAlerts            = "account_alerts"
	FieldAccountReviewUpdate      = "account_review_update"
	FieldBusinessCapabilityUpdate = "business_capability_update"
)

// Envelope is one webhook POST body.
type Envelope struct {
	// Object is "whatsapp_business_account" for every WhatsApp webhook.
	Object string `json:"object"`
	// Entry holds one element per WABA (and sometimes several for the same WABA). Meta
	// batches up to 1000 updates into one POST.
	Entry []Entry `json:"entry"`
	// DecodeErr is the first type mismatch met outside messages, statuses and change
	// values (for example an entry id sent as a number); nil for a well-formed payload.
	DecodeErr error `json:"-"`
}

// Entry groups the changes of one WhatsApp Business Account.
type Entry struct {
	// ID is always the WABA id.
	ID string `json:"id"`
	// Time is the unix time (seconds) Meta sets on account-level fields; messages webhooks
	// usually omit it (0).
	Time int64 `json:"time,omitempty"`
	// Changes are the updates, each one webhook field.
	Changes []Change `json:"changes"`
}

// Timestamp returns Time as a UTC time, the zero time when absent.
func (e *Entry) Timestamp() time.Time { return unixTime(e.Time) }

// Parse decodes a webhook body. See the package documentation for how lenient it is: it
// returns an error (wrapping ErrMalformed) only when raw is not a JSON object, or its
// "entry" is missing, null or not an array. raw is not retained; every Raw field of the
// result is a copy.
func Parse(raw []byte) (*Envelope, error) {
	if !startsWithObject(raw) {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	// One pass over the body splits it into change values; each value is then typed once.
	// (A custom UnmarshalJSON per level would re-scan the nested bytes at every level.)
	var w struct {
		Object string `json:"object"`
		Entry  []struct {
			ID      string       `json:"id"`
			Time    int64        `json:"time"`
			Changes []wireChange `json:"changes"`
		} `json:"entry"`
	}
	err := json.Unmarshal(raw, &w)
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if w.Entry == nil {
		return nil, fmt.Errorf("%w: entry is not an array", ErrMalformed)
	}
	env := &Envelope{Object: w.Object, Entry: make([]Entry, len(w.Entry)), DecodeErr: err}
	for i, we := range w.Entry {
		e := &env.Entry[i]
		e.ID, e.Time = we.ID, we.Time
		if we.Changes == nil {
			continue
		}
		e.Changes = make([]Change, len(we.Changes))
		for j, wc := range we.Changes {
			c := &e.Changes[j]
			c.Field, c.Raw, c.wabaID = wc.Field, wc.Value, we.ID
			c.decodeValue()
		}
	}
	return env, nil
}

// wireChange is a change before its value is typed.
type wireChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Changes iterates over every change of every entry, in payload order, with its entry.
func (e *Envelope) Changes() iter.Seq2[*Entry, *Change] {
	return func(yield func(*Entry, *Change) bool) {
		for i := range e.Entry {
			entry := &e.Entry[i]
			for j := range entry.Changes {
				if !yield(entry, &entry.Changes[j]) {
					return
				}
			}
		}
	}
}

// Change is one webhook field update. Field says which typed value is set:
//
//	messages, user_preferences          Value
//	message_template_status_update      TemplateStatus
//	message_template_quality_update     TemplateQuality
//	template_category_update            TemplateCategory
//	phone_number_quality_update         PhoneNumberQuality
//	phone_number_name_update            PhoneNumberName
//	account_update                      AccountUpdate
//	account_alerts                      AccountAlert
//	account_review_update               AccountReview
//	business_capability_update          BusinessCapability
//
// Any other field sets none of them; Raw always holds the value as received.
type Change struct {
	Field string
	// Raw is the "value" object exactly as received (nil when absent).
	Raw json.RawMessage
	// DecodeErr is the first type mismatch met while decoding the typed value; the typed
	// value is still set with everything else that decoded.
	DecodeErr error

	Value              *Value
	TemplateStatus     *TemplateStatusUpdate
	TemplateQuality    *TemplateQualityUpdate
	TemplateCategory   *TemplateCategoryUpdate
	PhoneNumberQuality *PhoneNumberQualityUpdate
	PhoneNumberName    *PhoneNumberNameUpdate
	AccountUpdate      *AccountUpdate
	AccountAlert       *AccountAlert
	AccountReview      *AccountReviewUpdate
	BusinessCapability *BusinessCapabilityUpdate

	wabaID string
	// metadata of a field this package does not type (calls, smb_message_echoes, ...).
	otherMetadata *Metadata
}

// WABAID is the id of the entry the change arrived in: the WhatsApp Business Account.
// Account-level fields (templates, quality, account events) carry no metadata and are
// routed by it. Empty for a Change not produced by Parse.
func (c *Change) WABAID() string { return c.wabaID }

// PhoneNumberID is metadata.phone_number_id, the key messages-family changes (messages,
// user_preferences, and untyped fields such as calls that carry metadata) are routed by.
// Empty for account-level fields.
func (c *Change) PhoneNumberID() string {
	if m := c.metadata(); m != nil {
		return m.PhoneNumberID
	}
	return ""
}

// DisplayPhoneNumber is the business number (digits, no "+") the change is about, from the
// metadata of messages-family changes or the value of phone_number_quality_update and
// phone_number_name_update, which name the number only this way.
func (c *Change) DisplayPhoneNumber() string {
	switch {
	case c.PhoneNumberQuality != nil:
		return c.PhoneNumberQuality.DisplayPhoneNumber
	case c.PhoneNumberName != nil:
		return c.PhoneNumberName.DisplayPhoneNumber
	}
	if m := c.metadata(); m != nil {
		return m.DisplayPhoneNumber
	}
	return ""
}

func (c *Change) metadata() *Metadata {
	if c.Value != nil {
		return &c.Value.Metadata
	}
	return c.otherMetadata
}

// decodeValue sets the typed value Field calls for from Raw, recording a mismatch in
// DecodeErr.
func (c *Change) decodeValue() {
	if len(c.Raw) == 0 || bytes.Equal(c.Raw, []byte("null")) {
		return
	}
	c.DecodeErr = c.decodeTyped()
}

func (c *Change) decodeTyped() error {
	switch c.Field {
	case FieldMessages, FieldUserPreferences:
		c.Value = new(Value)
		err := json.Unmarshal(c.Raw, c.Value)
		c.Value.link()
		return err
	case FieldTemplateStatusUpdate:
		c.TemplateStatus = new(TemplateStatusUpdate)
		return decodeNumbers(c.Raw, c.TemplateStatus)
	case FieldTemplateQualityUpdate:
		c.TemplateQuality = new(TemplateQualityUpdate)
		return decodeNumbers(c.Raw, c.TemplateQuality)
	case FieldTemplateCategoryUpdate:
		c.TemplateCategory = new(TemplateCategoryUpdate)
		return decodeNumbers(c.Raw, c.TemplateCategory)
	case FieldPhoneNumberQualityUpdate:
		c.PhoneNumberQuality = new(PhoneNumberQualityUpdate)
		return decodeNumbers(c.Raw, c.PhoneNumberQuality)
	case FieldPhoneNumberNameUpdate:
		c.PhoneNumberName = new(PhoneNumberNameUpdate)
		return decodeNumbers(c.Raw, c.PhoneNumberName)
	case FieldAccountUpdate:
		c.AccountUpdate = new(AccountUpdate)
		return decodeNumbers(c.Raw, c.AccountUpdate)
	case FieldAccountAlerts:
		c.AccountAlert = new(AccountAlert)
		return decodeNumbers(c.Raw, c.AccountAlert)
	case FieldAccountReviewUpdate:
		c.AccountReview = new(AccountReviewUpdate)
		return decodeNumbers(c.Raw, c.AccountReview)
	case FieldBusinessCapabilityUpdate:
		c.BusinessCapability = new(BusinessCapabilityUpdate)
		return decodeNumbers(c.Raw, c.BusinessCapability)
	default:
		// Untyped field: only look for metadata, so phone-number-scoped fields Meta adds
		// (calls, smb_message_echoes, ...) can still be routed. Mismatches are not errors
		// here, the field has no typed value to be wrong about.
		var w struct {
			Metadata *Metadata `json:"metadata"`
		}
		_ = json.Unmarshal(c.Raw, &w)
		c.otherMetadata = w.Metadata
		return nil
	}
}

// MarshalJSON writes the change back as {"field", "value"}, the value being Raw when set
// (so nothing unknown is lost) and the typed value otherwise.
func (c Change) MarshalJSON() ([]byte, error) {
	w := struct {
		Field string `json:"field"`
		Value any    `json:"value,omitempty"`
	}{Field: c.Field}
	switch {
	case len(c.Raw) > 0:
		w.Value = c.Raw
	case c.Value != nil:
		w.Value = c.Value
	case c.TemplateStatus != nil:
		w.Value = c.TemplateStatus
	case c.TemplateQuality != nil:
		w.Value = c.TemplateQuality
	case c.TemplateCategory != nil:
		w.Value = c.TemplateCategory
	case c.PhoneNumberQuality != nil:
		w.Value = c.PhoneNumberQuality
	case c.PhoneNumberName != nil:
		w.Value = c.PhoneNumberName
	case c.AccountUpdate != nil:
		w.Value = c.AccountUpdate
	case c.AccountAlert != nil:
		w.Value = c.AccountAlert
	case c.AccountReview != nil:
		w.Value = c.AccountReview
	case c.BusinessCapability != nil:
		w.Value = c.BusinessCapability
	}
	return json.Marshal(w)
}

// decodeNumbers decodes an account-level value with UseNumber: these values carry ids as
// JSON numbers (message_template_id has 16 digits) that must never pass through float64.
func decodeNumbers(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// Scalar is a JSON string, number or boolean kept as text. Meta is not consistent about
// quoting some values (limits, expirations, timestamps): "2000" and 2000 both read as
// "2000", true as "true". Null, objects and arrays read as "". Decoding never fails.
type Scalar string

func (s Scalar) String() string { return string(s) }

// Int64 parses the scalar as a base-10 integer.
func (s Scalar) Int64() (int64, error) { return strconv.ParseInt(string(s), 10, 64) }

// UnmarshalJSON implements json.Unmarshaler.
func (s *Scalar) UnmarshalJSON(data []byte) error {
	*s = ""
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case '"':
		var str string
		if json.Unmarshal(data, &str) == nil {
			*s = Scalar(str)
		}
	case '{', '[', 'n':
	default:
		*s = Scalar(data)
	}
	return nil
}

// unixTime converts unix seconds to UTC, 0 to the zero time.
func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// parseUnix reads a decimal unix-seconds string, the zero time when it is not one.
func parseUnix(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return unixTime(n)
}

func startsWithObject(raw []byte) bool {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}
