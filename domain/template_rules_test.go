package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

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

func TestValidateTemplateRefusesMore(t *testing.T) {
	t.Parallel()
	buttons := func(bs ...domain.TemplateButton) func(d *domain.TemplateDraft) {
		return func(d *domain.TemplateDraft) { d.Components[3].Buttons = bs }
	}
	qr := domain.TemplateButton{Type: "QUICK_REPLY", Text: "Yes"}
	url := domain.TemplateButton{Type: "URL", Text: "Open", URL: "https://x.test/"}
	phone := domain.TemplateButton{Type: "PHONE_NUMBER", Text: "Call", PhoneNumber: "+15550001111"}
	code := domain.TemplateButton{Type: "COPY_CODE", Example: json.RawMessage(`"SAVE10"`)}
	for _, tc := range []struct {
		name   string
		draft  func() domain.TemplateDraft
		mutate func(d *domain.TemplateDraft)
		field  string
	}{
		{"three URL buttons", validDraft, buttons(url, url, url), "components[3].buttons"},
		{"two phone buttons", validDraft, buttons(phone, phone), "components[3].buttons"},
		{"two copy codes", validDraft, buttons(code, code), "components[3].buttons"},
		{"quick replies split", validDraft, buttons(qr, url, qr), "components[3].buttons"},
		{"no buttons", validDraft, buttons(), "components[3].buttons"},
		{"copy code without example", validDraft, buttons(domain.TemplateButton{Type: "COPY_CODE"}), "components[3].buttons[0].example"},
		{"copy code too long", validDraft, buttons(domain.TemplateButton{Type: "COPY_CODE", Example: json.RawMessage(`"1234567890123456"`)}), "components[3].buttons[0].example"},
		{"flow without id", validDraft, buttons(domain.TemplateButton{Type: "FLOW", Text: "Book"}), "components[3].buttons[0].flow_id"},
		{"OTP outside authentication", validDraft, buttons(domain.TemplateButton{Type: "OTP", OTPType: "COPY_CODE"}), "components[3].buttons[0].type"},
		{"URL without url", validDraft, buttons(domain.TemplateButton{Type: "URL", Text: "Go"}), "components[3].buttons[0].url"},
		{"URL named variable", validDraft, buttons(domain.TemplateButton{Type: "URL", Text: "Go", URL: "https://x.test/{{id}}"}), "components[3].buttons[0].url"},
		{"URL two variables", validDraft, buttons(domain.TemplateButton{Type: "URL", Text: "Go", URL: "https://x.test/{{1}}{{1}}"}), "components[3].buttons[0].url"},
		{"URL variable host", validDraft, buttons(domain.TemplateButton{Type: "URL", Text: "Go", URL: "https://{{1}}"}), "components[3].buttons[0].url"},
		{"quick reply without text", validDraft, buttons(domain.TemplateButton{Type: "QUICK_REPLY"}), "components[3].buttons[0].text"},
		{"button text newline", validDraft, buttons(domain.TemplateButton{Type: "QUICK_REPLY", Text: "a\nb"}), "components[3].buttons[0].text"},
		{"adjacent variables", validDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{1}} {{2}}." }, "components[1].text"},
		{"variable zero", validDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{0}}." }, "components[1].text"},
		{"malformed variable", validDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{ 1 }}." }, "components[1].text"},
		{"invalid UTF-8", validDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi \xff." }, "components[1].text"},
		{"sample with line break", validDraft, func(d *domain.TemplateDraft) {
			d.Components[1].Example = json.RawMessage(`{"body_text":[["A\nB","5 May"]]}`)
		}, "components[1].example"},
		{"example not JSON", validDraft, func(d *domain.TemplateDraft) { d.Components[1].Example = json.RawMessage(`{`) }, "components[1].example"},
		{"example too big", validDraft, func(d *domain.TemplateDraft) {
			d.Components[1].Example = json.RawMessage(`{"x":"` + strings.Repeat("a", domain.TemplateExampleMaxBytes) + `"}`)
		}, "components[1].example"},
		{"deep example", validDraft, func(d *domain.TemplateDraft) {
			d.Components[1].Example = json.RawMessage(strings.Repeat("[", 20000) + strings.Repeat("]", 20000))
		}, "components[1].example"},
		{"header newline", validDraft, func(d *domain.TemplateDraft) { d.Components[0].Text = "Order\n{{1}}" }, "components[0].text"},
		{"header {{2}}", validDraft, func(d *domain.TemplateDraft) { d.Components[0].Text = "Order {{2}}" }, "components[0].text"},
		{"location with text", validDraft, func(d *domain.TemplateDraft) {
			d.Components[0] = domain.TemplateComponent{Type: "HEADER", Format: "LOCATION", Text: "here"}
		}, "components[0].text"},
		{"unknown component", validDraft, func(d *domain.TemplateDraft) { d.Components[2].Type = "CAROUSEL" }, "components[2].type"},
		{"expiration outside authentication", validDraft, func(d *domain.TemplateDraft) { d.Components[2].CodeExpirationMinutes = 5 }, "components[2].code_expiration_minutes"},
		{"too many components", validDraft, func(d *domain.TemplateDraft) {
			for len(d.Components) < 9 {
				d.Components = append(d.Components, d.Components[0])
			}
		}, "components"},
		{"named: positional variable", namedDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Oi {{1}}." }, "components[1].text"},
		{"named: mixed", namedDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Oi {{1}} e {{first_name}}." }, "components[1].text"},
		{"named: missing sample", namedDraft, func(d *domain.TemplateDraft) {
			d.Components[1].Example = json.RawMessage(`{"body_text_named_params":[{"param_name":"first_name","example":"Ana"}]}`)
		}, "components[1].example"},
		{"named: unknown sample", namedDraft, func(d *domain.TemplateDraft) {
			d.Components[0].Example = json.RawMessage(`{"header_text_named_params":[{"param_name":"other","example":"#1"}]}`)
		}, "components[0].example"},
		{"named: positional sample", namedDraft, func(d *domain.TemplateDraft) {
			d.Components[0].Example = json.RawMessage(`{"header_text":["#1"]}`)
		}, "components[0].example"},
		{"auth: body text", authDraft, func(d *domain.TemplateDraft) { d.Components[0].Text = "Your code" }, "components[0].text"},
		{"auth: footer text", authDraft, func(d *domain.TemplateDraft) { d.Components[1].Text = "Bye" }, "components[1].text"},
		{"auth: expiration", authDraft, func(d *domain.TemplateDraft) { d.Components[1].CodeExpirationMinutes = 91 }, "components[1].code_expiration_minutes"},
		{"auth: no buttons", authDraft, func(d *domain.TemplateDraft) { d.Components = d.Components[:2] }, "components"},
		{"auth: quick reply", authDraft, func(d *domain.TemplateDraft) { d.Components[2].Buttons[0] = qr }, "components[2].buttons[0].type"},
		{"auth: two buttons", authDraft, func(d *domain.TemplateDraft) {
			d.Components[2].Buttons = append(d.Components[2].Buttons, d.Components[2].Buttons[0])
		}, "components[2].buttons"},
		{"auth: one tap", authDraft, func(d *domain.TemplateDraft) { d.Components[2].Buttons[0].OTPType = "ONE_TAP" }, "components[2].buttons[0].otp_type"},
		{"auth: header", authDraft, func(d *domain.TemplateDraft) {
			d.Components = append(d.Components, domain.TemplateComponent{Type: "HEADER", Format: "TEXT", Text: "Hi"})
		}, "components[3].type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.draft()
			require.NoError(t, domain.ValidateTemplate(d))
			tc.mutate(&d)
			require.Contains(t, fieldsOf(t, domain.ValidateTemplate(d)), tc.field)
		})
	}
}

func TestValidateTemplateAcceptsMore(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(d *domain.TemplateDraft){
		"repeated variable": func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{1}}, {{2}} and again {{1}}." },
		"variables out of order": func(d *domain.TemplateDraft) {
			d.Components[1].Text = "Ships {{2}} to {{1}}."
		},
		"body with line breaks": func(d *domain.TemplateDraft) { d.Components[1].Text = "Hi {{1}},\n\nships {{2}}.\n" },
		"image header": func(d *domain.TemplateDraft) {
			d.Components[0] = domain.TemplateComponent{Type: "HEADER", Format: "image", Example: json.RawMessage(`{"header_handle":["4::aW1n"]}`)}
		},
		"location header": func(d *domain.TemplateDraft) {
			d.Components[0] = domain.TemplateComponent{Type: "HEADER", Format: "LOCATION"}
		},
		"no header, no footer": func(d *domain.TemplateDraft) { d.Components = d.Components[1:2] },
		"ten buttons": func(d *domain.TemplateDraft) {
			bs := []domain.TemplateButton{
				{Type: "URL", Text: "A", URL: "https://a.test/"}, {Type: "URL", Text: "B", URL: "http://b.test/x?y={{1}}", Example: json.RawMessage(`["http://b.test/x?y=2"]`)},
				{Type: "PHONE_NUMBER", Text: "Call", PhoneNumber: "+5511999990000"}, {Type: "COPY_CODE", Example: json.RawMessage(`"SAVE10"`)},
			}
			for len(bs) < 10 {
				bs = append(bs, domain.TemplateButton{Type: "QUICK_REPLY", Text: "Option"})
			}
			d.Components[3].Buttons = bs
		},
		"flow button": func(d *domain.TemplateDraft) {
			d.Components[3].Buttons = []domain.TemplateButton{{Type: "FLOW", Text: "Book", FlowID: "123"}}
		},
		"body of exactly 1024": func(d *domain.TemplateDraft) {
			d.Components[1].Text = "Hi {{1}} " + strings.Repeat("日", 1024-len("Hi {{1}} ")-len(" {{2}}.")) + " {{2}}."
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := validDraft()
			mutate(&d)
			require.NoError(t, domain.ValidateTemplate(d))
		})
	}
}

