package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestTruncateRunes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ab", domain.TruncateRunes("abc", 2))
	require.Equal(t, "日本", domain.TruncateRunes("日本語", 2), "never inside a character")
	require.Equal(t, "abc", domain.TruncateRunes("abc", 3))
}

func TestOptedOutThemselves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    domain.Contact
		want bool
	}{
		{"subscribed", domain.Contact{}, false},
		{"keyword", domain.Contact{OptedOut: true, OptOutSource: domain.OptOutKeyword}, true},
		{"api", domain.Contact{OptedOut: true, OptOutSource: domain.OptOutAPI}, false},
		{"api, and Meta's marketing stop", domain.Contact{OptedOut: true, OptOutSource: domain.OptOutAPI, MarketingOptedOut: true}, false},
		{"Meta's marketing stop", domain.Contact{MarketingOptedOut: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.c.OptedOutThemselves())
			require.Equal(t, domain.Suppression{OptedOut: tc.c.OptedOut, MarketingOptedOut: tc.c.MarketingOptedOut}, tc.c.Suppression())
		})
	}
}

func TestSuppressionRefuses(t *testing.T) {
	t.Parallel()
	none, out, mkt := domain.Suppression{}, domain.Suppression{OptedOut: true}, domain.Suppression{MarketingOptedOut: true}
	for _, tc := range []struct {
		s         domain.Suppression
		p         domain.MessagePurpose
		marketing bool
		want      domain.Refusal
	}{
		{none, domain.PurposeConversation, true, ""},
		{out, domain.PurposeConversation, false, domain.RefusedOptedOut},
		{out, domain.PurposeOptInConfirmation, false, domain.RefusedOptedOut},
		{out, domain.PurposeOptOutConfirmation, false, ""},
		{mkt, domain.PurposeConversation, false, ""},
		{mkt, domain.PurposeConversation, true, domain.RefusedMarketingOptedOut},
		{domain.Suppression{OptedOut: true, MarketingOptedOut: true}, domain.PurposeConversation, true, domain.RefusedOptedOut},
	} {
		require.Equal(t, tc.want, tc.s.Refuses(tc.p, tc.marketing), "%+v %s marketing=%v", tc.s, tc.p, tc.marketing)
	}
	require.True(t, domain.IsMarketing("marketing"))
	require.False(t, domain.IsMarketing("UTILITY"))
	require.False(t, domain.IsMarketing(""))
}
