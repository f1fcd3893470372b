package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Value is the value of a messages-family change: field "messages" (inbound messages,
// statuses of our outbound messages, notification errors) and "user_preferences".
type Value struct {
	MessagingProduct string   `json:"messaging_product"`
	Metadata         Metadata `json:"metadata"`
	// Contacts describe the users behind Messages (and, on newer versions, behind
	// delivered/read statuses). System messages carry none.
	Contacts        []Contact        `json:"contacts,omitempty"`
	Messages        []Message        `json:"messages,omitempty"`
	Statuses        []Status         `json:"statuses,omitempty"`
	Errors          []Error          `json:"errors,omitempty"`
	UserPreferences []UserPreference `json:"user_preferences,omitempty"`
}

// link points every message at its sender's contacts[] entry, for Message.Identity.
func (v *Value) link() {
	for i := range v.Messages {
		m := &v.Messages[i]
		m.contact = v.contactFor(m.From, m.FromUserID)
	}
}

// contactFor finds the contacts[] entry of a sender: the one whose wa_id equals from or
// whose user_id equals userID; failing that, the only contact when it contradicts neither.
func (v *Value) contactFor(from, userID string) *Contact {
	from = strings.TrimPrefix(from, "+")
	for i := range v.Contacts {
		c := &v.Contacts[i]
		if (from != "" && strings.TrimPrefix(c.WaID, "+") == from) || (userID != "" && c.UserID == userID) {
			return c
		}
	}
	if len(v.Contacts) != 1 {
		return nil
	}
	c := &v.Contacts[0]
	if (from != "" && c.WaID != "") || (userID != "" && c.UserID != "") {
		return nil // both sides name someone, and it is not the same someone
	}
	return c
}

// Metadata names the business phone number a messages-family change belongs to.
type Metadata struct {
	// DisplayPhoneNumber is the business number, digits without "+".
	DisplayPhoneNumber string `json:"display_phone_number"`
	// PhoneNumberID is the Graph id of the business number: the routing key.
	PhoneNumberID string `json:"phone_number_id"`
}

// Contact is a WhatsApp user as described next to messages, statuses and preferences.
// A user known only by username has UserID (a BSUID) and an empty or absent WaID.
type Contact struct {
	Profile Profile `json:"profile"`
	// WaID is the user's WhatsApp id (their number, digits); may be empty or absent.
	WaID string `json:"wa_id,omitempty"`
	// UserID is the business-scoped user id (BSUID), e.g. "US.13491208655302741918".
	UserID string `json:"user_id,omitempty"`
	// ParentUserID is the parent BSUID ("US.ENT.<digits>") when Meta sends one.
	ParentUserID string `json:"parent_user_id,omitempty"`
	// IdentityKeyHash is set when the identity change check is enabled.
	IdentityKeyHash string `json:"identity_key_hash,omitempty"`
}

// Profile is a user's public WhatsApp profile.
type Profile struct {
	Name        string `json:"name,omitempty"`
	Username    string `json:"username,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
}

// Message types (Message.Type). Meta adds others; unknown types decode with the common
// fields only and keep everything in Raw.
const (
	TypeText           = "text"
	TypeImage          = "image"
	TypeVideo          = "video"
	TypeAudio          = "audio"
	TypeDocument       = "document"
	TypeSticker        = "sticker"
	TypeLocation       = "location"
	TypeContacts       = "contacts"
	TypeInteractive    = "interactive"
	TypeButton         = "button"
	TypeReaction       = "reaction"
	TypeOrder          = "order"
	TypeSystem         = "system"
	TypeRequestWelcome = "request_welcome"
	TypeUnsupported    = "unsupported"
	TypeUnknown        = "unknown" // older name of unsupported
)

// Message is one inbound message. The object named after Type is set (Text for "text",
// Image for "image", ...); "request_welcome" has none. Raw always holds the message exactly
// as received, unknown fields and types included.
type Message struct {
	// From is the sender's number (digits, no "+"). It can be empty or absent for a user
	// known only by username: never assume it exists, see Identity.
	From string `json:"from,omitempty"`
	// FromUserID is the sender's BSUID.
	FromUserID string `json:"from_user_id,omitempty"`
	// ID is the wamid, the idempotency key of inbound messages.
	ID string `json:"id"`
	// Timestamp is the unix time in seconds, as the string Meta sends; see Time.
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	// GroupID is set on messages sent in a group chat.
	GroupID string `json:"group_id,omitempty"`

	Context  *Context  `json:"context,omitempty"`
	Referral *Referral `json:"referral,omitempty"`
	// Errors is set on unsupported messages (code 131051) and other delivery problems.
	Errors []Error `json:"errors,omitempty"`

	Text        *Text           `json:"text,omitempty"`
	Image       *Media          `json:"image,omitempty"`
	Video       *Media          `json:"video,omitempty"`
	Audio       *Media          `json:"audio,omitempty"`
	Document    *Media          `json:"document,omitempty"`
	Sticker     *Media          `json:"sticker,omitempty"`
	Location    *Location       `json:"location,omitempty"`
	Contacts    []SharedContact `json:"contacts,omitempty"`
	Interactive *Interactive    `json:"interactive,omitempty"`
	Button      *Button         `json:"button,omitempty"`
	Reaction    *Reaction       `json:"reaction,omitempty"`
	Order       *Order          `json:"order,omitempty"`
	System      *System         `json:"system,omitempty"`
	Unsupported *Unsupported    `json:"unsupported,omitempty"`

	// Raw is the message object exactly as received.
	Raw json.RawMessage `json:"-"`
	// DecodeErr is the first type mismatch met decoding the typed fields (nil normally).
	DecodeErr error `json:"-"`

	contact *Contact
}

// UnmarshalJSON decodes a message best-effort and keeps a copy of its raw JSON. It never
// fails: a mismatch is recorded in DecodeErr and the rest of the message still decodes.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	*m = Message{}
	err := json.Unmarshal(data, (*plain)(m))
	m.Raw = append(json.RawMessage(nil), data...)
	m.DecodeErr = err
	return nil
}

// MarshalJSON writes Raw when set, so a parsed message re-serializes with nothing lost,
// and the typed fields otherwise.
func (m Message) MarshalJSON() ([]byte, error) {
	if len(m.Raw) > 0 {
		return m.Raw, nil
	}
	type plain Message
	return json.Marshal(plain(m))
}

// Time returns Timestamp as a UTC time, the zero time when it is absent or not a number.
func (m *Message) Time() time.Time { return parseUnix(m.Timestamp) }

// commonFields are the members every message may carry beside its type object: a type of
// one of these names (not one Meta sends) has no type object.
var commonFields = map[string]bool{
	"from": true, "from_user_id": true, "id": true, "timestamp": true, "type": true, "group_id": true,
	"context": true, "referral": true, "errors": true,
}

// TypeObject returns the member named after the message's type, exactly as received: for
// a text {"body"}, for an image {"id","mime_type","sha256","caption"}, for a button
// {"payload","text"}, for unsupported {"type"} (the kind of message, e.g. "edit"), for
// contacts the array of cards. It is {} when that member is absent or not an object or
// array (request_welcome, the older unknown type, an unsupported message naming no kind).
// This is what a client renders, the same shape an outbound message of the type has.
func (m *Message) TypeObject() json.RawMessage {
	if m.Type != "" && !commonFields[m.Type] && len(m.Raw) > 0 {
		var members map[string]json.RawMessage
		if json.Unmarshal(m.Raw, &members) == nil {
			if v := bytes.TrimSpace(members[m.Type]); len(v) > 0 && (v[0] == '{' || v[0] == '[') {
				return v
			}
		}
	}
	return json.RawMessage(`{}`)
}

// Contact returns the contacts[] entry of the sender, nil when the change had none for
// them (system messages never do). Only set on messages produced by Parse.
func (m *Message) Contact() *Contact { return m.contact }

// Identity returns who sent the message: their WhatsApp number (digits, no "+") and their
// BSUID, either of which may be empty, never both for a real user message.
//
// waID comes from `from`, else the sender's contacts[] wa_id; bsuid from `from_user_id`,
// else the contact's user_id. A non-numeric `from` or wa_id is a BSUID that Meta put in
// the number slot (allowed for username users), so it counts as the bsuid and not as waID.
func (m *Message) Identity() (waID, bsuid string) {
	var contactWaID, contactUserID string
	if m.contact != nil {
		contactWaID, contactUserID = m.contact.WaID, m.contact.UserID
	}
	var altBSUID string
	for _, s := range [2]string{m.From, contactWaID} {
		phone, other := splitIdentity(s)
		if waID == "" {
			waID = phone
		}
		if altBSUID == "" {
			altBSUID = other
		}
	}
	switch {
	case m.FromUserID != "":
		bsuid = m.FromUserID
	case contactUserID != "":
		bsuid = contactUserID
	default:
		bsuid = altBSUID
	}
	return waID, bsuid
}

// splitIdentity sorts a user identifier into a phone number (digits, "+" dropped) or
// something else, which for a user identifier means a BSUID.
func splitIdentity(s string) (phone, other string) {
	if s == "" {
		return "", ""
	}
	if d := strings.TrimPrefix(s, "+"); isDigits(d) {
		return d, ""
	}
	return "", s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Context is set on replies, forwards and product enquiries.
type Context struct {
	// From is our business number when the user replied to one of our messages.
	From string `json:"from,omitempty"`
	// ID is the wamid of the message replied to (for button replies: the message that
	// carried the button).
	ID                  string           `json:"id,omitempty"`
	Forwarded           bool             `json:"forwarded,omitempty"`
	FrequentlyForwarded bool             `json:"frequently_forwarded,omitempty"`
	ReferredProduct     *ReferredProduct `json:"referred_product,omitempty"`
}

// ReferredProduct is the catalog item a product enquiry is about.
type ReferredProduct struct {
	CatalogID         string `json:"catalog_id"`
	ProductRetailerID string `json:"product_retailer_id"`
}

// Referral is set when the message came from a Click-to-WhatsApp ad or a Facebook post: a
// free entry point.
type Referral struct {
	SourceURL      string          `json:"source_url,omitempty"`
	SourceID       string          `json:"source_id,omitempty"`
	SourceType     string          `json:"source_type,omitempty"` // "ad" or "post"
	Headline       string          `json:"headline,omitempty"`
	Body           string          `json:"body,omitempty"`
	MediaType      string          `json:"media_type,omitempty"` // "image" or "video"
	ImageURL       string          `json:"image_url,omitempty"`
	VideoURL       string          `json:"video_url,omitempty"`
	ThumbnailURL   string          `json:"thumbnail_url,omitempty"`
	CtwaClid       string          `json:"ctwa_clid,omitempty"`
	WelcomeMessage *WelcomeMessage `json:"welcome_message,omitempty"`
}

// WelcomeMessage is the greeting the ad showed.
type WelcomeMessage struct {
	Text string `json:"text"`
}

// Text is the body of a text message.
type Text struct {
	Body string `json:"body"`
}

// Media is an image, video, audio, document or sticker. ID is a media id valid for 7 days;
// URL is only sometimes sent (Meta's 2025 rollout) and must not be relied on.
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`  // image, video, document
	Filename string `json:"filename,omitempty"` // document
	Voice    bool   `json:"voice,omitempty"`    // audio: recorded as a voice note
	Animated bool   `json:"animated,omitempty"` // sticker
	URL      string `json:"url,omitempty"`
}

// Location is a shared location pin.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// SharedContact is one contact card of a "contacts" message.
type SharedContact struct {
	Addresses []ContactAddress `json:"addresses,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Name      ContactName      `json:"name"`
	Org       *ContactOrg      `json:"org,omitempty"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
}

// ContactAddress is a postal address on a contact card.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// ContactEmail is an email address on a contact card.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactName is the name on a contact card.
type ContactName struct {
	FormattedName string `json:"formatted_name,omitempty"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactOrg is the organization on a contact card.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// ContactPhone is a phone number on a contact card; WaID is set when it is on WhatsApp.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactURL is a web address on a contact card.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// Interactive reply types (Interactive.Type).
const (
	InteractiveButtonReply         = "button_reply"
	InteractiveListReply           = "list_reply"
	InteractiveNFMReply            = "nfm_reply"
	InteractiveCallPermissionReply = "call_permission_reply"
)

// Interactive is the user's answer to an interactive message. Type says which field is set.
type Interactive struct {
	Type        string       `json:"type"`
	ButtonReply *ButtonReply `json:"button_reply,omitempty"`
	ListReply   *ListReply   `json:"list_reply,omitempty"`
	NFMReply    *NFMReply    `json:"nfm_reply,omitempty"`
	// CallPermissionReply is kept as received.
	CallPermissionReply json.RawMessage `json:"call_permission_reply,omitempty"`
}

// ButtonReply is a tap on a reply button we sent.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ListReply is a row picked from a list message we sent.
type ListReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// NFMReply is a Flow (or address message) submission.
type NFMReply struct {
	Name string `json:"name,omitempty"`
	Body string `json:"body,omitempty"`
	// ResponseJSON is the flow's response: a JSON document inside a JSON string.
	ResponseJSON string `json:"response_json"`
}

// Button is a tap on a template quick-reply button. Payload is what we set when sending
// (else the label); Text is the label.
type Button struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// Reaction is an emoji reaction to a message; an empty Emoji means the reaction was removed.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"`
}

// Order is a cart sent from a catalog.
type Order struct {
	CatalogID    string        `json:"catalog_id"`
	Text         string        `json:"text,omitempty"`
	ProductItems []ProductItem `json:"product_items"`
}

// ProductItem is one line of an Order. Quantity and ItemPrice keep Meta's number literals.
type ProductItem struct {
	ProductRetailerID string      `json:"product_retailer_id"`
	Quantity          json.Number `json:"quantity"`
	ItemPrice         json.Number `json:"item_price"`
	Currency          string      `json:"currency"`
}

// System message types (System.Type).
const (
	SystemUserChangedNumber       = "user_changed_number"
	SystemCustomerChangedNumber   = "customer_changed_number"
	SystemCustomerIdentityChanged = "customer_identity_changed"
	SystemUserIdentityChanged     = "user_identity_changed"
	SystemUserChangedUserID       = "user_changed_user_id"
)

// System reports a change of the user's number or identity.
type System struct {
	Body string `json:"body,omitempty"`
	Type string `json:"type,omitempty"`
	// WaID is the user's new WhatsApp id on a number change (may be empty for username
	// users); NewWaID is the older name of the same thing.
	WaID    string `json:"wa_id,omitempty"`
	NewWaID string `json:"new_wa_id,omitempty"`
	// UserID is the user's new BSUID on user_changed_user_id.
	UserID       string `json:"user_id,omitempty"`
	ParentUserID string `json:"parent_user_id,omitempty"`
	Customer     string `json:"customer,omitempty"`
	Identity     string `json:"identity,omitempty"`
	User         string `json:"user,omitempty"`
}

// Unsupported names what kind of unsupported message the user sent (e.g. "edit", "poll").
type Unsupported struct {
	Type string `json:"type,omitempty"`
}

// Error is an error as webhooks report it (messages[].errors, statuses[].errors,
// value.errors). Decide on Code and ErrorData.Details, never on Message.
type Error struct {
	Code      int       `json:"code"`
	Title     string    `json:"title,omitempty"`
	Message   string    `json:"message,omitempty"`
	ErrorData ErrorData `json:"error_data"`
	Href      string    `json:"href,omitempty"`
}

// ErrorData carries the human-readable details of an Error.
type ErrorData struct {
	Details string `json:"details,omitempty"`
}

// Detail is the error's human-readable details, else its message.
func (e Error) Detail() string {
	if e.ErrorData.Details != "" {
		return e.ErrorData.Details
	}
	return e.Message
}

// Error implements the error interface: "(#131047) Re-engagement message: <details>".
func (e Error) Error() string {
	return fmt.Sprintf("(#%d) %s: %s", e.Code, e.Title, e.Detail())
}

// Values of UserPreference.Value.
const (
	PreferenceStop   = "stop"
	PreferenceResume = "resume"
	PreferenceSignup = "signup"
)

// UserPreference is a user stopping or resuming marketing messages from the business.
type UserPreference struct {
	WaID     string `json:"wa_id,omitempty"`
	UserID   string `json:"user_id,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Category string `json:"category,omitempty"` // "marketing_messages"
	Value    string `json:"value"`              // "stop", "resume", "signup"
	// Timestamp is unix seconds (a JSON number).
	Timestamp Scalar `json:"timestamp,omitempty"`
}

// Identity is the user the preference is about, read like Message.Identity: a wa_id
// that is not digits is a BSUID, and the matching contacts[] entry of v fills gaps. name
// is that entry's profile name.
func (u *UserPreference) Identity(v *Value) (waID, bsuid, name string) {
	waID, bsuid = splitIdentity(u.WaID)
	if u.UserID != "" {
		bsuid = u.UserID
	}
	if c := v.contactFor(waID, bsuid); c != nil {
		name = c.Profile.Name
		if waID == "" {
			waID, _ = splitIdentity(c.WaID)
		}
		if bsuid == "" {
			bsuid = c.UserID
		}
	}
	return waID, bsuid, name
}

// Time returns Timestamp as a UTC time, the zero time when absent.
func (p *UserPreference) Time() time.Time { return parseUnix(string(p.Timestamp)) }