func TestNormalizeDraft(t *testing.T) {
	t.Parallel()
	d := validDraft()
	d.Category, d.ParameterFormat, d.Language, d.Name = " marketing ", "POSITIONAL", "en-us", " order_shipped "
	d.Components[0].Type, d.Components[0].Format = "header", "text"
	d.Components[3].Buttons[0].Type = "quick_reply"
	n := domain.NormalizeDraft(d)
	require.Equal(t, "MARKETING", n.Category)
	require.Equal(t, "positional", n.ParameterFormat)
	require.Equal(t, "en_US", n.Language)
	require.Equal(t, "order_shipped", n.Name)
	require.Equal(t, "HEADER", n.Components[0].Type)
	require.Equal(t, "TEXT", n.Components[0].Format)
	require.Equal(t, "QUICK_REPLY", n.Components[3].Buttons[0].Type)
	require.Equal(t, "header", d.Components[0].Type, "the caller's draft is not modified")
	require.Equal(t, "quick_reply", d.Components[3].Buttons[0].Type, "the caller's buttons are not modified")
	require.NoError(t, domain.ValidateTemplate(n))
	require.Error(t, domain.ValidateTemplate(d), "ValidateTemplate does not repair the language")
}

// TestValidateTemplateHostile: huge and adversarial drafts are refused quickly, with a
// bounded number of field errors.
func TestValidateTemplateHostile(t *testing.T) {
	t.Parallel()
	many := strings.Repeat("{{1}} x ", 10000)
	huge := strings.Repeat("a", 10<<20)
	for name, d := range map[string]domain.TemplateDraft{
		"10,000 placeholders": {Name: "a", Language: "en", Category: "UTILITY", Components: []domain.TemplateComponent{{Type: "BODY", Text: "x " + many + "."}}},
		"10 MB everywhere": {Name: huge, Language: huge, Category: huge, ParameterFormat: huge, Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: huge}, {Type: "BODY", Text: huge, Example: json.RawMessage(huge)},
			{Type: "FOOTER", Text: huge}, {Type: "BUTTONS", Buttons: []domain.TemplateButton{{Type: "URL", Text: huge, URL: huge, Example: json.RawMessage(huge)}}},
		}},
		"100,000 components": {Name: "a", Language: "en", Category: "UTILITY", Components: make([]domain.TemplateComponent, 100000)},
		"100,000 buttons": {Name: "a", Language: "en", Category: "UTILITY", Components: []domain.TemplateComponent{
			{Type: "BODY", Text: "Hi"}, {Type: "BUTTONS", Buttons: make([]domain.TemplateButton, 100000)},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			fields := fieldsOf(t, domain.ValidateTemplate(d))
			require.Less(t, time.Since(start), 2*time.Second)
			require.NotEmpty(t, fields)
			require.LessOrEqual(t, len(fields), 20)
		})
	}
}

