package templates

import (
	"github.com/wabaplatform/waba/domain"
)

// normalize writes the draft as Meta and the product store it.
func normalize(d domain.TemplateDraft) domain.TemplateDraft { return domain.NormalizeDraft(d) }

// validateDraft reports what Meta would refuse (before any call to Meta).
func validateDraft(d domain.TemplateDraft) error { return domain.ValidateTemplate(d) }
