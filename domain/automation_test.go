package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func mustHours(t *testing.T, tz string, days map[string][]domain.Interval, holidays ...string) domain.WorkingHours {
	t.Helper()
	w, err := domain.ParseWorkingHours(tz, days, holidays)
	require.NoError(t, err)
	return w
}

func at(t *testing.T, tz, local string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", local, loc)
	require.NoError(t, err)
	return v
}

func TestWorkingHoursOpen(t *testing.T) {
	t.Parallel()
	const tz = "Europe/Madrid"
	w := mustHours(t, tz, map[string][]domain.Interval{
		// Given out of order: sorted by from.
		"mon": {{From: "15:00", To: "19:00"}, {From: "09:00", To: "13:00"}},
		"sat": {{From: "22:00", To: "24:00"}},
		"sun": {{From: "00:00", To: "02:00"}},
	}, "2026-12-25", "2026-12-25")
	require.True(t, w.Configured())
	require.Equal(t, []string{"2026-12-25"}, w.Holidays, "duplicates dropped")
	require.Equal(t, "09:00", w.Days["mon"][0].From)

	cases := []struct {
		local string
		open  bool
	}{
		{"2026-03-02 08:59", false}, // a Monday
		{"2026-03-02 09:00", true},  // from is inclusive
		{"2026-03-02 12:59", true},
		{"2026-03-02 13:00", false}, // to is exclusive
		{"2026-03-02 14:30", false}, // the lunch gap
		{"2026-03-02 15:00", true},
		{"2026-03-03 10:00", false}, // Tuesday: left out, closed
		{"2026-03-07 23:59", true},  // Saturday to midnight ...
		{"2026-03-08 00:00", true},  // ... and on past it on Sunday
		{"2026-03-08 02:00", false},
	}
	for _, c := range cases {
		require.Equal(t, c.open, w.Open(at(t, tz, c.local)), c.local)
	}
	// The same instant in UTC reads on the zone's wall clock (09:30 in Madrid is 08:30 UTC in winter).
	require.True(t, w.Open(time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)))
	require.False(t, w.Open(time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC)))
	// A holiday is closed all day, whatever its weekday's hours (2026-12-25 is a Friday).
	xmas := mustHours(t, tz, map[string][]domain.Interval{"thu": {{From: "00:00", To: "24:00"}}, "fri": {{From: "00:00", To: "24:00"}}}, "2026-12-25")
	require.False(t, xmas.Open(at(t, tz, "2026-12-25 10:00")))
	require.True(t, xmas.Open(at(t, tz, "2027-01-01 10:00")))
	// A holiday is a date in the zone: 23:30 UTC on the 24th is already the 25th in Madrid.
	require.False(t, xmas.Open(time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC)))
	require.True(t, xmas.Open(time.Date(2026, 12, 24, 22, 30, 0, 0, time.UTC)))

	// Without a calendar the workspace is never outside its hours.
	require.True(t, domain.WorkingHours{}.Open(time.Now()))
	require.False(t, domain.WorkingHours{}.Configured())
}

func TestWorkingHoursAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	const tz = "America/New_York"
	w := mustHours(t, tz, map[string][]domain.Interval{"sun": {{From: "01:00", To: "04:00"}}, "mon": {{From: "09:00", To: "17:00"}}})
	// 2026-03-08: clocks jump from 02:00 to 03:00. 09:00 local is 14:00 UTC the week before, 13:00 UTC after.
	require.True(t, w.Open(time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)))
	require.False(t, w.Open(time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)))
	require.True(t, w.Open(time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC)))
	require.False(t, w.Open(time.Date(2026, 3, 9, 12, 59, 0, 0, time.UTC)))
	// On the night of the change itself: 01:30 EST (06:30 UTC) open, 03:30 EDT (07:30 UTC) open, 04:00 EDT closed.
	require.True(t, w.Open(time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)))
	require.True(t, w.Open(time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)))
	require.False(t, w.Open(time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)))
	// 2026-11-01: 01:00-02:00 happens twice; both are open.
	require.True(t, w.Open(time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)))
	require.True(t, w.Open(time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)))
}

