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
