package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Outbound webhooks (API.md "Outbound webhooks"): the public event types a workspace's
// endpoints subscribe to, how the event log's kinds map to them, the Standard Webhooks
// signature, the retry schedule and the rule that disables an endpoint failing for days.
// The address policy (what an endpoint may point at) is in hooks_address.go.

// HookEventType is a public event type, as endpoints subscribe to it.
type HookEventType string

// The public event types. HookEventTypes lists them.
const (
	HookMessageReceived      HookEventType = "message.received"
	HookMessageSent          HookEventType = "message.sent"
	HookMessageDelivered     HookEventType = "message.delivered"
	HookMessageRead          HookEventType = "message.read"
	HookMessageFailed        HookEventType = "message.failed"
	HookContactOptedOut      HookEventType = "contact.opted_out"
	HookContactOptedIn       HookEventType = "contact.opted_in"
	HookConversationAssigned HookEventType = "conversation.assigned"
	HookConversationResolved HookEventType = "conversation.resolved"
	HookTemplateStatus       HookEventType = "template.status_changed"
	HookCampaignCompleted    HookEventType = "campaign.completed"
	HookPing                 HookEventType = "ping"
	// HookAll subscribes an endpoint to every type ("ping" is sent to it whatever it
	// subscribes to, but only from the test endpoint).
	HookAll HookEventType = "*"
)

// HookEventTypes is every public type, in API.md's order.
var HookEventTypes = []HookEventType{
	HookMessageReceived, HookMessageSent, HookMessageDelivered, HookMessageRead, HookMessageFailed,
	HookContactOptedOut, HookContactOptedIn, HookConversationAssigned, HookConversationResolved,
	HookTemplateStatus, HookCampaignCompleted, HookPing,
}

// ParseHookEventType reads a type an endpoint may subscribe to: one of HookEventTypes or "*".
func ParseHookEventType(s string) (HookEventType, bool) {
	t := HookEventType(s)
	if t == HookAll {
		return t, true
	}
	for _, k := range HookEventTypes {
		if k == t {
			return t, true
		}
	}
	return "", false
}

// HookSource is an event of the log as the public mapping reads it.
type HookSource struct {
	Kind       EventKind
	ResourceID string
	ContactID  *ID
	MessageID  *ID
	Details    map[string]any
}