// genDraft builds a random valid MARKETING or UTILITY draft from r: header (none, text
// with or without a variable, media, location), a body with 0-5 variables, an optional
// footer and 0-10 buttons within Meta's per-type limits.
func genDraft(r *rand.Rand) domain.TemplateDraft {
	named := r.Intn(2) == 0
	d := domain.TemplateDraft{
		Name:     []string{"a", "order_shipped", "x_1", strings.Repeat("n", 512)}[r.Intn(4)],
		Language: []string{"en", "en_US", "pt_BR", "zh_CN", "es_419", "fil"}[r.Intn(6)],
		Category: []string{"MARKETING", "UTILITY", "marketing"}[r.Intn(3)],
	}
	if named {
		d.ParameterFormat = []string{"named", "NAMED"}[r.Intn(2)]
	} else {
		d.ParameterFormat = []string{"", "positional"}[r.Intn(2)]
	}
	varName := func(i int) string {
		if named {
			return fmt.Sprintf("v%d_x", i)
		}
		return strconv.Itoa(i)
	}
	var comps []domain.TemplateComponent
	switch r.Intn(4) {
	case 1:
		comps = append(comps, domain.TemplateComponent{Type: "HEADER", Format: "TEXT", Text: "Header"})
	case 2:
		h := domain.TemplateComponent{Type: "HEADER", Format: "TEXT", Text: "Order {{" + varName(1) + "}}"}
		if named {
			h.Example = json.RawMessage(`{"header_text_named_params":[{"param_name":"v1_x","example":"#1"}]}`)
		} else {
			h.Example = json.RawMessage(`{"header_text":["#1"]}`)
		}
		comps = append(comps, h)
	case 3:
		f := []string{"IMAGE", "VIDEO", "DOCUMENT", "GIF", "LOCATION"}[r.Intn(5)]
		h := domain.TemplateComponent{Type: "HEADER", Format: f}
		if f != "LOCATION" {
			h.Example = json.RawMessage(`{"header_handle":["4::abc"]}`)
		}
		comps = append(comps, h)
	}
	n := r.Intn(6)
	text := "Hello"
	var samples []string
	var namedSamples []string
	for i := 1; i <= n; i++ {
		text += " dear {{" + varName(i) + "}}"
		samples = append(samples, strconv.Quote(fmt.Sprintf("value %d", i)))
		namedSamples = append(namedSamples, fmt.Sprintf(`{"param_name":%q,"example":"v"}`, varName(i)))
	}
	text += "."
	body := domain.TemplateComponent{Type: "BODY", Text: text}
	if n > 0 {
		if named {
			body.Example = json.RawMessage(`{"body_text_named_params":[` + strings.Join(namedSamples, ",") + `]}`)
		} else {
			body.Example = json.RawMessage(`{"body_text":[[` + strings.Join(samples, ",") + `]]}`)
		}
	}
	comps = append(comps, body)
	if r.Intn(2) == 0 {
		comps = append(comps, domain.TemplateComponent{Type: "FOOTER", Text: "Reply STOP to opt out"})
	}
	if r.Intn(3) > 0 {
		var others []domain.TemplateButton
		for range r.Intn(3) {
			others = append(others, domain.TemplateButton{Type: "URL", Text: "Open", URL: "https://x.test/{{1}}", Example: json.RawMessage(`["https://x.test/1"]`)})
		}
		if r.Intn(2) == 0 {
			others = append(others, domain.TemplateButton{Type: "PHONE_NUMBER", Text: "Call us", PhoneNumber: "+15550001111"})
		}
		if r.Intn(2) == 0 {
			others = append(others, domain.TemplateButton{Type: "COPY_CODE", Example: json.RawMessage(`"SAVE10"`)})
		}
		quick := r.Intn(11 - len(others))
		if quick+len(others) == 0 {
			quick = 1
		}
		var qs []domain.TemplateButton
		for range quick {
			qs = append(qs, domain.TemplateButton{Type: "QUICK_REPLY", Text: "Option"})
		}
		bs := append(qs, others...)
		if r.Intn(2) == 0 {
			bs = append(others, qs...)
		}
		comps = append(comps, domain.TemplateComponent{Type: "BUTTONS", Buttons: bs})
	}
	// Meta does not require an order: shuffle.
	r.Shuffle(len(comps), func(i, j int) { comps[i], comps[j] = comps[j], comps[i] })
	d.Components = comps
	return d
}

