package meta

import (
	"context"
	"errors"
	"strings"

	"github.com/wabaplatform/waba/domain"
)

// subcodeTemplateNotFound is Meta's "Message template not found" (a delete of a template
// that is gone already).
const subcodeTemplateNotFound = 2593002

// CreateTemplate implements templates.Graph.
func (g *Graph) CreateTemplate(ctx context.Context, token, wabaID string, d domain.TemplateDraft) (domain.Template, error) {
	out, err := g.c.CreateTemplate(ctx, token, wabaID, TemplateCreate{Name: d.Name, Language: d.Language, Category: d.Category,
		ParameterFormat: strings.ToUpper(d.ParameterFormat), Components: d.Components})
	if err != nil {
		return domain.Template{}, templateError(err)
	}
	return domain.Template{MetaTemplateID: out.ID, Status: out.Status, Category: out.Category}, nil
}

// DeleteTemplate implements templates.Graph: a template Meta no longer has is deleted.
func (g *Graph) DeleteTemplate(ctx context.Context, token, wabaID, name, metaTemplateID string) error {
	err := g.c.DeleteTemplate(ctx, token, wabaID, name, metaTemplateID)
	var ge *Error
	if errors.As(err, &ge) && ge.Subcode == subcodeTemplateNotFound {
		return nil
	}
	return templateError(err)
}

// ListTemplates implements templates.Graph.
func (g *Graph) ListTemplates(ctx context.Context, token, wabaID string) ([]domain.Template, error) {
	ts, err := g.c.ListTemplates(ctx, token, wabaID)
	if err != nil {
		return nil, AsDomainError(err)
	}
	out := make([]domain.Template, len(ts))
	for i, t := range ts {
		reason := t.RejectedReason
		if reason == "NONE" {
			reason = ""
		}
		quality := t.QualityScore.Score
		format := strings.ToLower(t.ParameterFormat)
		if format == "" {
			format = domain.ParametersPositional
		}
		out[i] = domain.Template{MetaTemplateID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category,
			Status: t.Status, RejectedReason: reason, QualityRating: quality, ParameterFormat: format,
			Components: t.Components}
	}
	return out, nil
}

// templateError is AsDomainError with Meta's words for people (error_user_title and
// error_user_msg) when Meta gave them: a refusal of a template is explained there.
func templateError(err error) error {
	de := AsDomainError(err)
	var ge *Error
	var me *domain.MetaError
	if errors.As(err, &ge) && errors.As(de, &me) {
		if ge.UserTitle != "" {
			me.Title = ge.UserTitle
		}
		if ge.UserMessage != "" {
			me.Detail = ge.UserMessage
		}
	}
	return de
}