// PublicHookEvent maps an event of the log to the public type and data endpoints receive;
// ok is false for the kinds (and the details) that make no public event.
func PublicHookEvent(s HookSource) (t HookEventType, data map[string]any, ok bool) {
	d := s.Details
	str := func(k string) string { v, _ := d[k].(string); return v }
	withIDs := func(m map[string]any) map[string]any {
		if s.ContactID != nil {
			m["contact_id"] = s.ContactID.String()
		}
		if s.MessageID != nil {
			m["message_id"] = s.MessageID.String()
		}
		return m
	}
	switch s.Kind {
	case EventMessageReceived:
		return HookMessageReceived, withIDs(map[string]any{"wamid": str("wamid"), "type": str("type"),
			"status": string(StatusReceived)}), true
	case EventMessageStatusChanged:
		status, previous := str("status"), str("previous")
		if status == previous {
			return "", nil, false // a late or repeated report: the message did not move
		}
		switch MessageStatus(status) {
		case StatusSent:
			t = HookMessageSent
		case StatusDelivered:
			t = HookMessageDelivered
		case StatusRead:
			t = HookMessageRead
		case StatusFailed:
			t = HookMessageFailed
		default:
			return "", nil, false
		}
		m := withIDs(map[string]any{"status": status, "wamid": nilIfEmpty(str("wamid"))})
		if v, ok := d["type"].(string); ok && v != "" {
			m["type"] = v
		}
		if e, ok := d["error"]; ok && e != nil {
			m["error"] = e
		}
		return t, m, true
	case EventContactOptedOut, EventContactOptedIn:
		t := HookContactOptedOut
		if s.Kind == EventContactOptedIn {
			t = HookContactOptedIn
		}
		return t, withIDs(map[string]any{"source": str("source")}), true
	case EventConversationAssigned:
		return HookConversationAssigned, map[string]any{"conversation_id": s.ResourceID, "contact_id": d["contact_id"],
			"assigned_to": d["to"], "previous": d["from"], "auto": d["auto"]}, true
	case EventConversationStatus:
		if str("status") != string(ConversationResolved) {
			return "", nil, false
		}
		m := withIDs(map[string]any{"conversation_id": s.ResourceID, "previous": str("previous")})
		return HookConversationResolved, m, true
	case EventTemplateStatusChanged:
		m := map[string]any{"template_id": s.ResourceID, "name": d["name"], "language": d["language"]}
		for _, k := range []string{"status", "quality_rating", "category", "rejected_reason"} {
			if v, ok := d[k]; ok {
				m[k] = v
			}
		}
		return HookTemplateStatus, m, true
	case EventCampaignCompleted:
		m := map[string]any{"campaign_id": s.ResourceID}
		for _, k := range []string{"status", "recipients", "sent", "failed", "skipped"} {
			if v, ok := d[k]; ok {
				m[k] = v
			}
		}
		return HookCampaignCompleted, m, true
	}
	return "", nil, false
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// HookSubscribed reports whether an endpoint subscribed to events receives type t.
func HookSubscribed(events []HookEventType, t HookEventType) bool {
	for _, e := range events {
		if e == HookAll || e == t {
			return true
		}
	}
	return false
}

// HookEventID is the webhook-id of the public event made from the log's event logID: the
// same for every attempt and every redelivery of the log (deterministic), and not a
// counter a receiver could read the platform's volume from.
func HookEventID(logID int64) string {
	sum := sha256.Sum256([]byte("waba-hook-event:" + strconv.FormatInt(logID, 10)))
	return "evt_" + hex.EncodeToString(sum[:12])
}

// HookSecretPrefix starts every endpoint secret (Standard Webhooks).
const HookSecretPrefix = "whsec_"

// NewHookSecret makes an endpoint secret from 32 random bytes.
func NewHookSecret(random []byte) string {
	return HookSecretPrefix + base64.StdEncoding.EncodeToString(random)
}

// ErrHookSecret is a secret that is not whsec_ + base64.
var ErrHookSecret = errors.New("not a webhook secret")

// HookSecretKey is the HMAC key of a secret: its base64 part, decoded.
func HookSecretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, HookSecretPrefix)
	if !ok {
		return nil, ErrHookSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, ErrHookSecret
	}
	return key, nil
}

// SignHook is the webhook-signature header of one attempt: "v1," + base64 of
// HMAC-SHA256(key, id.timestamp.body) for each key, separated by spaces (during a rotation,
// the new secret's first).
func SignHook(keys [][]byte, id string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// HookRotationOverlap is how long a rotated-out secret still signs.
const HookRotationOverlap = 24 * time.Hour

// HookDeliveryStatus is where a delivery stands: pending (not tried yet, or retried by
// hand), failed (its last attempt failed and another is scheduled), succeeded, or dead
// (no attempt left).
type HookDeliveryStatus string

const (
	HookPending   HookDeliveryStatus = "pending"
	HookSucceeded HookDeliveryStatus = "succeeded"
	HookFailed    HookDeliveryStatus = "failed"
	HookDead      HookDeliveryStatus = "dead"
)

// ParseHookDeliveryStatus reads a status as the API spells it.
func ParseHookDeliveryStatus(s string) (HookDeliveryStatus, bool) {
	switch st := HookDeliveryStatus(s); st {
	case HookPending, HookSucceeded, HookFailed, HookDead:
		return st, true
	}
	return "", false
}

// hookBackoff are the delays after the first failed attempts; every later one waits
// hookBackoffTail.
var hookBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}

const hookBackoffTail = 12 * time.Hour

// HookJitter is the spread of a retry delay: a delay d waits d*(1-HookJitter) to
// d*(1+HookJitter), so endpoints that failed together do not all come back at once.
const HookJitter = 0.2

// HookMaxAttempts is how many attempts a delivery gets: with the smallest jitter the last
// is still more than HookMinRetryPeriod after the first.
const HookMaxAttempts = 17

// HookMinRetryPeriod is the least time between a delivery's first attempt and its death.
const HookMinRetryPeriod = 72 * time.Hour

