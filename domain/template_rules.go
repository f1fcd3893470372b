package domain

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of a message template that Meta refuses to pass. Confirmed on Meta's "Template
// components" page (developers.facebook.com/documentation/business-messaging/whatsapp/
// templates/components): a text header is at most 60 characters with 1 parameter and needs
// an example when it has one; media headers (IMAGE, VIDEO, GIF, DOCUMENT) need
// example.header_handle. The others could not be read on Meta's own pages here and are the
// values partners document consistently (360dialog, Bird, Gupshup, YCloud, AWS, Twilio):
// each says so below.
const (
	templateNameMax       = 512  // partners: name up to 512 characters (as the sandbox)
	templateBodyMax       = 1024 // partners: body text up to 1,024 characters
	templateHeaderTextMax = 60   // Meta: text header up to 60 characters, 1 parameter
	templateFooterMax     = 60   // partners: footer up to 60 characters
	templateButtonsMax    = 10   // partners: up to 10 buttons in all
	templateURLButtonsMax = 2    // partners (Gupshup, Aliyun): at most 2 URL buttons
	templatePhoneMax      = 20   // AWS (Meta library templates): phone number up to 20 characters
	// Not confirmed anywhere we could read; the commonly documented values.
	templateButtonTextMax = 25   // button label
	templateURLMax        = 2000 // button URL
	templateCopyCodeMax   = 15   // sample offer code of a COPY_CODE button
	// templateCodeExpirationMax: an AUTHENTICATION footer's code_expiration_minutes is 1-90.
	templateCodeExpirationMax = 90
	// templateComponentsMax bounds the work on a hostile draft: a template has at most one
	// HEADER, BODY, FOOTER and BUTTONS, so more than this is refused before any is read.
	templateComponentsMax = 8
	// TemplateExampleMaxBytes is the largest example object (of a component or a button)
	// that is parsed; a larger one is refused unread. Meta states no limit: this is ours.
	TemplateExampleMaxBytes = 64 << 10
)

