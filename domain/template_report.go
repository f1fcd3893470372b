package domain

import "time"

// TemplateReport is what Meta said about a template at At: one webhook (status, quality or
// category) or one entry of a sync's listing (every field, At being when the list was
// read). Empty fields say nothing.
type TemplateReport struct {
	At             time.Time
	MetaTemplateID string
	Status         string
	// RejectedReason goes with Status: nil leaves it; Meta's "NONE" and "" clear it.
	RejectedReason *string
	Quality        string
	Category       string
	// A listing also carries the content.
	ParameterFormat string
	Components      []TemplateComponent
}

// Apply returns t with the report applied, and the event to record when its status,
// quality rating or category changed (nil when none did). Meta does not promise the order
// of its webhooks, so each of the three is applied only when the report is not older than
// what was last applied to it (StatusAt, QualityAt, CategoryAt): a late PENDING never
// overwrites the APPROVED of a later event. A report as old as the last one applies (Meta's
// times are seconds; the later delivery is the better guess).
func (t Template) Apply(u TemplateReport) (Template, *TemplateStatusChanged) {
	at := u.At.UTC()
	fresh := func(last *time.Time) bool { return last == nil || !at.Before(*last) }
	ev := &TemplateStatusChanged{TemplateID: t.ID, Name: t.Name, Language: t.Language}
	changed := false
	if u.MetaTemplateID != "" && t.MetaTemplateID != u.MetaTemplateID {
		t.MetaTemplateID, changed = u.MetaTemplateID, true
	}
	if u.Status != "" && fresh(t.StatusAt) {
		if u.Status != t.Status {
			ev.Status = &FromTo[string]{t.Status, u.Status}
			t.Status = u.Status
		}
		if u.RejectedReason != nil {
			reason := *u.RejectedReason
			if reason == "NONE" {
				reason = ""
			}
			if reason != t.RejectedReason {
				t.RejectedReason, changed = reason, true
			}
		}
		t.StatusAt = &at
	}
	if u.Quality != "" && fresh(t.QualityAt) {
		if u.Quality != t.QualityRating {
			ev.Quality = &FromTo[string]{t.QualityRating, u.Quality}
			t.QualityRating = u.Quality
		}
		t.QualityAt = &at
	}
	if u.Category != "" && fresh(t.CategoryAt) {
		if u.Category != t.Category {
			ev.Category = &FromTo[string]{t.Category, u.Category}
			t.Category = u.Category
		}
		t.CategoryAt = &at
	}
	if u.ParameterFormat != "" && u.ParameterFormat != t.ParameterFormat {
		t.ParameterFormat, changed = u.ParameterFormat, true
	}
	if u.Components != nil && !sameComponents(t.Components, u.Components) {
		t.Components, changed = u.Components, true
	}
	if ev.Status == nil && ev.Quality == nil && ev.Category == nil {
		ev = nil
	} else {
		changed = true
		if t.Status == TemplateRejected {
			ev.RejectedReason = t.RejectedReason
		}
	}
	if changed && at.After(t.UpdatedAt) {
		t.UpdatedAt = at
	}
	return t, ev
}

func sameComponents(a, b []TemplateComponent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Type != y.Type || x.Format != y.Format || x.Text != y.Text || string(x.Example) != string(y.Example) ||
			x.AddSecurityRecommendation != y.AddSecurityRecommendation || x.CodeExpirationMinutes != y.CodeExpirationMinutes ||
			len(x.Buttons) != len(y.Buttons) {
			return false
		}
		for j := range x.Buttons {
			p, q := x.Buttons[j], y.Buttons[j]
			if p.Type != q.Type || p.Text != q.Text || p.URL != q.URL || p.PhoneNumber != q.PhoneNumber ||
				p.OTPType != q.OTPType || p.FlowID != q.FlowID || string(p.Example) != string(q.Example) {
				return false
			}
		}
	}
	return true
}
