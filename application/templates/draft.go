package templates

import (
	"strings"

	"github.com/wabaplatform/waba/domain"
)

// normalize trims the draft and puts its words in Meta's case.
func normalize(d domain.TemplateDraft) domain.TemplateDraft {
	d.Name = strings.TrimSpace(d.Name)
	d.Language = strings.TrimSpace(d.Language)
	d.Category = strings.ToUpper(strings.TrimSpace(d.Category))
	d.ParameterFormat = strings.ToLower(strings.TrimSpace(d.ParameterFormat))
	if d.ParameterFormat == "" {
		d.ParameterFormat = domain.ParametersPositional
	}
	return d
}

// validateDraft is the minimal check until domain.ValidateTemplate arrives.
func validateDraft(d domain.TemplateDraft) error {
	var v domain.Validator
	v.Check(d.Name != "", "name", "is required")
	v.Check(d.Language != "", "language", "is required")
	v.Check(d.Category == domain.CategoryMarketing || d.Category == domain.CategoryUtility || d.Category == domain.CategoryAuthentication,
		"category", "must be MARKETING, UTILITY or AUTHENTICATION")
	v.Check(len(d.Components) > 0, "components", "is required")
	return v.Err()
}