func TestWorkingHoursValidation(t *testing.T) {
	t.Parallel()
	_, err := domain.ParseWorkingHours("Mars/Olympus", map[string][]domain.Interval{
		"mon":     {{From: "9:00", To: "18:00"}},
		"tue":     {{From: "10:00", To: "09:00"}},
		"wed":     {{From: "09:00", To: "13:00"}, {From: "12:00", To: "15:00"}},
		"thu":     {{From: "24:00", To: "24:00"}, {From: "08:00", To: "24:01"}},
		"someday": {{From: "09:00", To: "10:00"}},
	}, []string{"2026-02-30", "tomorrow"})
	require.ElementsMatch(t, []string{"timezone", "days.someday", "days.mon[0].from", "days.tue[0]", "days.wed[1]",
		"days.thu[0].from", "days.thu[0]", "days.thu[1].to", "holidays[0]", "holidays[1]"}, fieldsOf(t, err))
	require.Equal(t, []string{"timezone"}, fieldsOf(t, func() error { _, err := domain.ParseWorkingHours("", nil, nil); return err }()))
	require.Equal(t, []string{"timezone"}, fieldsOf(t, func() error { _, err := domain.ParseWorkingHours("Local", nil, nil); return err }()))
	// Adjacent intervals do not overlap.
	mustHours(t, "UTC", map[string][]domain.Interval{"fri": {{From: "09:00", To: "12:00"}, {From: "12:00", To: "18:00"}}})
}

func rule(id string, match domain.MatchKind, priority int, created time.Time, kws ...string) domain.Rule {
	return domain.Rule{ID: mustID(id), Name: id, Match: match, Keywords: kws, Priority: priority, Enabled: true,
		CreatedAt: created, Actions: []domain.Action{{Type: domain.ActionAddTag, Tag: "x"}}}
}

func TestRuleMatching(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	compile := func(rs ...domain.Rule) []*domain.Matcher {
		var out []*domain.Matcher
		for _, r := range rs {
			v, err := domain.ValidateRule(r)
			require.NoError(t, err)
			m, err := domain.CompileRule(v)
			require.NoError(t, err)
			out = append(out, m)
		}
		return out
	}
	exact := compile(rule("00000000-0000-7000-8000-000000000001", domain.MatchExact, 0, t0, " Price ", "PRECIO"))[0]
	for text, want := range map[string]bool{"price": true, "  PRICE\n": true, "precio": true, "the price": false, "": false} {
		require.Equal(t, want, exact.Matches(text, domain.FoldText(text)), "%q", text)
	}
	contains := compile(rule("00000000-0000-7000-8000-000000000002", domain.MatchContains, 0, t0, "ÉCLAIR"))[0]
	require.True(t, contains.Matches("Deux éclairs, svp", domain.FoldText("Deux éclairs, svp")), "Unicode case folding")
	require.False(t, contains.Matches("eclair", "eclair"))
	re := compile(rule("00000000-0000-7000-8000-000000000003", domain.MatchRegex, 0, t0, `^order\s*#?\d{4,}$`, `(?i)refund`))[0]
	for text, want := range map[string]bool{"order #12345": true, "  order 9999 ": true, "ORDER 1234": false, "I want a REFUND": true} {
		require.Equal(t, want, re.Matches(text, domain.FoldText(text)), "%q", text)
	}

	// Highest priority first; ties by created_at, then id; first match wins; disabled rules never match.
	low := rule("00000000-0000-7000-8000-00000000000a", domain.MatchContains, 1, t0, "hello")
	highNew := rule("00000000-0000-7000-8000-00000000000c", domain.MatchContains, 5, t0.Add(time.Second), "hello")
	highOld := rule("00000000-0000-7000-8000-00000000000d", domain.MatchContains, 5, t0, "hello")
	highSameB := rule("00000000-0000-7000-8000-00000000000b", domain.MatchContains, 5, t0, "hello")
	off := rule("00000000-0000-7000-8000-00000000000e", domain.MatchContains, 9, t0, "hello")
	off.Enabled = false
	rules := []domain.Rule{low, highNew, highOld, off, highSameB}
	ordered := append([]domain.Rule(nil), rules...)
	sortRules(ordered)
	var ids []string
	for _, r := range ordered {
		ids = append(ids, r.ID.String()[34:])
	}
	require.Equal(t, []string{"0e", "0b", "0d", "0c", "0a"}, ids)
	ms := compile(ordered...)
	require.Equal(t, highSameB.ID, domain.FirstMatch(ms, "Hello there").Rule.ID)
	require.Nil(t, domain.FirstMatch(ms, "goodbye"))
}

