package phone_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/phone"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+14155550100":      "+14155550100",
		"+1 (415) 555-0100": "+14155550100",
		"1-415-555-0100":    "+14155550100",
		"14155550100":       "+14155550100",
		" +91 98123 45678 ": "+919812345678",
		"919812345678":      "+919812345678",
		"0044 20 7946 0958": "+442079460958",
	} {
		got, err := phone.Normalize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "abc", "+1", "12345", "+999 1234 5678", "+1 415 555 0100 ext 9999999999999999999999999999999"} {
		_, err := phone.Normalize(in)
		require.ErrorIs(t, err, phone.ErrInvalid, in)
	}
}

func TestMarket(t *testing.T) {
	for in, want := range map[string]string{
		"+14155550100": "US", "14165550100": "CA", "+919812345678": "IN", "+447400123456": "GB",
		"+5511987654321": "BR", "+4915112345678": "DE", "+77011234567": "KZ", "": "", "+1": "", "garbage": "",
	} {
		if got := phone.Market(in); got != want {
			t.Errorf("Market(%q) = %q, want %q", in, got, want)
		}
	}
}