// ValidateTemplate reports what Meta would refuse in a template draft, so that the API can
// answer 422 with every bad field before calling Meta. It returns nil, or a *Error of
// KindValidation with one FieldError per problem; field paths follow the Graph API's JSON
// (`name`, `components[1].text`, `components[2].buttons[0].url`, `components[1].example`).
//
// Words Meta compares without regard to case (category, parameter_format, component types,
// header formats, button and OTP types) are accepted in any case; ValidateTemplate does not
// rewrite the draft: store NormalizeDraft(d), which writes them the way Meta and the rest of
// the product do. The language code is case-sensitive here, as at Meta ("en_US");
// NormalizeDraft repairs "en-us".
//
// What it checks:
//   - name: 1-512 of a-z, 0-9 and _; language: a locale code (en, en_US, pt_BR, es_419);
//     category: MARKETING, UTILITY or AUTHENTICATION; parameter_format: "", positional or named.
//   - MARKETING and UTILITY: exactly one BODY, at most one HEADER, FOOTER and BUTTONS. Body
//     text 1-1024 characters; a TEXT header 1-60 characters with at most one variable;
//     IMAGE, VIDEO, GIF and DOCUMENT headers need example.header_handle; LOCATION headers
//     have no text; footer 1-60 characters without variables; 1-10 buttons (QUICK_REPLY,
//     URL, PHONE_NUMBER, COPY_CODE, FLOW) with labels of 1-25 characters, at most 2 URL, 1
//     PHONE_NUMBER and 1 COPY_CODE, quick replies next to each other.
//   - Variables: positional {{1}}..{{n}} with no number missing (a number may repeat: it
//     is the same value), or named {{snake_case}} with parameter_format named; never both;
//     none at the very start or end of the body, no two separated only by spaces; each
//     text with variables has Meta's example (body_text, body_text_named_params,
//     header_text, header_text_named_params), each sample non-empty and on one line. A URL
//     button's url may end in {{1}} (whatever the parameter format) and then needs a
//     one-URL example; a COPY_CODE button needs its sample code as example.
//   - AUTHENTICATION: Meta writes the text, so BODY (optional) and FOOTER (optional) have
//     none; no HEADER; one BUTTONS component with exactly one OTP button of otp_type
//     COPY_CODE (ONE_TAP and ZERO_TAP need supported_apps, which a TemplateButton cannot
//     carry); code_expiration_minutes 1-90 when set.
//
// Text is refused when it is not UTF-8 or holds control characters (the body may hold
// line breaks and tabs). Lengths are checked before anything is scanned, and examples over
// TemplateExampleMaxBytes are refused unparsed, so hostile input costs little.
//
// Not checked (Meta's review decides): the variable-to-length ratio Meta refuses as "too
// many variables for its length", whose threshold Meta does not publish; content policy;
// the number of templates on the WABA.
func ValidateTemplate(d TemplateDraft) error {
	var v Validator
	v.Check(validTemplateName(d.Name), "name", "must be 1 to 512 lowercase letters, digits and underscores")
	v.Check(validTemplateLanguage(d.Language), "language", "must be a locale code such as en, en_US or pt_BR")
	category, ok := oneOf(d.Category, CategoryMarketing, CategoryUtility, CategoryAuthentication)
	v.Check(ok, "category", "must be MARKETING, UTILITY or AUTHENTICATION")
	format, formatOK := oneOf(d.ParameterFormat, "", ParametersPositional, ParametersNamed)
	v.Check(formatOK, "parameter_format", "must be positional or named")
	if len(d.Components) > templateComponentsMax {
		v.Add("components", "must be at most one each of HEADER, BODY, FOOTER and BUTTONS")
		return v.Err()
	}
	c := templateCheck{v: &v, named: format == ParametersNamed, anyFormat: !formatOK, auth: category == CategoryAuthentication}
	c.components(d.Components)
	return v.Err()
}

// NormalizeDraft returns d written the way Meta and the product store it: category,
// component types, header formats, button types and OTP types upper-cased,
// parameter_format lower-cased ("" stays "", which means positional), surrounding spaces
// trimmed from those words and from name and language, and a language written "en-us" or
// "EN_us" turned into "en_US". It does not repair anything else and does not validate:
// call ValidateTemplate on the result. The draft's slices are copied, never modified.
func NormalizeDraft(d TemplateDraft) TemplateDraft {
	d.Name = strings.TrimSpace(d.Name)
	d.Language = normalizeLanguage(d.Language)
	d.Category = strings.ToUpper(strings.TrimSpace(d.Category))
	d.ParameterFormat = strings.ToLower(strings.TrimSpace(d.ParameterFormat))
	if d.Components == nil {
		return d
	}
	comps := make([]TemplateComponent, len(d.Components))
	for i, c := range d.Components {
		c.Type = strings.ToUpper(strings.TrimSpace(c.Type))
		c.Format = strings.ToUpper(strings.TrimSpace(c.Format))
		if c.Buttons != nil {
			buttons := make([]TemplateButton, len(c.Buttons))
			for j, b := range c.Buttons {
				b.Type = strings.ToUpper(strings.TrimSpace(b.Type))
				b.OTPType = strings.ToUpper(strings.TrimSpace(b.OTPType))
				buttons[j] = b
			}
			c.Buttons = buttons
		}
		comps[i] = c
	}
	d.Components = comps
	return d
}

