package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wabaplatform/waba/domain"
)

// Template is one message template of a WABA, as listed by GET /{waba-id}/message_templates.
type Template struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Language        string              `json:"language"`
	Category        string              `json:"category"` // MARKETING, UTILITY, AUTHENTICATION
	Status          string              `json:"status"`   // APPROVED, PENDING, REJECTED, PAUSED, ...
	ParameterFormat string              `json:"parameter_format,omitempty"`
	QualityScore    QualityScore        `json:"quality_score"`
	RejectedReason  string              `json:"rejected_reason,omitempty"`
	Components      []TemplateComponent `json:"components"`
}

// QualityScore decodes a template's quality_score, which Graph returns as an object
// {"score": "GREEN", "date": ...} and some versions as a bare string.
type QualityScore struct {
	Score string // GREEN, YELLOW, RED, UNKNOWN
}

// UnmarshalJSON implements json.Unmarshaler; an unexpected shape leaves Score empty.
func (q *QualityScore) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if b[0] == '"' {
		return json.Unmarshal(b, &q.Score)
	}
	var obj struct {
		Score string `json:"score"`
	}
	if json.Unmarshal(b, &obj) == nil {
		q.Score = obj.Score
	}
	return nil
}

// MarshalJSON writes the Graph object form.
func (q QualityScore) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Score string `json:"score,omitempty"`
	}{q.Score})
}

// TemplateComponent and TemplateButton are the Graph API's template components. The
// domain's types are that shape already (the API shows components as Graph does), so the
// wire uses them as they are.
type (
	TemplateComponent = domain.TemplateComponent
	TemplateButton    = domain.TemplateButton
)

// TemplateCreate is the body of POST /{waba-id}/message_templates.
type TemplateCreate struct {
	Name                string              `json:"name"`
	Language            string              `json:"language"`
	Category            string              `json:"category"`
	ParameterFormat     string              `json:"parameter_format,omitempty"` // POSITIONAL (default) or NAMED
	AllowCategoryChange bool                `json:"allow_category_change,omitempty"`
	Components          []TemplateComponent `json:"components"`
}

// TemplateCreated is Meta's answer to a template creation.
type TemplateCreated struct {
	ID       string `json:"id"`
	Status   string `json:"status"` // usually PENDING; the outcome arrives as a webhook
	Category string `json:"category"`
}

const templateFields = "id,name,language,category,status,quality_score,components,rejected_reason,parameter_format"

// ListTemplates lists every template of the WABA, following paging cursors.
func (c *Client) ListTemplates(ctx context.Context, token, wabaID string) ([]Template, error) {
	q := url.Values{"fields": {templateFields}, "limit": {"100"}}
	return getAll[Template](ctx, c, "list templates", token, q, wabaID, "message_templates")
}

// CreateTemplate submits a template for review.
func (c *Client) CreateTemplate(ctx context.Context, token, wabaID string, t TemplateCreate) (TemplateCreated, error) {
	const op = "create template"
	var out TemplateCreated
	if err := c.postJSON(ctx, op, token, c.endpoint(nil, wabaID, "message_templates"), t, &out); err != nil {
		return TemplateCreated{}, err
	}
	if out.ID == "" {
		return TemplateCreated{}, fmt.Errorf("meta: %s: %w: no template id", op, ErrUnexpectedResponse)
	}
	return out, nil
}

// DeleteTemplate deletes a template at Meta: DELETE /{waba-id}/message_templates?name=...,
// with hsm_id (Meta's template id) to delete only that language's template; without it
// every language of the name goes.
func (c *Client) DeleteTemplate(ctx context.Context, token, wabaID, name, hsmID string) error {
	const op = "delete template"
	q := url.Values{"name": {name}}
	if hsmID != "" {
		q.Set("hsm_id", hsmID)
	}
	var out successResponse
	r := request{op: op, method: http.MethodDelete, url: c.endpoint(q, wabaID, "message_templates"), token: token}
	if err := c.do(ctx, r, &out); err != nil {
		return err
	}
	return out.check(op)
}