func indexOf(d domain.TemplateDraft, typ string) int {
	for i, c := range d.Components {
		if strings.EqualFold(c.Type, typ) {
			return i
		}
	}
	return -1
}

// TestValidateTemplateProperties: random valid drafts pass, and each mutation that breaks
// exactly one rule is refused with that rule's field.
func TestValidateTemplateProperties(t *testing.T) {
	t.Parallel()
	type mutation struct {
		name string
		// apply breaks one rule of d and returns the field it expects, or "" when it does
		// not apply to d.
		apply func(d *domain.TemplateDraft, r *rand.Rand) string
	}
	comp := func(typ string, f func(c *domain.TemplateComponent, i int) string) func(d *domain.TemplateDraft, r *rand.Rand) string {
		return func(d *domain.TemplateDraft, _ *rand.Rand) string {
			i := indexOf(*d, typ)
			if i < 0 {
				return ""
			}
			return f(&d.Components[i], i)
		}
	}
	path := func(i int, rest string) string { return fmt.Sprintf("components[%d]%s", i, rest) }
	mutations := []mutation{
		{"name", func(d *domain.TemplateDraft, r *rand.Rand) string {
			d.Name = []string{"", "Upper", "a-b", "a b", strings.Repeat("a", 513), "é"}[r.Intn(6)]
			return "name"
		}},
		{"language", func(d *domain.TemplateDraft, r *rand.Rand) string {
			d.Language = []string{"", "e", "english", "en_us", "en-US", "EN", "en_USA"}[r.Intn(7)]
			return "language"
		}},
		{"category", func(d *domain.TemplateDraft, r *rand.Rand) string {
			d.Category = []string{"", "PROMOTION", "SERVICE"}[r.Intn(3)]
			return "category"
		}},
		{"parameter_format", func(d *domain.TemplateDraft, _ *rand.Rand) string {
			d.ParameterFormat = "numbered"
			return "parameter_format"
		}},
		{"no body", func(d *domain.TemplateDraft, _ *rand.Rand) string {
			i := indexOf(*d, "BODY")
			d.Components = append(d.Components[:i:i], d.Components[i+1:]...)
			return "components"
		}},
		{"second body", func(d *domain.TemplateDraft, _ *rand.Rand) string {
			d.Components = append(d.Components, d.Components[indexOf(*d, "BODY")])
			return path(len(d.Components)-1, ".type")
		}},
		{"body too long", comp("BODY", func(c *domain.TemplateComponent, i int) string {
			c.Text = strings.Replace(c.Text, "Hello", "Hello"+strings.Repeat("é", 1025), 1)
			return path(i, ".text")
		})},
		{"body control character", comp("BODY", func(c *domain.TemplateComponent, i int) string {
			c.Text = strings.Replace(c.Text, "Hello", "Hel\x01lo", 1)
			return path(i, ".text")
		})},
		{"body ends with a variable", comp("BODY", func(c *domain.TemplateComponent, i int) string {
			k := strings.LastIndex(c.Text, "{{")
			if k < 0 {
				return ""
			}
			c.Text = c.Text + " " + c.Text[k:len(c.Text)-1] // repeat the last variable at the end
			return path(i, ".text")
		})},
		{"body example missing", comp("BODY", func(c *domain.TemplateComponent, i int) string {
			if c.Example == nil {
				return ""
			}
			c.Example = nil
			return path(i, ".example")
		})},
		{"body variable gap", comp("BODY", func(c *domain.TemplateComponent, i int) string {
			if !strings.Contains(c.Text, "{{1}}") {
				return ""
			}
			c.Text = strings.Replace(c.Text, "{{1}}", "{{9}}", 1)
			return path(i, ".text")
		})},
		{"body variable of the other format", func(d *domain.TemplateDraft, _ *rand.Rand) string {
			i := indexOf(*d, "BODY")
			other := "{{name}}"
			if strings.EqualFold(d.ParameterFormat, "named") {
				other = "{{1}}"
			}
			d.Components[i].Text = strings.Replace(d.Components[i].Text, "Hello", "Hello "+other+" and", 1)
			return path(i, ".text")
		}},
		{"header text too long", comp("HEADER", func(c *domain.TemplateComponent, i int) string {
			if !strings.EqualFold(c.Format, "TEXT") {
				return ""
			}
			c.Text += strings.Repeat("h", 60)
			return path(i, ".text")
		})},
		{"header media without handle", comp("HEADER", func(c *domain.TemplateComponent, i int) string {
			if strings.EqualFold(c.Format, "TEXT") || strings.EqualFold(c.Format, "LOCATION") {
				return ""
			}
			c.Example = json.RawMessage(`{"header_handle":[]}`)
			return path(i, ".example")
		})},
		{"footer variable", comp("FOOTER", func(c *domain.TemplateComponent, i int) string {
			c.Text = "Bye {{1}} now"
			return path(i, ".text")
		})},
		{"eleventh button", comp("BUTTONS", func(c *domain.TemplateComponent, i int) string {
			for len(c.Buttons) < 11 {
				c.Buttons = append(c.Buttons, c.Buttons[len(c.Buttons)-1])
			}
			return path(i, ".buttons")
		})},
		{"button label too long", comp("BUTTONS", func(c *domain.TemplateComponent, i int) string {
			for j := range c.Buttons {
				if c.Buttons[j].Type != "COPY_CODE" {
					c.Buttons[j].Text = strings.Repeat("b", 26)
					return path(i, fmt.Sprintf(".buttons[%d].text", j))
				}
			}
			return ""
		})},
		{"third URL button", comp("BUTTONS", func(c *domain.TemplateComponent, i int) string {
			if len(c.Buttons) > 7 {
				return ""
			}
			// Next to the other non-quick-reply buttons, so that the groups stay whole.
			at := len(c.Buttons)
			for j, b := range c.Buttons {
				if b.Type != "QUICK_REPLY" {
					at = j
					break
				}
			}
			url := domain.TemplateButton{Type: "URL", Text: "Go", URL: "https://x.test/"}
			c.Buttons = append(c.Buttons[:at:at], append([]domain.TemplateButton{url, url, url}, c.Buttons[at:]...)...)
			return path(i, ".buttons")
		})},
	}
	r := rand.New(rand.NewSource(1))
	for range 300 {
		d := genDraft(r)
		require.NoError(t, domain.ValidateTemplate(d), "%+v", d)
		require.NoError(t, domain.ValidateTemplate(domain.NormalizeDraft(d)))
		for _, m := range mutations {
			broken := cloneDraft(d)
			field := m.apply(&broken, r)
			if field == "" {
				continue
			}
			require.Equal(t, []string{field}, fieldsOf(t, domain.ValidateTemplate(broken)), "%s: %+v", m.name, broken)
		}
	}
}