// TemplateVariables returns the variables of a template text in the order they appear,
// repeats included: positional holds the numbers of {{1}}-style variables, named the names
// of {{order_id}}-style ones. ok is false when the text holds a malformed variable (a "{{"
// not followed by a number or a snake_case name and "}}", such as "{{ 1 }}", "{{01}}",
// "{{Name}}" or "{{1"), or both kinds; the slices then hold what was read before it.
//
// Numbers have at most 4 digits and do not start with 0 ({{0}} is read as 0, which
// ValidateTemplate refuses); names are a lowercase letter then lowercase letters, digits
// and underscores. A lone "}}" is text. The text is read once, so its cost is linear.
//
// A template send is checked with it: a positional component takes as many parameters as
// the largest number (ValidateTemplate makes the numbers 1..n), a named one a parameter
// for each distinct name.
func TemplateVariables(text string) (positional []int, named []string, ok bool) {
	ok = scanVariables(text, func(v templateVar) {
		if v.name != "" {
			named = append(named, v.name)
		} else {
			positional = append(positional, v.num)
		}
	})
	if ok && len(positional) > 0 && len(named) > 0 {
		ok = false
	}
	return positional, named, ok
}

// templateVar is one {{...}} of a text: its byte offsets and its number or name.
type templateVar struct {
	start, end int
	num        int
	name       string
}

// scanVariables calls fn for each variable of text, in order, and reports false at the
// first malformed one.
func scanVariables(text string, fn func(templateVar)) bool {
	for i := 0; ; {
		k := strings.Index(text[i:], "{{")
		if k < 0 {
			return true
		}
		start := i + k
		j := start + 2
		n := 0
		for j < len(text) && (isLower(text[j]) || isDigit(text[j]) || text[j] == '_') {
			j++
			n++
			if n > 64 { // no number or name of ours is this long
				return false
			}
		}
		if n == 0 || !strings.HasPrefix(text[j:], "}}") {
			return false
		}
		inner := text[start+2 : j]
		v := templateVar{start: start, end: j + 2}
		switch {
		case isDigit(inner[0]):
			if len(inner) > 4 || (inner[0] == '0' && len(inner) > 1) {
				return false
			}
			for k := 0; k < len(inner); k++ {
				if !isDigit(inner[k]) {
					return false
				}
				v.num = v.num*10 + int(inner[k]-'0')
			}
		case isLower(inner[0]):
			v.name = inner
		default:
			return false
		}
		fn(v)
		i = v.end
	}
}

func isLower(b byte) bool { return b >= 'a' && b <= 'z' }
func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// oneOf returns the word of words that s equals, ignoring case.
func oneOf(s string, words ...string) (string, bool) {
	for _, w := range words {
		if strings.EqualFold(s, w) {
			return w, true
		}
	}
	return "", false
}

