package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MatchKind is how a rule's keywords are compared with an inbound text.
type MatchKind string

// The match kinds.
const (
	MatchExact    MatchKind = "exact"    // the case-folded, trimmed text equals a keyword
	MatchContains MatchKind = "contains" // the case-folded, trimmed text contains a keyword
	MatchRegex    MatchKind = "regex"    // a keyword, an RE2 expression, matches the trimmed text
)

// ActionType is what a rule does when it matches.
type ActionType string

// The action types.
const (
	ActionReplyText     ActionType = "reply_text"
	ActionReplyTemplate ActionType = "reply_template"
	ActionAssign        ActionType = "assign"
	ActionAddTag        ActionType = "add_tag"
	ActionSetAttribute  ActionType = "set_attribute"
)

// Limits of automation rules.
const (
	MaxRuleNameRunes    = 200
	MaxRuleKeywords     = 50
	MaxRuleKeywordRunes = 200
	MaxRegexLength      = 512 // characters of one regex keyword
	// MaxRegexProgram bounds one regex keyword's compiled program (RE2 instructions), and
	// MaxRuleRegexProgram a rule's keywords together. RE2 is linear in the text, but its
	// constant is the program's size: a 512-character regex of counted optional repeats
	// ("(?:.?){1000}" 42 times) compiles to 42,000 instructions and takes seconds over a
	// 4,096-character text, on the worker, for every inbound message. Ordinary keyword
	// regexes are 10 to 60 instructions; 300 take at most about 25 ms over such a text,
	// and a rule's 1,000 about 70 ms (make security probes both).
	MaxRegexProgram     = 300
	MaxRuleRegexProgram = 1000
	MaxRuleActions      = 10
	MaxAutoReplyRunes   = 4096 // WhatsApp's limit of a text body
	MaxRulePriority     = 1_000_000
	MaxAttributeKeyLen  = 100
	// MaxRulesPerWorkspace bounds what one inbound message is compared with.
	MaxRulesPerWorkspace = 200
)

// The safety rails of automatic replies.
const (
	// MaxAutoRepliesPerHour is how many automatic replies one contact gets in a rolling hour.
	MaxAutoRepliesPerHour = 3
	// AutoReplyWindow is the rolling period of MaxAutoRepliesPerHour.
	AutoReplyWindow = time.Hour
	// AwayInterval is how long an away message keeps a conversation from getting another.
	AwayInterval = 12 * time.Hour
)

// Automation names, besides rule ids, as the automatic replies record them.
const (
	AutomationAway    = "away"
	AutomationWelcome = "welcome"
)

// Action is one thing a rule does. Only the fields of its Type are set.
type Action struct {
	Type     ActionType
	Text     string          // reply_text
	Template json.RawMessage // reply_template: Graph's template object {name, language, components?}
	UserID   *ID             // assign
	Tag      string          // add_tag
	Key      string          // set_attribute
	Value    any             // set_attribute: any JSON value
}