func cloneDraft(d domain.TemplateDraft) domain.TemplateDraft {
	d.Components = append([]domain.TemplateComponent(nil), d.Components...)
	for i := range d.Components {
		d.Components[i].Buttons = append([]domain.TemplateButton(nil), d.Components[i].Buttons...)
	}
	return d
}

func FuzzValidateTemplate(f *testing.F) {
	f.Add("order_shipped", "en_US", "MARKETING", "", "Order {{1}}", "Hi {{1}}, ships {{2}}.", `{"body_text":[["a","b"]]}`, "Track", "https://x.test/{{1}}", `["https://x.test/1"]`)
	f.Add("a", "pt_BR", "utility", "named", "", "Oi {{first_name}}.", `{"body_text_named_params":[{"param_name":"first_name","example":"A"}]}`, "", "", "")
	f.Add("login", "en", "AUTHENTICATION", "", "", "", "", "Copy", "", `"123"`)
	f.Add("x", "en", "MARKETING", "positional", "{{", "{{{{1}}}}}}", `[[[[`, "\x00", "http://{{1}}", `{`)
	f.Fuzz(func(t *testing.T, name, lang, category, format, header, body, example, button, url, buttonExample string) {
		d := domain.TemplateDraft{Name: name, Language: lang, Category: category, ParameterFormat: format, Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: header, Example: json.RawMessage(example)},
			{Type: "BODY", Text: body, Example: json.RawMessage(example)},
			{Type: "BUTTONS", Buttons: []domain.TemplateButton{
				{Type: "URL", Text: button, URL: url, Example: json.RawMessage(buttonExample)},
				{Type: "OTP", OTPType: button, Example: json.RawMessage(buttonExample)},
				{Type: "COPY_CODE", Text: button, Example: json.RawMessage(buttonExample)},
			}},
		}}
		if err := domain.ValidateTemplate(d); err != nil {
			fieldsOf(t, err)
		}
		_ = domain.ValidateTemplate(domain.NormalizeDraft(d))
		pos, named, ok := domain.TemplateVariables(body)
		if ok && len(pos) > 0 && len(named) > 0 {
			t.Fatalf("ok with both kinds: %q", body)
		}
		for _, p := range pos {
			if p < 0 || p > 9999 {
				t.Fatalf("number %d out of range in %q", p, body)
			}
		}
	})
}