func validTemplateName(s string) bool {
	if len(s) == 0 || len(s) > templateNameMax {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLower(s[i]) && !isDigit(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

// validTemplateLanguage accepts Meta's locale codes: a 2 or 3 letter language, then
// optionally "_" and a region of 2 capital letters (en_US, pt_BR, zh_CN) or 3 digits
// (es_419). Meta's list of supported languages is longer-lived than any copy of it here,
// so the code is checked for shape only.
func validTemplateLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	if len(lang) < 2 || len(lang) > 3 {
		return false
	}
	for i := 0; i < len(lang); i++ {
		if !isLower(lang[i]) {
			return false
		}
	}
	if !hasRegion {
		return true
	}
	switch {
	case len(region) == 2:
		return isUpper(region[0]) && isUpper(region[1])
	case len(region) == 3:
		return isDigit(region[0]) && isDigit(region[1]) && isDigit(region[2])
	}
	return false
}

func normalizeLanguage(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 8 {
		return s
	}
	lang, region, ok := strings.Cut(strings.ReplaceAll(s, "-", "_"), "_")
	if !ok {
		return strings.ToLower(lang)
	}
	return strings.ToLower(lang) + "_" + strings.ToUpper(region)
}

// templateCheck validates the components of one draft.
type templateCheck struct {
	v     *Validator
	named bool // parameter_format named
	// anyFormat: parameter_format is itself refused, so each text is read in the format of
	// its variables rather than reported again.
	anyFormat bool
	auth      bool // category AUTHENTICATION
}

func (c *templateCheck) components(comps []TemplateComponent) {
	seen := map[string]bool{}
	for i, comp := range comps {
		p := fmt.Sprintf("components[%d]", i)
		typ, ok := oneOf(comp.Type, "HEADER", "BODY", "FOOTER", "BUTTONS")
		if !ok {
			c.v.Add(p+".type", "must be HEADER, BODY, FOOTER or BUTTONS")
			continue
		}
		if seen[typ] {
			c.v.Add(p+".type", "only one "+typ+" component is allowed")
			continue
		}
		seen[typ] = true
		switch typ {
		case "HEADER":
			c.header(p, comp)
		case "BODY":
			c.body(p, comp)
		case "FOOTER":
			c.footer(p, comp)
		case "BUTTONS":
			c.buttons(p, comp)
		}
	}
	switch {
	case c.auth && !seen["BUTTONS"]:
		c.v.Add("components", "an AUTHENTICATION template needs a BUTTONS component with one OTP button")
	case !c.auth && !seen["BODY"]:
		c.v.Add("components", "a template needs one BODY component")
	}
}

// text checks a text of 1 to max characters: UTF-8 without control characters (multiline
// allows line breaks and tabs). It reports whether the text passed.
func (c *templateCheck) text(field, s string, max int, multiline bool) bool {
	switch {
	case s == "":
		c.v.Add(field, "is required")
		return false
	case len(s) > utf8.UTFMax*max: // certainly too long: not worth reading
		c.v.Add(field, fmt.Sprintf("must be at most %d characters", max))
		return false
	case !utf8.ValidString(s):
		c.v.Add(field, "must be valid UTF-8")
		return false
	case utf8.RuneCountInString(s) > max:
		c.v.Add(field, fmt.Sprintf("must be at most %d characters", max))
		return false
	}
	for _, r := range s {
		if (r < 0x20 && !(multiline && (r == '\n' || r == '\t'))) || r == 0x7f {
			if multiline {
				c.v.Add(field, "must not contain control characters other than line breaks and tabs")
			} else {
				c.v.Add(field, "must be one line without control characters")
			}
			return false
		}
	}
	return true
}

// vars reads the variables of a text that passed text() and checks them against the
// parameter format: it returns the distinct positional count (the largest number, checked
// contiguous from 1) or the distinct names, and whether they are usable.
func (c *templateCheck) vars(field, s string) (vars []templateVar, n int, names []string, ok bool) {
	ok = scanVariables(s, func(v templateVar) { vars = append(vars, v) })
	if !ok {
		c.v.Add(field, "has a malformed variable: write {{1}} or {{snake_case_name}}")
		return nil, 0, nil, false
	}
	seen := map[string]bool{}
	nums := 0
	for _, v := range vars {
		if v.name == "" {
			nums++
			n = max(n, v.num)
		} else if !seen[v.name] {
			seen[v.name] = true
			names = append(names, v.name)
		}
	}
	if c.anyFormat {
		c.named = len(names) > 0
	}
	switch {
	case nums > 0 && len(names) > 0:
		c.v.Add(field, "must not mix positional {{1}} and named {{name}} variables")
		return nil, 0, nil, false
	case len(names) > 0 && !c.named:
		c.v.Add(field, "has named variables: set parameter_format to named, or use {{1}}, {{2}}, ...")
		return nil, 0, nil, false
	case nums > 0 && c.named:
		c.v.Add(field, "has positional variables but parameter_format is named: use {{snake_case_name}}")
		return nil, 0, nil, false
	case nums > 0 && (n == 0 || n > nums):
		// n > nums: some number below n is missing (there are fewer uses than n).
		c.v.Add(field, "variables must be numbered {{1}}, {{2}}, ... without gaps")
		return nil, 0, nil, false
	case nums > 0:
		have := make([]bool, n+1)
		for _, v := range vars {
			have[v.num] = true
		}
		for k := 1; k <= n; k++ {
			if !have[k] {
				c.v.Add(field, "variables must be numbered {{1}}, {{2}}, ... without gaps")
				return nil, 0, nil, false
			}
		}
	}
	return vars, n, names, true
}

// componentExample is the example object of a HEADER or BODY component, in Meta's shape.
type componentExample struct {
	HeaderText      []string       `json:"header_text"`
	HeaderTextNamed []namedExample `json:"header_text_named_params"`
	HeaderHandle    []string       `json:"header_handle"`
	BodyText        [][]string     `json:"body_text"`
	BodyTextNamed   []namedExample `json:"body_text_named_params"`
}

type namedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

// example parses a component's example, bounded; ok is false (and reported) when it
// cannot be read.
func (c *templateCheck) example(field string, raw json.RawMessage) (ex componentExample, ok bool) {
	if len(raw) == 0 {
		return ex, true
	}
	if len(raw) > TemplateExampleMaxBytes {
		c.v.Add(field, fmt.Sprintf("must be at most %d bytes", TemplateExampleMaxBytes))
		return ex, false
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		c.v.Add(field, "must be an object in Meta's example shape")
		return ex, false
	}
	return ex, true
}

// namedExamplesCover reports whether examples give one non-empty sample for each of names
// and none for another name.
func namedExamplesCover(examples []namedExample, names []string) bool {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = false
	}
	for _, e := range examples {
		done, known := want[e.ParamName]
		if !known || done || !validSamples(e.Example) {
			return false
		}
		want[e.ParamName] = true
	}
	for _, done := range want {
		if !done {
			return false
		}
	}
	return true
}

// validSamples reports whether every sample value is non-empty, one line, and free of
// control characters (partners report Meta refusing samples with line breaks).
func validSamples(values ...string) bool {
	for _, v := range values {
		if v == "" || !utf8.ValidString(v) {
			return false
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return false
			}
		}
	}
	return true
}

