package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

// validDraft is a MARKETING template using every component: header, body with two
// variables, footer, and buttons.
func validDraft() domain.TemplateDraft {
	return domain.TemplateDraft{
		Name: "order_shipped", Language: "en_US", Category: "MARKETING",
		Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Order {{1}}", Example: json.RawMessage(`{"header_text":["#1234"]}`)},
			{Type: "BODY", Text: "Hi {{1}}, your order ships on {{2}}.", Example: json.RawMessage(`{"body_text":[["Asha","5 May"]]}`)},
			{Type: "FOOTER", Text: "Reply STOP to opt out"},
			{Type: "BUTTONS", Buttons: []domain.TemplateButton{
				{Type: "QUICK_REPLY", Text: "Stop promotions"},
				{Type: "URL", Text: "Track", URL: "https://x.test/t/{{1}}", Example: json.RawMessage(`["https://x.test/t/1234"]`)},
			}},
		},
	}
}

func namedDraft() domain.TemplateDraft {
	return domain.TemplateDraft{
		Name: "order_named", Language: "pt_BR", Category: "UTILITY", ParameterFormat: "named",
		Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Pedido {{order_id}}", Example: json.RawMessage(`{"header_text_named_params":[{"param_name":"order_id","example":"#1"}]}`)},
			{Type: "BODY", Text: "Oi {{first_name}}, pedido {{order_id}} sai {{day2}}.", Example: json.RawMessage(
				`{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"order_id","example":"#1"},{"param_name":"day2","example":"hoje"}]}`)},
		},
	}
}

func authDraft() domain.TemplateDraft {
	return domain.TemplateDraft{
		Name: "login_code", Language: "en", Category: "AUTHENTICATION",
		Components: []domain.TemplateComponent{
			{Type: "BODY", AddSecurityRecommendation: true},
			{Type: "FOOTER", CodeExpirationMinutes: 10},
			{Type: "BUTTONS", Buttons: []domain.TemplateButton{{Type: "OTP", OTPType: "COPY_CODE", Text: "Copy code"}}},
		},
	}
}

// fieldsOf returns the field paths of a validation error, failing the test for any other
// error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *domain.Error
	require.True(t, errors.As(err, &e), "error %v is not a *domain.Error", err)
	require.Equal(t, domain.KindValidation, e.Kind)
	require.NotEmpty(t, e.Fields)
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		require.NotEmpty(t, f.Message)
		out[i] = f.Field
	}
	return out
}

func TestValidateTemplateAccepts(t *testing.T) {
	t.Parallel()
	for name, d := range map[string]domain.TemplateDraft{
		"marketing":  validDraft(),
		"named":      namedDraft(),
		"auth":       authDraft(),
		"minimal":    {Name: "a", Language: "en", Category: "utility", Components: []domain.TemplateComponent{{Type: "body", Text: "Hello"}}},
		"lower case": {Name: "x1_", Language: "es_419", Category: "Marketing", ParameterFormat: "POSITIONAL", Components: []domain.TemplateComponent{{Type: "Body", Text: "Hola"}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, domain.ValidateTemplate(d))
			require.NoError(t, domain.ValidateTemplate(domain.NormalizeDraft(d)))
		})
	}
}

func TestValidateTemplateRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(d *domain.TemplateDraft)
		field  string
	}{
		{"upper-case name", func(d *domain.TemplateDraft) { d.Name = "Order" }, "name"},
		{"empty name", func(d *domain.TemplateDraft) { d.Name = "" }, "name"},
		{"long name", func(d *domain.TemplateDraft) { d.Name = strings.Repeat("a", 513) }, "name"},
		{"language", func(d *domain.TemplateDraft) { d.Language = "english" }, "language"},
		{"category", func(d *domain.TemplateDraft) { d.Category = "PROMO" }, "category"},
		{"parameter format", func(d *domain.TemplateDraft) { d.ParameterFormat = "numbered" }, "parameter_format"},
		{"no body", func(d *domain.TemplateDraft) { d.Components = d.Components[2:] }, "components"},
		{"empty body", func(d *domain.TemplateDraft) { d.Components[1].Text = "" }, "components[1].text"},
		{"body too long", func(d *domain.TemplateDraft) { d.Components[1].Text = strings.Repeat("é", 1025) }, "components[1].text"},
		{"body ends with variable", func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{1}}, ships {{2}}" }, "components[1].text"},
		{"body starts with variable", func(d *domain.TemplateDraft) { d.Components[1].Text = "{{1}}, ships {{2}}." }, "components[1].text"},
		{"gap", func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{1}}, ships {{3}}." }, "components[1].text"},
		{"body example missing", func(d *domain.TemplateDraft) { d.Components[1].Example = nil }, "components[1].example"},
		{"body example short", func(d *domain.TemplateDraft) { d.Components[1].Example = json.RawMessage(`{"body_text":[["Asha"]]}`) }, "components[1].example"},
		{"named without format", func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{name}}, ok." }, "components[1].text"},
		{"NUL", func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi\x00 {{1}} {{2}}." }, "components[1].text"},
		{"footer variable", func(d *domain.TemplateDraft) { d.Components[2].Text = "Bye {{1}}" }, "components[2].text"},
		{"footer long", func(d *domain.TemplateDraft) { d.Components[2].Text = strings.Repeat("f", 61) }, "components[2].text"},
		{"header two variables", func(d *domain.TemplateDraft) { d.Components[0].Text = "Order {{1}} {{1}}" }, "components[0].text"},
		{"header example", func(d *domain.TemplateDraft) { d.Components[0].Example = nil }, "components[0].example"},
		{"header format", func(d *domain.TemplateDraft) { d.Components[0].Format = "AUDIO" }, "components[0].format"},
		{"image without handle", func(d *domain.TemplateDraft) {
			d.Components[0] = domain.TemplateComponent{Type: "HEADER", Format: "IMAGE"}
		}, "components[0].example"},
		{"two bodies", func(d *domain.TemplateDraft) { d.Components = append(d.Components, d.Components[1]) }, "components[4].type"},
		{"button text long", func(d *domain.TemplateDraft) { d.Components[3].Buttons[0].Text = strings.Repeat("b", 26) }, "components[3].buttons[0].text"},
		{"url variable in middle", func(d *domain.TemplateDraft) { d.Components[3].Buttons[1].URL = "https://x.test/{{1}}/t" }, "components[3].buttons[1].url"},
		{"url example", func(d *domain.TemplateDraft) { d.Components[3].Buttons[1].Example = nil }, "components[3].buttons[1].example"},
		{"url scheme", func(d *domain.TemplateDraft) { d.Components[3].Buttons[1].URL = "ftp://x.test/" }, "components[3].buttons[1].url"},
		{"button type", func(d *domain.TemplateDraft) { d.Components[3].Buttons[0].Type = "CALL" }, "components[3].buttons[0].type"},
		{"eleven buttons", func(d *domain.TemplateDraft) {
			for len(d.Components[3].Buttons) < 11 {
				d.Components[3].Buttons = append(d.Components[3].Buttons, domain.TemplateButton{Type: "QUICK_REPLY", Text: "x"})
			}
		}, "components[3].buttons"},
		{"phone number", func(d *domain.TemplateDraft) {
			d.Components[3].Buttons = append(d.Components[3].Buttons, domain.TemplateButton{Type: "PHONE_NUMBER", Text: "Call", PhoneNumber: "call me"})
		}, "components[3].buttons[2].phone_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := validDraft()
			tc.mutate(&d)
			require.Contains(t, fieldsOf(t, domain.ValidateTemplate(d)), tc.field)
		})
	}
}

func TestTemplateVariables(t *testing.T) {
	t.Parallel()
	pos, named, ok := domain.TemplateVariables("Hi {{1}}, {{2}} and {{1}} }}")
	require.True(t, ok)
	require.Equal(t, []int{1, 2, 1}, pos)
	require.Empty(t, named)

	pos, named, ok = domain.TemplateVariables("Hi {{first_name}} {{order_2}}")
	require.True(t, ok)
	require.Empty(t, pos)
	require.Equal(t, []string{"first_name", "order_2"}, named)

	for _, bad := range []string{"{{ 1 }}", "{{01}}", "{{Name}}", "{{1", "{{}}", "{{1}} {{a}}", "{{{1}}}", "{{12345}}", "{{_a}}"} {
		_, _, ok := domain.TemplateVariables(bad)
		require.False(t, ok, bad)
	}
}
