package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestTemplateApply(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	pending := domain.Template{ID: domain.NewID(), Name: "order_update", Language: "en_US", Category: domain.CategoryUtility,
		Status: domain.TemplatePending, UpdatedAt: t0, StatusAt: &t0}
	ptr := func(s string) *string { return &s }

	t.Run("NewerStatusApplies", func(t *testing.T) {
		t.Parallel()
		got, ev := pending.Apply(domain.TemplateReport{At: t0.Add(time.Minute), Status: domain.TemplateApproved, RejectedReason: ptr("NONE")})
		require.Equal(t, domain.TemplateApproved, got.Status)
		require.Equal(t, t0.Add(time.Minute), *got.StatusAt)
		require.Equal(t, t0.Add(time.Minute), got.UpdatedAt)
		require.Equal(t, &domain.TemplateStatusChanged{TemplateID: pending.ID, Name: "order_update", Language: "en_US",
			Status: &domain.FromTo[string]{From: "PENDING", To: "APPROVED"}}, ev)
	})

	t.Run("LateOlderStatusDoesNotRegress", func(t *testing.T) {
		t.Parallel()
		approved, _ := pending.Apply(domain.TemplateReport{At: t0.Add(time.Minute), Status: domain.TemplateApproved})
		got, ev := approved.Apply(domain.TemplateReport{At: t0.Add(30 * time.Second), Status: domain.TemplatePending})
		require.Nil(t, ev)
		require.Equal(t, approved, got)
	})

	t.Run("SameStatusIsNoEvent", func(t *testing.T) {
		t.Parallel()
		got, ev := pending.Apply(domain.TemplateReport{At: t0.Add(time.Minute), Status: domain.TemplatePending})
		require.Nil(t, ev)
		require.Equal(t, t0.Add(time.Minute), *got.StatusAt, "the report is remembered")
		require.Equal(t, t0, got.UpdatedAt, "nothing changed")
	})

	t.Run("RejectionCarriesItsReason", func(t *testing.T) {
		t.Parallel()
		got, ev := pending.Apply(domain.TemplateReport{At: t0.Add(time.Minute), Status: domain.TemplateRejected, RejectedReason: ptr("INVALID_FORMAT")})
		require.Equal(t, "INVALID_FORMAT", got.RejectedReason)
		require.Equal(t, "INVALID_FORMAT", ev.RejectedReason)
		got, ev = got.Apply(domain.TemplateReport{At: t0.Add(2 * time.Minute), Status: domain.TemplateApproved, RejectedReason: ptr("NONE")})
		require.Empty(t, got.RejectedReason, "NONE clears it")
		require.Empty(t, ev.RejectedReason)
	})

	t.Run("QualityAndCategoryHaveTheirOwnClocks", func(t *testing.T) {
		t.Parallel()
		later := t0.Add(time.Hour)
		got, ev := pending.Apply(domain.TemplateReport{At: later, Quality: "YELLOW"})
		require.Equal(t, &domain.FromTo[string]{From: "", To: "YELLOW"}, ev.Quality)
		require.Nil(t, ev.Status)
		// A category change older than the quality report still applies: only its own clock counts.
		got, ev = got.Apply(domain.TemplateReport{At: t0.Add(time.Minute), Category: domain.CategoryMarketing})
		require.Equal(t, &domain.FromTo[string]{From: "UTILITY", To: "MARKETING"}, ev.Category)
		require.Equal(t, domain.CategoryMarketing, got.Category)
		_, ev = got.Apply(domain.TemplateReport{At: t0, Quality: "RED", Category: domain.CategoryUtility})
		require.Nil(t, ev, "both are older than what was applied")
		require.Equal(t, later, got.UpdatedAt, "never back")
	})

	t.Run("AListingAppliesEverything", func(t *testing.T) {
		t.Parallel()
		comps := []domain.TemplateComponent{{Type: "BODY", Text: "Your order {{1}} shipped"}}
		got, ev := pending.Apply(domain.TemplateReport{At: t0.Add(time.Hour), MetaTemplateID: "123", Status: domain.TemplateApproved,
			RejectedReason: ptr("NONE"), Quality: "GREEN", Category: domain.CategoryUtility, ParameterFormat: domain.ParametersPositional,
			Components: comps})
		require.Equal(t, "123", got.MetaTemplateID)
		require.Equal(t, comps, got.Components)
		require.NotNil(t, ev.Status)
		require.NotNil(t, ev.Quality)
		require.Nil(t, ev.Category, "unchanged")
		again, ev := got.Apply(domain.TemplateReport{At: t0.Add(2 * time.Hour), MetaTemplateID: "123", Status: domain.TemplateApproved,
			Quality: "GREEN", Category: domain.CategoryUtility, ParameterFormat: domain.ParametersPositional, Components: comps})
		require.Nil(t, ev)
		require.Equal(t, got.UpdatedAt, again.UpdatedAt, "an unchanged listing changes nothing")
	})
}