func (c *templateCheck) header(p string, comp TemplateComponent) {
	if c.auth {
		c.v.Add(p+".type", "an AUTHENTICATION template has no HEADER")
		return
	}
	// GIF: Meta's components page lists it among the media header formats.
	format, ok := oneOf(comp.Format, "TEXT", "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION")
	if !ok {
		c.v.Add(p+".format", "must be TEXT, IMAGE, VIDEO, GIF, DOCUMENT or LOCATION")
		return
	}
	if format != "TEXT" {
		if comp.Text != "" {
			c.v.Add(p+".text", "only a TEXT header has text")
		}
		if format == "LOCATION" {
			return
		}
		ex, ok := c.example(p+".example", comp.Example)
		if ok && (len(ex.HeaderHandle) == 0 || !validSamples(ex.HeaderHandle...)) {
			c.v.Add(p+".example", "needs header_handle: the handle of an uploaded sample "+strings.ToLower(format))
		}
		return
	}
	if !c.text(p+".text", comp.Text, templateHeaderTextMax, false) {
		return
	}
	vars, _, names, ok := c.vars(p+".text", comp.Text)
	if !ok || len(vars) == 0 {
		return
	}
	if len(vars) > 1 {
		c.v.Add(p+".text", "a header has at most one variable")
		return
	}
	if vars[0].name == "" && vars[0].num != 1 {
		c.v.Add(p+".text", "the header variable must be {{1}}")
		return
	}
	ex, ok := c.example(p+".example", comp.Example)
	switch {
	case !ok:
	case c.named && !namedExamplesCover(ex.HeaderTextNamed, names):
		c.v.Add(p+".example", "needs header_text_named_params with a sample for {{"+names[0]+"}}")
	case !c.named && (len(ex.HeaderText) != 1 || !validSamples(ex.HeaderText[0])):
		c.v.Add(p+".example", "needs header_text with one sample value")
	}
}