func sortRules(rs []domain.Rule) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && domain.RuleOrder(rs[j], rs[j-1]) < 0; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func TestRuleValidation(t *testing.T) {
	t.Parallel()
	user := domain.NewID()
	_, err := domain.ValidateRule(domain.Rule{Name: " ", Match: "fuzzy", Priority: 2_000_000, Actions: []domain.Action{
		{Type: domain.ActionReplyText},
		{Type: domain.ActionReplyTemplate, Template: json.RawMessage(`{"name":"","language":{}}`)},
		{Type: domain.ActionAssign},
		{Type: domain.ActionAddTag, Tag: strings.Repeat("t", 65)},
		{Type: domain.ActionSetAttribute, Key: " "},
		{Type: "launch_rocket"},
	}})
	require.ElementsMatch(t, []string{"name", "match", "keywords", "priority", "actions[0].text", "actions[1].template.name",
		"actions[1].template.language", "actions[2].user_id", "actions[3].tag", "actions[4].key", "actions[5].type", "actions"},
		fieldsOf(t, err))

	_, err = domain.ValidateRule(domain.Rule{Name: "re", Match: domain.MatchRegex,
		Keywords: []string{`(a+)+\1`, `(?=x)`, strings.Repeat("a", 513), "", "ok.*"},
		Actions:  []domain.Action{{Type: domain.ActionAssign, UserID: &user}}})
	require.Equal(t, []string{"keywords[0]", "keywords[1]", "keywords[2]", "keywords[3]"}, fieldsOf(t, err))

	ok, err := domain.ValidateRule(domain.Rule{Name: " Prices ", Match: domain.MatchContains, Keywords: []string{" PRICE "},
		Actions: []domain.Action{{Type: domain.ActionReplyTemplate, Template: json.RawMessage(`{"name":"price_list","language":"en_US"}`)},
			{Type: domain.ActionAddTag, Tag: " lead "}, {Type: domain.ActionSetAttribute, Key: "stage", Value: 3}}})
	require.NoError(t, err)
	require.Equal(t, "Prices", ok.Name)
	require.Equal(t, []string{"price"}, ok.Keywords)
	require.Equal(t, "lead", ok.Actions[1].Tag)
	// A catastrophic-looking expression is harmless in RE2: linear in the text.
	m, err := domain.CompileRule(domain.Rule{Match: domain.MatchRegex, Keywords: []string{`(a+)+$`}})
	require.NoError(t, err)
	start := time.Now()
	require.False(t, m.Matches(strings.Repeat("a", 100000)+"!", ""))
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestRegexProgramCap: RE2 is linear in the text with the program's size as the constant,
// so a short regex of counted optional repeats (thousands of instructions) is refused, one
// keyword at a time and a rule's keywords together; ordinary keyword regexes pass.
func TestRegexProgramCap(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{`(?i)\b(price|pricing|cost|how much)\b`, `^\+?[0-9]{10,15}$`, `(?i)order\s*#?\s*(\d{4,10})`,
		`(a+)+$`, `(.*a){30}`, `\p{Greek}+`} {
		require.Empty(t, domain.CheckRegex(ok), ok)
	}
	for _, bad := range []string{`(?:a?){1000}a{1000}`, `(?:.?){1000}$`, `(.*a){1000}`, strings.Repeat(`(?:.?){300}`, 40)} {
		require.Contains(t, domain.CheckRegex(bad), "too complex", bad)
	}
	user := domain.NewID()
	kws := make([]string, 50)
	for i := range kws {
		kws[i] = `(?:a?){100}$` // about 200 instructions each: fine alone, not 50 of them
	}
	require.Empty(t, domain.CheckRegex(kws[0]))
	_, err := domain.ValidateRule(domain.Rule{Name: "re", Match: domain.MatchRegex, Keywords: kws,
		Actions: []domain.Action{{Type: domain.ActionAssign, UserID: &user}}})
	require.Equal(t, []string{"keywords"}, fieldsOf(t, err))
	_, err = domain.ValidateRule(domain.Rule{Name: "re", Match: domain.MatchRegex, Keywords: kws[:4],
		Actions: []domain.Action{{Type: domain.ActionAssign, UserID: &user}}})
	require.NoError(t, err)
}

func TestAutoReplyRails(t *testing.T) {
	t.Parallel()
	open := domain.AutoReplyState{WindowOpen: true}
	require.Equal(t, domain.AutoSkip(""), domain.RefuseAutoReply(open, false))
	require.Equal(t, domain.AutoSkipOptedOut, domain.RefuseAutoReply(domain.AutoReplyState{OptedOut: true, WindowOpen: true}, true))
	require.Equal(t, domain.AutoSkipHourlyCap, domain.RefuseAutoReply(domain.AutoReplyState{WindowOpen: true, RepliesLastHour: 3}, true))
	require.Equal(t, domain.AutoSkip(""), domain.RefuseAutoReply(domain.AutoReplyState{WindowOpen: true, RepliesLastHour: 2}, false))
	require.Equal(t, domain.AutoSkipOutsideWindow, domain.RefuseAutoReply(domain.AutoReplyState{}, false))
	require.Equal(t, domain.AutoSkip(""), domain.RefuseAutoReply(domain.AutoReplyState{}, true), "a template goes outside the window")

	const tz = "Asia/Kolkata"
	w := mustHours(t, tz, map[string][]domain.Interval{"mon": {{From: "09:00", To: "18:00"}}})
	night := at(t, tz, "2026-03-02 20:00")
	require.Equal(t, domain.AutoSkipInsideHours, domain.AwayDue(w, at(t, tz, "2026-03-02 10:00"), nil))
	require.Equal(t, domain.AutoSkip(""), domain.AwayDue(w, night, nil))
	prev := night.Add(-11 * time.Hour)
	require.Equal(t, domain.AutoSkipAwayRecently, domain.AwayDue(w, night, &prev))
	prev = night.Add(-12 * time.Hour)
	require.Equal(t, domain.AutoSkip(""), domain.AwayDue(w, night, &prev))
	require.Equal(t, domain.AutoSkipInsideHours, domain.AwayDue(domain.WorkingHours{}, night, nil), "no calendar, no away")

	require.NoError(t, domain.AutoReply{}.Validate())
	require.Equal(t, []string{"text"}, fieldsOf(t, domain.AutoReply{Enabled: true, Text: "  "}.Validate()))
	require.Equal(t, []string{"text"}, fieldsOf(t, domain.AutoReply{Text: strings.Repeat("x", 4097)}.Validate()))
}

// FuzzValidateRule: whatever a client sends as a rule, validation answers (never panics),
// and a rule it accepts compiles and matches any text without panicking.
func FuzzValidateRule(f *testing.F) {
	f.Add("regex", `^order\s*#?\d+$`, "order 123", "reply_text", "hi")
	f.Add("regex", `(a+)+\1`, "aaaa", "add_tag", "x")
	f.Add("contains", "PRICE", "what is the price?", "reply_template", `{"name":"p","language":"en"}`)
	f.Add("exact", "", "", "set_attribute", "k")
	f.Add("regex", `[[:alpha:]]{2,5}|(?i)É`, "éÉ", "assign", "")
	f.Fuzz(func(t *testing.T, match, keyword, text, action, arg string) {
		a := domain.Action{Type: domain.ActionType(action), Text: arg, Tag: arg, Key: arg, Value: arg, Template: json.RawMessage(arg)}
		if action == "assign" {
			id := domain.NewID()
			a.UserID = &id
		}
		r, err := domain.ValidateRule(domain.Rule{Name: "fuzz", Match: domain.MatchKind(match), Keywords: []string{keyword},
			Actions: []domain.Action{a}})
		if err != nil {
			if !domain.IsKind(err, domain.KindValidation) {
				t.Fatalf("not a validation error: %v", err)
			}
			return
		}
		if r.Match == domain.MatchRegex && domain.CheckRegex(keyword) != "" {
			t.Fatalf("accepted a refused regex %q", keyword)
		}
		m, err := domain.CompileRule(r)
		if err != nil {
			t.Fatalf("a valid rule does not compile: %v", err)
		}
		r.Enabled = true
		m.Rule.Enabled = true
		_ = domain.FirstMatch([]*domain.Matcher{m}, text)
	})
}

func mustID(s string) domain.ID {
	id, err := domain.ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}