// Rule is a keyword rule of a workspace.
type Rule struct {
	ID          ID
	WorkspaceID ID
	Name        string
	Match       MatchKind
	Keywords    []string
	Actions     []Action
	Priority    int // higher first
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AutoReply is the away or welcome message of a workspace.
type AutoReply struct {
	Enabled bool
	Text    string
}

// Validate checks an away or welcome message: a text (1 to 4096 characters) when enabled.
func (a AutoReply) Validate() error {
	var v Validator
	n := utf8.RuneCountInString(strings.TrimSpace(a.Text))
	v.Check(!a.Enabled || n > 0, "text", "is required when enabled")
	v.Check(n <= MaxAutoReplyRunes, "text", fmt.Sprintf("must be at most %d characters", MaxAutoReplyRunes))
	v.Check(utf8.ValidString(a.Text), "text", "must be UTF-8")
	return v.Err()
}

// FoldText is how exact and contains rules read a text: trimmed and lower-cased (Unicode).
func FoldText(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateRule checks a rule's fields and compiles its regular expressions, reporting
// every problem with its field ("keywords[2]", "actions[0].text"). It returns the rule
// as it is to be stored: trimmed name, keywords trimmed (and folded for exact and
// contains), empty Template components dropped.
func ValidateRule(r Rule) (Rule, error) {
	var v Validator
	r.Name = strings.TrimSpace(r.Name)
	n := utf8.RuneCountInString(r.Name)
	v.Check(n > 0 && n <= MaxRuleNameRunes && utf8.ValidString(r.Name), "name", "must be 1 to 200 characters")
	switch r.Match {
	case MatchExact, MatchContains, MatchRegex:
	case "":
		v.Add("match", "is required: exact, contains or regex")
	default:
		v.Add("match", "must be exact, contains or regex")
	}
	switch {
	case len(r.Keywords) == 0:
		v.Add("keywords", "needs at least one keyword")
	case len(r.Keywords) > MaxRuleKeywords:
		v.Add("keywords", fmt.Sprintf("has more than %d keywords", MaxRuleKeywords))
	default:
		kws := make([]string, 0, len(r.Keywords))
		program := 0 // the regexes' instructions together
		for i, k := range r.Keywords {
			field := fmt.Sprintf("keywords[%d]", i)
			if r.Match == MatchRegex {
				if msg := CheckRegex(k); msg != "" {
					v.Add(field, msg)
				} else {
					program += regexProgram(k)
				}
				kws = append(kws, k)
				continue
			}
			k = FoldText(k)
			if k == "" || utf8.RuneCountInString(k) > MaxRuleKeywordRunes || !utf8.ValidString(k) {
				v.Add(field, fmt.Sprintf("must be 1 to %d characters", MaxRuleKeywordRunes))
			}
			kws = append(kws, k)
		}
		r.Keywords = kws
		v.Check(program <= MaxRuleRegexProgram, "keywords",
			fmt.Sprintf("are too complex together: %d regex instructions, at most %d", program, MaxRuleRegexProgram))
	}
	v.Check(r.Priority >= -MaxRulePriority && r.Priority <= MaxRulePriority, "priority",
		fmt.Sprintf("must be between %d and %d", -MaxRulePriority, MaxRulePriority))
	switch {
	case len(r.Actions) == 0:
		v.Add("actions", "needs at least one action")
	case len(r.Actions) > MaxRuleActions:
		v.Add("actions", fmt.Sprintf("has more than %d actions", MaxRuleActions))
	default:
		replies := 0
		for i := range r.Actions {
			a := &r.Actions[i]
			checkAction(&v, fmt.Sprintf("actions[%d]", i), a)
			if a.Type == ActionReplyText || a.Type == ActionReplyTemplate {
				replies++
			}
		}
		v.Check(replies <= 1, "actions", "may reply once: at most one reply_text or reply_template")
	}
	if err := v.Err(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// CheckRegex says why a regex keyword is refused ("" when it is fine): empty, longer than
// MaxRegexLength characters, not RE2 (no backreferences, no lookaround: RE2 matches in
// time linear in the text, so no expression can be catastrophic), or compiling to more
// than MaxRegexProgram instructions (linear, with the program's size as the constant).
func CheckRegex(expr string) string {
	if strings.TrimSpace(expr) == "" {
		return "must not be empty"
	}
	if !utf8.ValidString(expr) {
		return "must be UTF-8"
	}
	if utf8.RuneCountInString(expr) > MaxRegexLength {
		return fmt.Sprintf("must be at most %d characters", MaxRegexLength)
	}
	if _, err := regexp.Compile(expr); err != nil {
		return "is not a valid RE2 expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	}
	if n := regexProgram(expr); n > MaxRegexProgram {
		return fmt.Sprintf("is too complex: %d instructions compiled, at most %d (fewer or smaller counted repeats)", n, MaxRegexProgram)
	}
	return ""
}

// regexProgram is the size of expr's compiled program as regexp.Compile builds it (the
// same parse flags, simplified), in instructions; expr is known to compile.
func regexProgram(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(prog.Inst)
}

func checkAction(v *Validator, field string, a *Action) {
	switch a.Type {
	case ActionReplyText:
		n := utf8.RuneCountInString(strings.TrimSpace(a.Text))
		v.Check(n > 0 && n <= MaxAutoReplyRunes && utf8.ValidString(a.Text), field+".text",
			fmt.Sprintf("must be 1 to %d characters", MaxAutoReplyRunes))
	case ActionReplyTemplate:
		var t struct {
			Name       string          `json:"name"`
			Language   json.RawMessage `json:"language"`
			Components json.RawMessage `json:"components"`
		}
		if len(a.Template) == 0 || json.Unmarshal(a.Template, &t) != nil {
			v.Add(field+".template", "must be an object {name, language, components?}")
			return
		}
		v.Check(strings.TrimSpace(t.Name) != "", field+".template.name", "is required")
		v.Check(templateLanguage(t.Language) != "", field+".template.language", `is required: "en_US" or {"code": "en_US"}`)
		if len(t.Components) > 0 && string(t.Components) != "null" {
			var list []json.RawMessage
			v.Check(json.Unmarshal(t.Components, &list) == nil, field+".template.components", "must be an array")
		}
	case ActionAssign:
		v.Check(a.UserID != nil && !a.UserID.IsZero(), field+".user_id", "must be the id of a member of the workspace")
	case ActionAddTag:
		tags, msg := NormalizeTags([]string{a.Tag})
		if msg != "" {
			v.Add(field+".tag", "must be 1 to 64 characters")
		} else {
			a.Tag = tags[0]
		}
	case ActionSetAttribute:
		a.Key = strings.TrimSpace(a.Key)
		v.Check(a.Key != "" && len(a.Key) <= MaxAttributeKeyLen && utf8.ValidString(a.Key), field+".key",
			fmt.Sprintf("must be 1 to %d bytes", MaxAttributeKeyLen))
		if msg := CheckAttributes(map[string]any{a.Key: a.Value}); msg != "" {
			v.Add(field+".value", msg)
		}
	case "":
		v.Add(field+".type", "is required: reply_text, reply_template, assign, add_tag or set_attribute")
	default:
		v.Add(field+".type", "must be reply_text, reply_template, assign, add_tag or set_attribute")
	}
}

// templateLanguage reads a template's language: "en_US" or {"code": "en_US"}.
func templateLanguage(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var o struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return strings.TrimSpace(o.Code)
	}
	return ""
}

// Matcher is a rule ready to be compared with texts: its regular expressions compiled
// once. It is safe for concurrent use.
type Matcher struct {
	Rule Rule
	res  []*regexp.Regexp
}

// CompileRule prepares r for matching; a keyword that does not compile is an error (the
// rules stored were validated, so this is a rule written around the API).
func CompileRule(r Rule) (*Matcher, error) {
	m := &Matcher{Rule: r}
	if r.Match == MatchRegex {
		for _, k := range r.Keywords {
			re, err := regexp.Compile(k)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			m.res = append(m.res, re)
		}
	}
	return m, nil
}

// Matches reports whether text triggers the rule. folded is FoldText(text).
func (m *Matcher) Matches(text, folded string) bool {
	switch m.Rule.Match {
	case MatchExact:
		return slices.Contains(m.Rule.Keywords, folded)
	case MatchContains:
		for _, k := range m.Rule.Keywords {
			if k != "" && strings.Contains(folded, k) {
				return true
			}
		}
	case MatchRegex:
		trimmed := strings.TrimSpace(text)
		for _, re := range m.res {
			if re.MatchString(trimmed) {
				return true
			}
		}
	}
	return false
}

// RuleOrder sorts rules as they are tried: highest priority first, then the oldest, then
// by id (so two rules created in the same instant still have one order).
func RuleOrder(a, b Rule) int {
	switch {
	case a.Priority != b.Priority:
		if a.Priority > b.Priority {
			return -1
		}
		return 1
	case !a.CreatedAt.Equal(b.CreatedAt):
		return a.CreatedAt.Compare(b.CreatedAt)
	}
	return strings.Compare(a.ID.String(), b.ID.String())
}

// FirstMatch is the first enabled rule, in RuleOrder, that text triggers; nil for none.
// ms must be sorted by RuleOrder.
func FirstMatch(ms []*Matcher, text string) *Matcher {
	folded := FoldText(text)
	for _, m := range ms {
		if m.Rule.Enabled && m.Matches(text, folded) {
			return m
		}
	}
	return nil
}

// AutoSkip is why an automatic reply is not sent ("" when it may be).
type AutoSkip string

// The reasons an automatic reply is not sent.
const (
	AutoSkipOptedOut      AutoSkip = "opted_out"            // never to an opted-out contact
	AutoSkipHourlyCap     AutoSkip = "hourly_cap"           // MaxAutoRepliesPerHour reached
	AutoSkipOutsideWindow AutoSkip = "outside_window"       // free text outside the 24-hour window
	AutoSkipInsideHours   AutoSkip = "inside_working_hours" // away: the workspace is open
	AutoSkipAwayRecently  AutoSkip = "away_recently"        // away: sent within AwayInterval
)

// AutoReplyState is what the rails weigh for one automatic reply.
type AutoReplyState struct {
	OptedOut        bool
	WindowOpen      bool // the contact's 24-hour service window is open now
	RepliesLastHour int  // automatic replies the contact got in the last AutoReplyWindow
}

// RefuseAutoReply is the rail of every automatic reply: never to an opted-out contact, at
// most MaxAutoRepliesPerHour an hour, and free text (template false) only inside the
// 24-hour window; a template may go at any time.
func RefuseAutoReply(s AutoReplyState, template bool) AutoSkip {
	switch {
	case s.OptedOut:
		return AutoSkipOptedOut
	case s.RepliesLastHour >= MaxAutoRepliesPerHour:
		return AutoSkipHourlyCap
	case !template && !s.WindowOpen:
		return AutoSkipOutsideWindow
	}
	return ""
}

// AwayDue says whether a conversation gets the away message at now: only outside working
// hours, and at most once per AwayInterval (lastAway is the previous one, nil for none).
func AwayDue(hours WorkingHours, now time.Time, lastAway *time.Time) AutoSkip {
	if !hours.Configured() || hours.Open(now) {
		return AutoSkipInsideHours
	}
	if lastAway != nil && now.Sub(*lastAway) < AwayInterval {
		return AutoSkipAwayRecently
	}
	return ""
}

// AutomaticReply records one automation's answer to one inbound message: the rail's
// memory (the hourly cap, the away interval) and what keeps a retried evaluation from
// answering twice (one per trigger and automation). MessageID is the message sent, nil
// when the automation acted without replying or was skipped.
type AutomaticReply struct {
	WorkspaceID   ID
	TriggerID     ID     // the inbound message
	Automation    string // a rule's id, AutomationAway or AutomationWelcome
	ContactID     ID
	PhoneNumberID string
	MessageID     *ID
	CreatedAt     time.Time
}