func (c *templateCheck) body(p string, comp TemplateComponent) {
	if c.auth {
		if comp.Text != "" {
			c.v.Add(p+".text", "must be empty: Meta writes the text of an AUTHENTICATION template")
		}
		return
	}
	if !c.text(p+".text", comp.Text, templateBodyMax, true) {
		return
	}
	vars, n, names, ok := c.vars(p+".text", comp.Text)
	if !ok || len(vars) == 0 {
		return
	}
	// WhatsApp refuses a body that starts or ends with a variable, or with two variables
	// next to each other (documented by Twilio for WhatsApp approval; Meta's own wording
	// could not be read here). Text after the last variable, even ".", is enough: Meta's
	// own examples end "{{2}}.".
	trimmed := strings.TrimSpace(comp.Text)
	if strings.HasPrefix(trimmed, "{{") || strings.HasSuffix(trimmed, "}}") {
		c.v.Add(p+".text", "must not start or end with a variable")
		return
	}
	for k := 1; k < len(vars); k++ {
		if strings.TrimSpace(comp.Text[vars[k-1].end:vars[k].start]) == "" {
			c.v.Add(p+".text", "two variables must be separated by text")
			return
		}
	}
	ex, ok := c.example(p+".example", comp.Example)
	switch {
	case !ok:
	case c.named && !namedExamplesCover(ex.BodyTextNamed, names):
		c.v.Add(p+".example", "needs body_text_named_params with one sample for each variable")
	case !c.named && !bodyRowsFit(ex.BodyText, n):
		c.v.Add(p+".example", fmt.Sprintf("needs body_text with a row of %d sample values", n))
	}
}

// bodyRowsFit reports whether body_text has rows, each of n non-empty values.
func bodyRowsFit(rows [][]string, n int) bool {
	if len(rows) == 0 {
		return false
	}
	for _, r := range rows {
		if len(r) != n || !validSamples(r...) {
			return false
		}
	}
	return true
}

func (c *templateCheck) footer(p string, comp TemplateComponent) {
	if c.auth {
		if comp.Text != "" {
			c.v.Add(p+".text", "must be empty: Meta writes the text of an AUTHENTICATION template")
		}
		c.v.Check(comp.CodeExpirationMinutes >= 0 && comp.CodeExpirationMinutes <= templateCodeExpirationMax,
			p+".code_expiration_minutes", "must be 1 to 90")
		return
	}
	c.v.Check(comp.CodeExpirationMinutes == 0, p+".code_expiration_minutes", "is only for AUTHENTICATION templates")
	if !c.text(p+".text", comp.Text, templateFooterMax, false) {
		return
	}
	c.v.Check(!strings.Contains(comp.Text, "{{"), p+".text", "must not contain variables")
}

