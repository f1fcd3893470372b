package domain

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SentComponent is one component of a template send, in the Graph API's words: type
// header, body or button (any case), a button's index, and its parameters.
type SentComponent struct {
	Type  string
	Index int // buttons: the button's position in the template; -1 when absent or not a number
	// ParameterNames holds each parameter's parameter_name ("" for a positional one).
	ParameterNames []string
}

// templateSlot is what one part of a template expects of a send.
type templateSlot struct {
	label    string   // "the body", "the header", "button 0"
	count    int      // positional parameters expected (named: len(names))
	names    []string // named parameters, when the part's text uses names
	optional bool     // 0 parameters are fine too (quick reply payloads, flow tokens)
	sent     bool
}

// CheckTemplateSend compares the parameters of a send with the template's components:
// per component (the header, the body, each button by index) the count of positional
// parameters, or the names of named ones (parameter_name). It returns a field error per
// misfit, naming template.components[i].parameters (or one of its parameter_name) or,
// for a part the send leaves out, template.components. Component types it does not know
// (carousel, limited_time_offer, ...) are left to Meta.
func CheckTemplateSend(t Template, sent []SentComponent) []FieldError {
	named := strings.EqualFold(t.ParameterFormat, ParametersNamed)
	var header, body *templateSlot
	buttons := map[int]*templateSlot{}
	var order []*templateSlot
	for _, c := range t.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			s := &templateSlot{label: "the header"}
			switch strings.ToUpper(c.Format) {
			case "", "TEXT":
				s.count, s.names = textSlot(c.Text, named)
			default: // IMAGE, VIDEO, DOCUMENT, LOCATION: the media or the place
				s.count = 1
			}
			header = s
			order = append(order, s)
		case "BODY":
			s := &templateSlot{label: "the body"}
			s.count, s.names = textSlot(c.Text, named)
			body = s
			order = append(order, s)
		case "BUTTONS":
			for i, b := range c.Buttons {
				s := &templateSlot{label: "button " + strconv.Itoa(i)}
				switch strings.ToUpper(b.Type) {
				case "URL":
					if pos, nm := templateVariables(b.URL); len(pos)+len(nm) > 0 {
						s.count = 1
					}
				case "COPY_CODE", "OTP":
					s.count = 1
				case "PHONE_NUMBER", "VOICE_CALL":
				default: // QUICK_REPLY payloads, FLOW tokens and what Meta adds later: optional
					s.count, s.optional = 1, true
				}
				buttons[i] = s
				order = append(order, s)
			}
		}
	}

	var out []FieldError
	for k, c := range sent {
		path := "template.components[" + strconv.Itoa(k) + "]"
		var s *templateSlot
		switch strings.ToLower(c.Type) {
		case "header":
			s = header
			if s == nil {
				s = &templateSlot{label: "the header"} // takes none
			}
		case "body":
			s = body
			if s == nil {
				s = &templateSlot{label: "the body"}
			}
		case "button":
			s = buttons[c.Index]
			if s == nil {
				out = append(out, FieldError{path + ".index", fmt.Sprintf("the template has no button %d", c.Index)})
				continue
			}
		default:
			continue
		}
		if s.sent {
			out = append(out, FieldError{path, "repeats " + s.label})
			continue
		}
		s.sent = true
		out = append(out, s.check(path, c.ParameterNames)...)
	}
	for _, s := range order {
		if !s.sent && !s.optional && s.count > 0 {
			out = append(out, FieldError{"template.components", s.label + " " + expects(s.count) + ", got none"})
		}
	}
	return out
}

