package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestCheckTemplateSend(t *testing.T) {
	positional := domain.Template{ParameterFormat: domain.ParametersPositional, Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Order {{1}}"},
		{Type: "BODY", Text: "Hi {{1}}, order {{2}} ships {{2}}"},
		{Type: "FOOTER", Text: "Thanks"},
		{Type: "BUTTONS", Buttons: []domain.TemplateButton{{Type: "URL", URL: "https://x.test/{{1}}"}, {Type: "QUICK_REPLY", Text: "Stop"},
			{Type: "PHONE_NUMBER", PhoneNumber: "+1555"}}},
	}}
	named := domain.Template{ParameterFormat: domain.ParametersNamed, Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "IMAGE"}, {Type: "BODY", Text: "Hi {{first_name}}, use {{code}}"}}}
	p := func(n int) []string { return make([]string, n) }
	header, body, url := domain.SentComponent{Type: "header", Index: -1, ParameterNames: p(1)},
		domain.SentComponent{Type: "BODY", Index: -1, ParameterNames: p(2)}, domain.SentComponent{Type: "button", Index: 0, ParameterNames: p(1)}
	for _, tt := range []struct {
		name string
		t    domain.Template
		sent []domain.SentComponent
		want []domain.FieldError
	}{
		{"fits", positional, []domain.SentComponent{header, body, url}, nil},
		{"a quick reply payload is optional", positional, []domain.SentComponent{header, body, url, {Type: "button", Index: 1, ParameterNames: p(1)}}, nil},
		{"too few in the body", positional, []domain.SentComponent{header, {Type: "body", Index: -1, ParameterNames: p(1)}, url},
			[]domain.FieldError{{Field: "template.components[1].parameters", Message: "expects 2 parameters, got 1"}}},
		{"body left out", positional, []domain.SentComponent{header, url},
			[]domain.FieldError{{Field: "template.components", Message: "the body expects 2 parameters, got none"}}},
		{"no such button", positional, []domain.SentComponent{header, body, url, {Type: "button", Index: 7, ParameterNames: p(1)}},
			[]domain.FieldError{{Field: "template.components[3].index", Message: "the template has no button 7"}}},
		{"a button without parameters", positional, []domain.SentComponent{header, body, url, {Type: "button", Index: 2, ParameterNames: p(1)}},
			[]domain.FieldError{{Field: "template.components[3].parameters", Message: "expects 0 parameters, got 1"}}},
		{"repeated body", positional, []domain.SentComponent{header, body, url, body},
			[]domain.FieldError{{Field: "template.components[3]", Message: "repeats the body"}}},
		{"unknown types are Meta's", positional, []domain.SentComponent{header, body, url, {Type: "carousel", Index: -1}}, nil},
		{"named fits", named, []domain.SentComponent{{Type: "header", Index: -1, ParameterNames: p(1)},
			{Type: "body", Index: -1, ParameterNames: []string{"code", "first_name"}}}, nil},
		{"named: unknown and missing", named, []domain.SentComponent{{Type: "header", Index: -1, ParameterNames: p(1)},
			{Type: "body", Index: -1, ParameterNames: []string{"first_name", "coupon", ""}}},
			[]domain.FieldError{{Field: "template.components[1].parameters[1].parameter_name", Message: "unknown parameter"},
				{Field: "template.components[1].parameters[2].parameter_name", Message: "is required: the template's parameters are named"},
				{Field: "template.components[1].parameters", Message: "missing parameter code"}}},
		{"media header left out", named, []domain.SentComponent{{Type: "body", Index: -1, ParameterNames: []string{"code", "first_name"}}},
			[]domain.FieldError{{Field: "template.components", Message: "the header expects 1 parameter, got none"}}},
		{"no parameters at all", domain.Template{Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hello"}}}, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, domain.CheckTemplateSend(tt.t, tt.sent))
		})
	}
}

func TestFrequencyCap(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	caps := domain.MessagingSettings{MarketingPerContactPerDay: 2, MarketingPerContactPerWeek: 6}
	h := time.Hour
	for _, tt := range []struct {
		name  string
		h     domain.MarketingHistory
		s     domain.MessagingSettings
		retry time.Duration // 0: passes
	}{
		{"no history", domain.MarketingHistory{}, caps, 0},
		{"one today", domain.MarketingHistory{Sent: []time.Time{ago(h)}}, caps, 0},
		{"two today", domain.MarketingHistory{Sent: []time.Time{ago(h), ago(3 * h)}}, caps, 21 * h},
		{"two, one older than a day", domain.MarketingHistory{Sent: []time.Time{ago(h), ago(25 * h)}}, caps, 0},
		{"six this week", domain.MarketingHistory{Sent: []time.Time{ago(30 * h), ago(50 * h), ago(70 * h), ago(90 * h), ago(110 * h), ago(130 * h)}}, caps, 168*h - 130*h},
		{"over a lowered cap: the second oldest frees it", domain.MarketingHistory{Sent: []time.Time{ago(h), ago(2 * h), ago(3 * h)}}, caps, 22 * h},
		{"held", domain.MarketingHistory{HoldUntil: now.Add(5 * h)}, caps, 5 * h},
		{"a past hold", domain.MarketingHistory{HoldUntil: now.Add(-h)}, caps, 0},
		{"held and capped: the later", domain.MarketingHistory{Sent: []time.Time{ago(h), ago(3 * h)}, HoldUntil: now.Add(2 * h)}, caps, 21 * h},
		{"a cap of 0", domain.MarketingHistory{}, domain.MessagingSettings{}, 7 * 24 * h},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.FrequencyCap(tt.h, tt.s, now)
			if tt.retry == 0 {
				require.NoError(t, err)
				return
			}
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, domain.KindFrequencyCapped, de.Kind)
			require.Equal(t, tt.retry, de.RetryAfter)
		})
	}
}

func TestNormalizeMessagingSettings(t *testing.T) {
	got, err := domain.NormalizeMessagingSettings(domain.MessagingSettings{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1,
		OptOutKeywords: []string{" basta", "BASTA ", "Alto"}, OptInKeywords: nil})
	require.NoError(t, err)
	require.Equal(t, []string{"BASTA", "ALTO"}, got.OptOutKeywords)
	require.Equal(t, []string{}, got.OptInKeywords)
	for _, bad := range []domain.MessagingSettings{
		{MarketingPerContactPerDay: -1, MarketingPerContactPerWeek: 1},
		{MarketingPerContactPerDay: 101, MarketingPerContactPerWeek: 200},
		{MarketingPerContactPerDay: 3, MarketingPerContactPerWeek: 2},
		{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1001},
		{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1, OptOutKeywords: []string{""}},
		{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1, OptInKeywords: []string{"abcdefghijklmnopqrstuvwxyz12345"}},
		{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1, OptOutKeywords: []string{"go"}, OptInKeywords: []string{"GO"}},
		{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1, CampaignRetryDays: 4},
		{MarketingPerContactPerDay: 1, MarketingPerContactPerWeek: 1, CampaignRetryDays: -1},
	} {
		_, err := domain.NormalizeMessagingSettings(bad)
		require.True(t, domain.IsKind(err, domain.KindValidation), "%+v", bad)
	}
}