func (c *templateCheck) buttons(p string, comp TemplateComponent) {
	field := p + ".buttons"
	switch n := len(comp.Buttons); {
	case n == 0:
		c.v.Add(field, "needs 1 to 10 buttons")
		return
	case n > templateButtonsMax:
		c.v.Add(field, "must be at most 10 buttons")
		return
	case c.auth && n != 1:
		c.v.Add(field, "an AUTHENTICATION template has exactly one OTP button")
		return
	}
	var urls, phones, codes int
	groups := 0 // runs of QUICK_REPLY and of other buttons
	prevQuick := false
	for j, b := range comp.Buttons {
		bp := fmt.Sprintf("%s[%d]", field, j)
		typ, ok := oneOf(b.Type, "QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW")
		if !ok {
			c.v.Add(bp+".type", "must be QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP or FLOW")
			continue
		}
		quick := typ == "QUICK_REPLY"
		if j == 0 || quick != prevQuick {
			groups++
		}
		prevQuick = quick
		if c.auth != (typ == "OTP") {
			if c.auth {
				c.v.Add(bp+".type", "an AUTHENTICATION template has one OTP button")
			} else {
				c.v.Add(bp+".type", "OTP buttons are only for AUTHENTICATION templates")
			}
			continue
		}
		switch typ {
		case "COPY_CODE", "OTP": // Meta supplies the label when there is none
			if b.Text != "" {
				c.text(bp+".text", b.Text, templateButtonTextMax, false)
			}
		default:
			c.text(bp+".text", b.Text, templateButtonTextMax, false)
		}
		switch typ {
		case "URL":
			urls++
			c.urlButton(bp, b)
		case "PHONE_NUMBER":
			phones++
			c.v.Check(validButtonPhone(b.PhoneNumber), bp+".phone_number",
				"must be a phone number of at most 20 characters: digits with an optional leading +")
		case "COPY_CODE":
			codes++
			var code string
			ok := len(b.Example) > 0 && len(b.Example) <= TemplateExampleMaxBytes && json.Unmarshal(b.Example, &code) == nil
			c.v.Check(ok && validSamples(code) && utf8.RuneCountInString(code) <= templateCopyCodeMax,
				bp+".example", "must be the sample code: a string of 1 to 15 characters")
		case "OTP":
			otp, ok := oneOf(b.OTPType, "COPY_CODE", "ONE_TAP", "ZERO_TAP")
			switch {
			case !ok:
				c.v.Add(bp+".otp_type", "must be COPY_CODE")
			case otp != "COPY_CODE":
				c.v.Add(bp+".otp_type", otp+" needs supported_apps, which is not supported: use COPY_CODE")
			}
		case "FLOW":
			c.v.Check(b.FlowID != "", bp+".flow_id", "is required")
		}
	}
	c.v.Check(urls <= templateURLButtonsMax, field, "must have at most 2 URL buttons")
	c.v.Check(phones <= 1, field, "must have at most 1 PHONE_NUMBER button")
	c.v.Check(codes <= 1, field, "must have at most 1 COPY_CODE button")
	// Meta refuses quick replies interleaved with other buttons: they form one group.
	c.v.Check(groups <= 2, field, "QUICK_REPLY buttons must be next to each other")
}

// urlButton checks a URL button's url (http or https, at most 2,000 characters, at most
// one variable {{1}} at its end) and, when it has the variable, its example.
func (c *templateCheck) urlButton(bp string, b TemplateButton) {
	u := b.URL
	switch {
	case u == "":
		c.v.Add(bp+".url", "is required")
		return
	case len(u) > templateURLMax || !utf8.ValidString(u):
		c.v.Add(bp+".url", "must be a URL of at most 2000 characters")
		return
	}
	rest, ok := strings.CutPrefix(strings.ToLower(u), "https://")
	if !ok {
		rest, ok = strings.CutPrefix(strings.ToLower(u), "http://")
	}
	host, _, _ := strings.Cut(rest, "/")
	if !ok || host == "" || strings.HasPrefix(host, "{{") || strings.ContainsAny(u, " \t\r\n\x00") {
		c.v.Add(bp+".url", "must be an http or https URL")
		return
	}
	pos, named, ok := TemplateVariables(u)
	if !ok || len(named) > 0 || len(pos) > 1 || (len(pos) == 1 && (pos[0] != 1 || !strings.HasSuffix(u, "{{1}}"))) {
		c.v.Add(bp+".url", "may have one variable, {{1}}, at its end")
		return
	}
	if len(pos) == 0 {
		return
	}
	var ex []string
	ok = len(b.Example) > 0 && len(b.Example) <= TemplateExampleMaxBytes && json.Unmarshal(b.Example, &ex) == nil
	c.v.Check(ok && len(ex) == 1 && validSamples(ex[0]), bp+".example", "needs one sample URL, such as [\"https://example.com/t/1234\"]")
}

func validButtonPhone(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || len(s) > templatePhoneMax {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return false
		}
	}
	return true
}
