// Package optout is the keyword opt-out policy: which inbound messages stop a contact from
// receiving our messages and which bring them back.
//
// Matching is exact, on the whole message: the text is trimmed of surrounding white space
// and upper-cased (strings.TrimSpace, then strings.ToUpper), and must then equal a keyword.
// So "STOP", "stop" and "  Stop  " opt out, while "don't stop", "stop please", "STOP!",
// "S T O P" and "stop." do nothing: a keyword inside a sentence is not a request, and
// punctuation is not stripped. Per-workspace extra keywords are matched the same way.
//
// Meta's own marketing opt-out (the user_preferences webhook) is separate: it only stops
// marketing templates and arrives as an event, not as message text.
package optout

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wabaplatform/waba/domain"
)

// Action is what an inbound message asks for.
type Action int

const (
	// None: the message is not an opt-out or opt-in request.
	None Action = iota
	// OptOut: stop every further message to the contact (and confirm once).
	OptOut
	// OptIn: the contact asks to receive messages again.
	OptIn
)

func (a Action) String() string {
	switch a {
	case OptOut:
		return "opt_out"
	case OptIn:
		return "opt_in"
	default:
		return "none"
	}
}

// The default keywords, in normalized (upper-case) form.
var (
	defaultOptOut = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
	defaultOptIn  = []string{"START", "UNSTOP"}
)

// DefaultOptOutKeywords returns the opt-out keywords every workspace honours: STOP,
// STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT.
func DefaultOptOutKeywords() []string { return append([]string(nil), defaultOptOut...) }

// DefaultOptInKeywords returns the opt-in keywords: START, UNSTOP.
func DefaultOptInKeywords() []string { return append([]string(nil), defaultOptIn...) }

// Normalize returns the form a text is matched in: trimmed of surrounding white space and
// upper-cased. Store per-workspace keywords normalized to show users what will match.
func Normalize(text string) string { return strings.ToUpper(strings.TrimSpace(text)) }

// Decide classifies one text. extraOptOut are the workspace's additional opt-out keywords
// and extraOptIn its additional opt-in ones, matched like the defaults (blank extras never
// match). A text that is both an extra
// opt-out keyword and an opt-in keyword opts out: honouring a stop request is the one
// mistake we cannot afford to make the other way.
//
// Decide(text) matches keyword k exactly when Normalize(text) == Normalize(k); it compares
// rune by rune instead of building the upper-case copies, so it does not allocate.
func Decide(text string, extraOptOut []string, extraOptIn ...string) Action {
	text = strings.TrimSpace(text)
	if text == "" {
		return None
	}
	for _, k := range defaultOptOut {
		if sameUpper(text, k) {
			return OptOut
		}
	}
	for _, k := range extraOptOut {
		if k = strings.TrimSpace(k); k != "" && sameUpper(text, k) {
			return OptOut
		}
	}
	for _, k := range defaultOptIn {
		if sameUpper(text, k) {
			return OptIn
		}
	}
	for _, k := range extraOptIn {
		if k = strings.TrimSpace(k); k != "" && sameUpper(text, k) {
			return OptIn
		}
	}
	return None
}

// sameUpper reports whether strings.ToUpper(a) == strings.ToUpper(b). ToUpper maps every
// rune through unicode.ToUpper (invalid bytes become U+FFFD, as utf8.DecodeRuneInString
// reads them), so comparing the mapped runes one by one is the same test.
func sameUpper(a, b string) bool {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb && unicode.ToUpper(ra) != unicode.ToUpper(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// DecideMessage classifies an inbound message by its Replies (the texts that count as a
// keyword reply: a text's body, a quick reply's label and payload, an interactive reply's
// title and id; media captions, reactions and the like have none): OptOut when any of them
// opts out, else OptIn when any opts in, else None.
func DecideMessage(m *domain.InboundMessage, extraOptOut []string, extraOptIn ...string) Action {
	if m == nil {
		return None
	}
	action := None
	for _, text := range m.Replies {
		switch Decide(text, extraOptOut, extraOptIn...) {
		case OptOut:
			return OptOut
		case OptIn:
			action = OptIn
		}
	}
	return action
}
