package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ExchangeCode trades an Embedded Signup code for the customer's business token
// (GET /oauth/access_token with our app id and secret). Codes are single use.
func (c *Client) ExchangeCode(ctx context.Context, code string) (string, error) {
	const op = "exchange code"
	q := url.Values{"client_id": {c.appID}, "client_secret": {c.appSecret}, "code": {code}}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.getJSON(ctx, op, "", c.endpoint(q, "oauth", "access_token"), &out, c.appSecret, code); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("meta: %s: %w: no access_token", op, ErrUnexpectedResponse)
	}
	return out.AccessToken, nil
}

// DebugToken inspects a business token with our app token and returns the WABA ids it may
// manage (the target_ids of its whatsapp_business_management granular scope). A token Meta
// reports as invalid comes back as an *Error with its code (190 when Meta gives none), so
// Classify says ClassAuth.
func (c *Client) DebugToken(ctx context.Context, token string) ([]string, error) {
	const op = "debug token"
	appToken := c.appID + "|" + c.appSecret
	var out struct {
		Data struct {
			IsValid bool `json:"is_valid"`
			Error   *struct {
				Code    flexInt `json:"code"`
				Subcode flexInt `json:"subcode"`
				Message string  `json:"message"`
			} `json:"error"`
			GranularScopes []struct {
				Scope     string   `json:"scope"`
				TargetIDs []string `json:"target_ids"`
			} `json:"granular_scopes"`
		} `json:"data"`
	}
	u := c.endpoint(url.Values{"input_token": {token}}, "debug_token")
	if err := c.getJSON(ctx, op, appToken, u, &out, token, c.appSecret); err != nil {
		return nil, err
	}
	if !out.Data.IsValid {
		e := &Error{HTTPStatus: http.StatusOK, Code: 190, Type: "OAuthException", Message: "token is not valid"}
		if out.Data.Error != nil {
			if out.Data.Error.Code != 0 {
				e.Code = int(out.Data.Error.Code)
			}
			e.Subcode = int(out.Data.Error.Subcode)
			e.Message = redact(out.Data.Error.Message, []string{c.appSecret}, token)
		}
		return nil, wrapf(op, e)
	}
	var ids []string
	seen := map[string]bool{}
	for _, s := range out.Data.GranularScopes {
		if s.Scope != "whatsapp_business_management" {
			continue
		}
		for _, id := range s.TargetIDs {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// PhoneNumber is one entry of GET /{waba-id}/phone_numbers.
type PhoneNumber struct {
	ID                     string     `json:"id"` // the phone_number_id
	DisplayPhoneNumber     string     `json:"display_phone_number"`
	VerifiedName           string     `json:"verified_name"`
	QualityRating          string     `json:"quality_rating"`
	CodeVerificationStatus string     `json:"code_verification_status"`
	NameStatus             string     `json:"name_status"`
	PlatformType           string     `json:"platform_type"`
	Throughput             Throughput `json:"throughput"`
}

// Throughput is a number's throughput: Level STANDARD (80 mps) or HIGH (up to 1,000 mps).
type Throughput struct {
	Level string `json:"level"`
}

const phoneListFields = "id,display_phone_number,verified_name,quality_rating,code_verification_status,name_status,platform_type,throughput"

// ListPhoneNumbers lists the WABA's phone numbers, following paging cursors.
func (c *Client) ListPhoneNumbers(ctx context.Context, token, wabaID string) ([]PhoneNumber, error) {
	q := url.Values{"fields": {phoneListFields}, "limit": {"100"}}
	return getAll[PhoneNumber](ctx, c, "list phone numbers", token, q, wabaID, "phone_numbers")
}

// SubscribeApp subscribes our app to the WABA's webhooks (POST /{waba-id}/subscribed_apps).
// With a WebhookURL configured the subscription overrides the callback for this WABA's
// messages-family webhooks (Meta verifies the URL with a GET handshake before answering;
// template and account webhooks still go to the app's callback).
func (c *Client) SubscribeApp(ctx context.Context, token, wabaID string) error {
	const op = "subscribe app"
	var in any
	if c.webhookURL != "" {
		in = map[string]string{"override_callback_uri": c.webhookURL, "verify_token": c.verifyToken}
	}
	var out successResponse
	if err := c.postJSON(ctx, op, token, c.endpoint(nil, wabaID, "subscribed_apps"), in, &out); err != nil {
		return err
	}
	return out.check(op)
}

// UnsubscribeApp removes our app from the WABA's webhook subscriptions
// (DELETE /{waba-id}/subscribed_apps). Meta answers success when it was not subscribed.
func (c *Client) UnsubscribeApp(ctx context.Context, token, wabaID string) error {
	const op = "unsubscribe app"
	var out successResponse
	r := request{op: op, method: http.MethodDelete, url: c.endpoint(nil, wabaID, "subscribed_apps"), token: token}
	if err := c.do(ctx, r, &out); err != nil {
		return err
	}
	return out.check(op)
}

// RegisterPhoneNumber registers the number for Cloud API with its 6-digit two-step PIN
// (POST /{phone-number-id}/register). The PIN is never part of an error string.
func (c *Client) RegisterPhoneNumber(ctx context.Context, token, phoneNumberID, pin string) error {
	const op = "register phone number"
	body, err := json.Marshal(map[string]string{"messaging_product": "whatsapp", "pin": pin})
	if err != nil {
		return fmt.Errorf("meta: %s: %w", op, ErrInvalidRequest)
	}
	var out successResponse
	r := request{
		op: op, method: http.MethodPost, url: c.endpoint(nil, phoneNumberID, "register"), token: token,
		body: bytes.NewReader(body), contentType: "application/json", secrets: []string{pin},
	}
	if err := c.do(ctx, r, &out); err != nil {
		return err
	}
	return out.check(op)
}

// PhoneNumberFields is the field list GetPhoneNumber asks for (meta-cloud-api.md 10.5).
const PhoneNumberFields = "display_phone_number,verified_name,quality_rating,code_verification_status,name_status,platform_type,throughput,messaging_limit_tier,whatsapp_business_manager_messaging_limit,is_official_business_account,account_mode"

// PhoneNumberInfo is a number's metadata from GET /{phone-number-id}?fields=PhoneNumberFields.
// Meta adds values without notice: treat every string as open-ended.
type PhoneNumberInfo struct {
	ID                     string     `json:"id"`
	DisplayPhoneNumber     string     `json:"display_phone_number"`
	VerifiedName           string     `json:"verified_name"`
	QualityRating          string     `json:"quality_rating"`           // GREEN, YELLOW, RED, UNKNOWN
	CodeVerificationStatus string     `json:"code_verification_status"` // VERIFIED, NOT_VERIFIED, EXPIRED
	NameStatus             string     `json:"name_status"`              // APPROVED, PENDING_REVIEW, DECLINED, ...
	PlatformType           string     `json:"platform_type"`            // CLOUD_API, ON_PREMISE, NOT_APPLICABLE
	Throughput             Throughput `json:"throughput"`
	// NumberMessagingLimitTier is the deprecated per-number messaging_limit_tier.
	NumberMessagingLimitTier string `json:"messaging_limit_tier"`
	// PortfolioMessagingLimit is whatsapp_business_manager_messaging_limit, the business
	// portfolio's limit shared by all its numbers.
	PortfolioMessagingLimit   MessagingLimit `json:"whatsapp_business_manager_messaging_limit"`
	IsOfficialBusinessAccount bool           `json:"is_official_business_account"`
	AccountMode               string         `json:"account_mode"` // LIVE, SANDBOX
}

// MessagingLimitTier is the number's messaging limit as Meta's tier string (TIER_250,
// TIER_2K, TIER_10K, TIER_100K, TIER_UNLIMITED, ...): the portfolio-level value when Meta
// provides it, the deprecated per-number field otherwise. Empty when neither is known.
func (p PhoneNumberInfo) MessagingLimitTier() string {
	if p.PortfolioMessagingLimit.Tier != "" {
		return p.PortfolioMessagingLimit.Tier
	}
	return p.NumberMessagingLimitTier
}

// MessagingLimit decodes whatsapp_business_manager_messaging_limit leniently: Meta documents
// a tier string ("TIER_2K"), but an object ({"max_daily_conversations_per_business":
// "TIER_2K"}, {"tier": ...}, ...) or a plain number of users is accepted too.
type MessagingLimit struct {
	Tier string
}

// UnmarshalJSON implements json.Unmarshaler; it never fails on an unexpected shape.
func (m *MessagingLimit) UnmarshalJSON(b []byte) error {
	m.Tier = tierFromJSON(b, 0)
	return nil
}

// MarshalJSON writes the tier as a string.
func (m MessagingLimit) MarshalJSON() ([]byte, error) { return json.Marshal(m.Tier) }

func tierFromJSON(b []byte, depth int) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || depth > 3 {
		return ""
	}
	switch b[0] {
	case '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return ""
		}
		return normalizeTier(s)
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) != nil {
			return ""
		}
		for _, k := range []string{"max_daily_conversations_per_business", "messaging_limit_tier", "tier", "current_limit", "limit", "value", "messaging_limit"} {
			if v, ok := obj[k]; ok {
				if t := tierFromJSON(v, depth+1); t != "" {
					return t
				}
			}
		}
		// Unknown keys: only a string (or nested object) that already reads "TIER_...".
		for _, v := range obj {
			v = bytes.TrimSpace(v)
			if len(v) == 0 || (v[0] != '"' && v[0] != '{') {
				continue
			}
			if t := tierFromJSON(v, depth+1); strings.HasPrefix(t, "TIER_") && (v[0] == '{' || strings.Contains(strings.ToUpper(string(v)), "TIER_")) {
				return t
			}
		}
		return ""
	case 'n', 't', 'f', '[':
		return ""
	default:
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return ""
		}
		return tierForCount(n)
	}
}

// normalizeTier accepts "TIER_2K", "tier_2k", "2K", "2000", "UNLIMITED".
func normalizeTier(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "TIER_") {
		return s
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return tierForCount(n)
	}
	return "TIER_" + s
}

func tierForCount(n int64) string {
	switch {
	case n < 0:
		return "TIER_UNLIMITED"
	case n >= 1000 && n%1000 == 0:
		return "TIER_" + strconv.FormatInt(n/1000, 10) + "K"
	default:
		return "TIER_" + strconv.FormatInt(n, 10)
	}
}

// GetPhoneNumber reads the number's metadata (the fields of PhoneNumberFields).
func (c *Client) GetPhoneNumber(ctx context.Context, token, phoneNumberID string) (PhoneNumberInfo, error) {
	var out PhoneNumberInfo
	u := c.endpoint(url.Values{"fields": {PhoneNumberFields}}, phoneNumberID)
	if err := c.getJSON(ctx, "get phone number", token, u, &out); err != nil {
		return PhoneNumberInfo{}, err
	}
	if out.ID == "" {
		out.ID = phoneNumberID
	}
	return out, nil
}
