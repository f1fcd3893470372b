package domain

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds of the messaging settings (API.md, Templates).
const (
	MaxMarketingPerDay  = 100
	MaxMarketingPerWeek = 1000
	MaxKeywords         = 50
	MaxKeywordRunes     = 30
)

// NormalizeMessagingSettings checks s and returns it with its keywords trimmed,
// upper-cased (the form inbound texts are matched in) and without repeats: caps 0 to 100 a
// day and 0 to 1000 a week, the week's at least the day's; at most 50 keywords a list, each
// 1 to 30 characters; no keyword in both lists; campaign retry days 0 to 3.
func NormalizeMessagingSettings(s MessagingSettings) (MessagingSettings, error) {
	var v Validator
	v.Check(s.CampaignRetryDays >= 0 && s.CampaignRetryDays <= MaxCampaignRetryDays, "campaign_retry_days", "must be between 0 and 3")
	v.Check(s.MarketingPerContactPerDay >= 0 && s.MarketingPerContactPerDay <= MaxMarketingPerDay,
		"marketing_per_contact_per_day", "must be between 0 and 100")
	v.Check(s.MarketingPerContactPerWeek >= 0 && s.MarketingPerContactPerWeek <= MaxMarketingPerWeek,
		"marketing_per_contact_per_week", "must be between 0 and 1000")
	v.Check(s.MarketingPerContactPerWeek >= s.MarketingPerContactPerDay,
		"marketing_per_contact_per_week", "must be at least marketing_per_contact_per_day")
	s.OptOutKeywords = normalizeKeywords(&v, "opt_out_keywords", s.OptOutKeywords)
	s.OptInKeywords = normalizeKeywords(&v, "opt_in_keywords", s.OptInKeywords)
	for _, k := range s.OptInKeywords {
		if slices.Contains(s.OptOutKeywords, k) {
			v.Add("opt_in_keywords", "must not repeat an opt-out keyword: "+k)
		}
	}
	return s, v.Err()
}

func normalizeKeywords(v *Validator, field string, in []string) []string {
	out := []string{}
	if len(in) > MaxKeywords {
		v.Add(field, "must hold at most 50 keywords")
		return out
	}
	for _, k := range in {
		k = strings.ToUpper(strings.TrimSpace(k))
		if n := utf8.RuneCountInString(k); n == 0 || n > MaxKeywordRunes {
			v.Add(field, "each keyword must be 1 to 30 characters")
			continue
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