func (s *templateSlot) check(path string, got []string) []FieldError {
	if s.names == nil {
		if len(got) == s.count || (s.optional && len(got) == 0) {
			return nil
		}
		return []FieldError{{path + ".parameters", expects(s.count) + ", got " + strconv.Itoa(len(got))}}
	}
	var out []FieldError
	seen := map[string]bool{}
	for j, name := range got {
		field := path + ".parameters[" + strconv.Itoa(j) + "].parameter_name"
		switch {
		case name == "":
			out = append(out, FieldError{field, "is required: the template's parameters are named"})
		case !slices.Contains(s.names, name):
			out = append(out, FieldError{field, "unknown parameter"})
		case seen[name]:
			out = append(out, FieldError{field, "repeats a parameter"})
		}
		seen[name] = true
	}
	for _, n := range s.names {
		if !seen[n] {
			out = append(out, FieldError{path + ".parameters", "missing parameter " + n})
		}
	}
	return out
}

// textSlot counts the placeholders of a header or body text: the distinct numbers, or
// the distinct names when the template's parameters are named (names is then non-nil).
func textSlot(text string, named bool) (int, []string) {
	pos, nm := templateVariables(text)
	if named || (len(pos) == 0 && len(nm) > 0) {
		if nm == nil {
			nm = []string{}
		}
		return len(nm), nm
	}
	return len(pos), nil
}

func expects(n int) string {
	if n == 1 {
		return "expects 1 parameter"
	}
	return "expects " + strconv.Itoa(n) + " parameters"
}

// templateVariables reads a component text with TemplateVariables: the positional
// parameters it takes (the largest number; ValidateTemplate makes them 1..n) and its
// distinct names. A malformed text counts what was read before the fault.
func templateVariables(text string) (positional []int, named []string) {
	pos, nm, _ := TemplateVariables(text)
	if n := slices.Max(append([]int{0}, pos...)); n > 0 {
		positional = make([]int, n)
		for i := range positional {
			positional[i] = i + 1
		}
	}
	for _, name := range nm {
		if !slices.Contains(named, name) {
			named = append(named, name)
		}
	}
	return positional, named
}

// MarketingHistory is what the frequency caps weigh for one contact.
type MarketingHistory struct {
	// Sent holds when each MARKETING template to the contact was queued, for those of the
	// last 7 days that did not fail (any order).
	Sent []time.Time
	// HoldUntil: no marketing template before this time (Meta's 131049); zero when none.
	HoldUntil time.Time
}

// FrequencyCap decides whether a MARKETING template may go to a contact now: nil when it
// may, else a KindFrequencyCapped error whose RetryAfter is when it would pass (the oldest
// counted message leaving its window, or the hold ending; the latest of them when several
// apply). A cap of 0 allows no marketing template: RetryAfter is then the cap's window.
func FrequencyCap(h MarketingHistory, s MessagingSettings, now time.Time) error {
	var wait time.Duration
	var why []string
	if h.HoldUntil.After(now) {
		wait = h.HoldUntil.Sub(now)
		why = append(why, "WhatsApp refused a marketing template to them (131049) in the last 24 hours")
	}
	for _, w := range []struct {
		cap    int
		window time.Duration
		label  string
	}{{s.MarketingPerContactPerDay, 24 * time.Hour, "24 hours"}, {s.MarketingPerContactPerWeek, 7 * 24 * time.Hour, "7 days"}} {
		var in []time.Time
		for _, t := range h.Sent {
			if t.After(now.Add(-w.window)) {
				in = append(in, t)
			}
		}
		if len(in) < w.cap {
			continue
		}
		free := w.window
		if w.cap > 0 {
			sort.Slice(in, func(i, j int) bool { return in[i].Before(in[j]) })
			free = in[len(in)-w.cap].Add(w.window).Sub(now)
		}
		wait = max(wait, free)
		why = append(why, fmt.Sprintf("they had %d marketing templates in the last %s (the workspace allows %d)", len(in), w.label, w.cap))
	}
	if why == nil {
		return nil
	}
	return &Error{Kind: KindFrequencyCapped, RetryAfter: max(wait, time.Second),
		Message: "no marketing template may go to this contact now: " + strings.Join(why, "; ")}
}