// HookRetry says what follows a failed attempt: after attempts attempts (1 after the
// first), the delay before the next, or dead when none is left. random is in [0, 1) (the
// jitter's draw).
func HookRetry(attempts int, random float64) (delay time.Duration, dead bool) {
	if attempts >= HookMaxAttempts {
		return 0, true
	}
	base := hookBackoffTail
	if i := max(attempts, 1) - 1; i < len(hookBackoff) {
		base = hookBackoff[i]
	}
	random = min(max(random, 0), 1)
	factor := 1 - HookJitter + 2*HookJitter*random
	return time.Duration(float64(base) * factor), false
}

// HookDisableAfter is how long an endpoint may fail every attempt before it is disabled.
const HookDisableAfter = 5 * 24 * time.Hour

// HookShouldDisable reports whether an endpoint failing every attempt since failingSince
// (nil: its last attempt succeeded) is to be disabled at now.
func HookShouldDisable(failingSince *time.Time, now time.Time) bool {
	return failingSince != nil && now.Sub(*failingSince) >= HookDisableAfter
}

// HookResponseLimit is how much of a receiver's answer the delivery log keeps.
const HookResponseLimit = 1024

// HookEndpoint is a workspace's webhook endpoint. Its secrets are sealed (never plaintext
// at rest) and bound to the workspace and the endpoint (HookSecretBinding).
type HookEndpoint struct {
	ID          ID
	WorkspaceID ID
	URL         string
	Events      []HookEventType
	Description string
	Enabled     bool
	Secret      Sealed
	// Previous is the secret a rotation replaced, still signing until PreviousUntil.
	Previous      *Sealed
	PreviousUntil *time.Time
	FailingSince  *time.Time
	DisabledAt    *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PurposeHookSecret seals endpoints' signing secrets.
const PurposeHookSecret = "webhook_secret"

// HookSecretBinding binds an endpoint's secrets to it: the third field of the binding,
// a phone number's id for Meta tokens, names the endpoint here.
func HookSecretBinding(ws, endpointID ID) SecretBinding {
	return SecretBinding{WorkspaceID: ws, Purpose: PurposeHookSecret, PhoneNumberID: endpointID.String()}
}

// HookDelivery is one public event to one endpoint and what became of it.
type HookDelivery struct {
	ID             ID
	WorkspaceID    ID
	EndpointID     ID
	EventID        string
	EventType      HookEventType
	Body           []byte // exactly as sent on every attempt
	Status         HookDeliveryStatus
	Attempts       int
	ResponseStatus *int
	ResponseBody   string
	Error          string
	DurationMS     *int
	NextAttemptAt  *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// HookEndpointChanged: a webhook endpoint was created, updated (Fields), deleted, had its
// secret rotated or was disabled by the system after failing for days, each its own kind
// (Action). Never the secret.
type HookEndpointChanged struct {
	EndpointID ID
	Action     HookEndpointAction
	URL        string
	Events     []HookEventType
	Fields     []string // update only
}

// HookEndpointAction is what happened to an endpoint.
type HookEndpointAction string

const (
	HookEndpointCreate  HookEndpointAction = "create"
	HookEndpointUpdate  HookEndpointAction = "update"
	HookEndpointDelete  HookEndpointAction = "delete"
	HookEndpointRotate  HookEndpointAction = "rotate"
	HookEndpointDisable HookEndpointAction = "disable"
)

var hookEndpointKinds = map[HookEndpointAction]EventKind{
	HookEndpointCreate: EventWebhookEndpointCreated, HookEndpointUpdate: EventWebhookEndpointUpdated,
	HookEndpointDelete: EventWebhookEndpointDeleted, HookEndpointRotate: EventWebhookEndpointSecretRotated,
	HookEndpointDisable: EventWebhookEndpointDisabled,
}

func (e HookEndpointChanged) Kind() EventKind { return hookEndpointKinds[e.Action] }
func (e HookEndpointChanged) Subject() Subject {
	d := map[string]any{"url": e.URL}
	if e.Events != nil {
		d["events"] = e.Events
	}
	if e.Action == HookEndpointUpdate {
		d["fields"] = e.Fields
	}
	if e.Action == HookEndpointDisable {
		d["reason"] = "failing_for_5_days"
	}
	return audited("webhook_endpoint", e.EndpointID.String(), d)
}
